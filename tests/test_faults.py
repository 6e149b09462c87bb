"""Faults around the real ``python -m bot serve`` process: a damaged index at start-up and at
/reload, SIGTERM while answers are in flight, and the Bot API failing (5xx, gone) for a while.
Pending: SIGKILL during ``add`` (the ``add`` command is being built; see docs/reliability.md)."""

from __future__ import annotations

import os
import signal
import time

import pytest
import yaml

from bot.index.storage import current_version
from bot_process import ROOT, start_serve, stop
from fake_bot_api import ADMIN, TOKEN, USER, FakeBotApi, telegram_html_to_text
from figures import report
from load_burst import MESSAGES

pytestmark = pytest.mark.slow  # `python -m bot serve` processes, outages of seconds

QUESTION = "Ai là Bí thư Thành ủy Hà Nội dự Đại hội Đảng bộ khối lần thứ XIII?"


def _to(chat_id: int):
    return lambda params: int(params["chat_id"]) == chat_id


def _admin_config(tmp_path) -> str:
    config = yaml.safe_load((ROOT / "config" / "settings.yaml").read_text(encoding="utf-8"))
    config["telegram"]["admin_user_ids"] = [ADMIN["id"]]
    path = tmp_path / "settings.yaml"
    path.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    return str(path)


def _flip_last_byte(path) -> None:
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF
    path.write_bytes(bytes(data))


def test_damaged_index_is_rebuilt_at_start_up_and_at_reload(own, shipped, tmp_path):
    settings, (_, index) = own, shipped
    corpus = settings.corpus
    os.truncate(next(current_version(settings.index_dir).glob("*.passages.txt")), 10)
    with FakeBotApi() as api:
        process = start_serve(api, corpus, settings.index_dir, "--config", _admin_config(tmp_path))
        try:
            api.wait_for("getUpdates", timeout=60)
            api.send(QUESTION)
            first = telegram_html_to_text(api.wait_for("sendMessage", _to(USER["id"]))[0].params["text"])
            _flip_last_byte(next(current_version(settings.index_dir).glob("*.post_tf.npy")))  # under the running bot
            api.send("/reload", user=ADMIN)
            reloaded = telegram_html_to_text(
                api.wait_for("sendMessage", _to(ADMIN["id"]), timeout=60)[0].params["text"]
            )
            api.send(QUESTION)
            second = telegram_html_to_text(api.wait_for("sendMessage", _to(USER["id"]), count=2)[1].params["text"])
        finally:
            out, err = stop(process)
    assert process.returncode == 0, err
    assert "index unusable, rebuilding" in err and "truncated" in err  # the start-up log line
    assert "index rebuilt: 5 articles" in out
    assert "Vương Đình Huệ" in first and "Vương Đình Huệ" in second
    assert err.count("index unusable, rebuilding") == 2 and "checksum" in err  # the /reload log line
    assert reloaded.startswith(MESSAGES.get("reload_done", articles=5, passages=index.n_passages))
    assert MESSAGES.get("reload_rebuilt") in reloaded
    assert "Traceback" not in err


def test_sigterm_sends_the_answers_in_flight_then_exits_cleanly(shipped):
    settings, _ = shipped
    users = [dict(USER, id=USER["id"] + n, first_name=f"U{n}") for n in range(3)]
    with FakeBotApi() as api:
        process = start_serve(api, settings.corpus, settings.index_dir)
        try:
            api.wait_for("getUpdates", timeout=60)
            api.delay("sendMessage", 2.0)  # answers take a while to reach Telegram
            for user in users:
                api.send(QUESTION, user=user)
            api.wait_for("sendChatAction", count=len(users))
            time.sleep(0.5)  # the answers are composed and on their way
            assert not api.calls_of("sendMessage")
            signalled = time.monotonic()
            out, err = stop(process, signal.SIGTERM, timeout=30)
            stopped = time.monotonic()
        finally:
            if process.poll() is None:
                stop(process)
    replies = api.calls_of("sendMessage")
    assert process.returncode == 0, err
    assert sorted(int(r.params["chat_id"]) for r in replies) == sorted(u["id"] for u in users)
    assert all(r.error is None and r.at < signalled < r.done for r in replies)  # in flight when the signal came
    assert all("Vương Đình Huệ" in telegram_html_to_text(r.params["text"]) for r in replies)
    assert "Traceback" not in err
    report(
        "sigterm",
        [
            (
                "SIGTERM with answers in flight: sent / exit code / exit time",
                f"{len(replies)} of {len(users)} / {process.returncode} / {stopped - signalled:.1f} s",
            )
        ],
    )


def test_bot_api_outage_and_unreachable_server_are_survived(shipped):
    settings, _ = shipped
    with FakeBotApi() as api:
        process = start_serve(api, settings.corpus, settings.index_dir)
        try:
            api.wait_for("getUpdates", timeout=60)
            api.fail_next("sendMessage", 400, "Bad Request: chat not found (POST {path})")  # a 4xx echoing the URL
            api.send(QUESTION)
            apology = api.wait_for("sendMessage", _to(USER["id"]))[0]
            api.outage(502)
            time.sleep(4)
            api.outage(None)
            ended = time.monotonic()
            failed = [c for c in api.calls_of("getUpdates") if c.error]
            api.send(QUESTION)
            after_5xx = api.wait_for("sendMessage", _to(USER["id"]), count=2, timeout=40)[1]
            recovered_5xx = after_5xx.at - ended
            api.go_down()
            time.sleep(4)
            api.come_back()
            ended = time.monotonic()
            api.send(QUESTION)
            after_down = api.wait_for("sendMessage", _to(USER["id"]), count=3, timeout=40)[2]
            recovered_down = after_down.at - ended
        finally:
            out, err = stop(process)
    assert process.returncode == 0, err
    assert telegram_html_to_text(apology.params["text"]) == MESSAGES.get("error")
    assert 2 <= len(failed) <= 8  # retried, with a growing pause (1 s, 1.5 s, 2.3 s, …), not hammering
    for reply in (after_5xx, after_down):
        assert "Vương Đình Huệ" in telegram_html_to_text(reply.params["text"])
    assert f"/bot{TOKEN}/" in failed[0].error  # the server did echo the token…
    assert TOKEN.lower() not in (out + err).lower()  # …and the bot never repeated it, in any case
    assert "/bot<token>/sendmessage" in err.lower() and "/bot<token>/getupdates" in err.lower()
    assert "Bot API unreachable, retrying" in err and err.count("Traceback") == 1  # the 4xx; polls: one line each
    report(
        "outage",
        [
            (
                "Bot API answering 502 for 4 s: failed polls / answer after recovery",
                f"{len(failed)} / {recovered_5xx:.1f} s",
            ),
            ("Bot API unreachable for 4 s: answer after recovery", f"{recovered_down:.1f} s"),
            (
                "token in the bot's output (server echoed it in 4xx and 5xx errors)",
                str((out + err).lower().count(TOKEN.lower())),
            ),
        ],
    )
