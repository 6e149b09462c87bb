"""The real ``python -m bot serve`` against a fake Bot API that behaves like Telegram (offsets
confirm and forget updates; answers to button presses and inline queries older than
``query_ttl`` are refused): fair scheduling under floods, nothing lost or answered twice
across SIGKILL and SIGTERM, a revoked token, HTML error pages, unreadable updates, presses
on deleted messages and an index file truncated under the running bot."""

from __future__ import annotations

import os
import signal
import time

import pytest
import yaml

from bot.index.storage import current_version
from bot_process import ROOT, start_serve, stop
from fake_bot_api import TOKEN, USER, FakeBotApi, telegram_html_to_text
from figures import FULL, report
from load_burst import MESSAGES, QUESTIONS, Asked, plan, run_burst, table

pytestmark = pytest.mark.slow  # `python -m bot serve` processes

QUESTION = "Ai là Bí thư Thành ủy Hà Nội dự Đại hội Đảng bộ khối lần thứ XIII?"


def _user(n: int) -> dict:
    return {"id": 400_000 + n, "is_bot": False, "first_name": f"Độc giả {n}", "language_code": "vi"}


def _to(chat_id: int):
    return lambda params: int(params["chat_id"]) == chat_id


def _config(tmp_path, **telegram) -> str:
    config = yaml.safe_load((ROOT / "config" / "settings.yaml").read_text(encoding="utf-8"))
    config["telegram"].update(telegram)
    path = tmp_path / "settings.yaml"
    path.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    return str(path)


def _texts(api: FakeBotApi, chat_id: int) -> list[str]:
    return [telegram_html_to_text(c.params["text"]) for c in api.calls_of("sendMessage") if _to(chat_id)(c.params)]


def test_a_flooding_chat_and_a_flooding_stranger_do_not_hold_the_others(shipped, tmp_path):
    """One allowed chat sends 60 questions and a stranger 40 at once; then 30 other chats ask
    one question each, and some press buttons and send inline queries: each of them is
    answered within 5 s. The flood is capped (25 kept, one notice), the stranger gets one
    "not allowed", and the flooder's answers keep their order and the chat's pace."""
    settings, _ = shipped
    flooder, stranger = _user(0), _user(999)
    others = [_user(n) for n in range(1, 31)]
    allowed = [flooder["id"]] + [u["id"] for u in others]
    config = _config(tmp_path, allowed_chat_ids=allowed)
    log = tmp_path / "bot.log"
    with FakeBotApi(query_ttl=10) as api, open(log, "w", encoding="utf-8") as sink:
        process = start_serve(api, settings.corpus, settings.index_dir, "--config", config, stdout=sink, stderr=sink)
        try:
            api.wait_for("getUpdates", timeout=60)
            for n in range(60):
                api.send(f"{QUESTIONS[n % len(QUESTIONS)]} (câu {n})", user=flooder)
            for _ in range(40):
                api.send(QUESTION, user=stranger)
            time.sleep(1.0)  # the floods are fetched and queued first
            asked = {}
            for user in others:
                api.send(QUESTION, user=user)
                asked[user["id"]] = time.monotonic()
            inline = [api.inline(QUESTION, user=u)["inline_query"]["id"] for u in others[:10]]
            latencies = {}
            for user in others:
                reply = api.wait_for("sendMessage", _to(user["id"]), timeout=30)[0]
                latencies[user["id"]] = reply.at - asked[user["id"]]
            answered_inline = api.wait_for("answerInlineQuery", count=len(inline), timeout=30)
            first = api.wait_for("sendMessage", _to(others[0]["id"]))[0]
            press_at = time.monotonic()
            api.press(
                api.current(first), first.params["reply_markup"]["inline_keyboard"][0][-1]["callback_data"], others[0]
            )
            press = api.wait_for("answerCallbackQuery", timeout=30)[0]
            deadline = time.monotonic() + 60
            while len(_texts(api, flooder["id"])) < 26 and time.monotonic() < deadline:
                time.sleep(0.5)
            time.sleep(1.5)  # nothing more should come
        finally:
            stop(process, signal.SIGTERM, timeout=30)
    output = log.read_text(encoding="utf-8")
    flood = _texts(api, flooder["id"])
    notice = MESSAGES.get("too_many_questions")
    answers = [t for t in flood if t != notice]
    numbers = [int(t.split("(câu ")[1].split(")")[0]) for t in answers if "(câu " in t]  # others: "no answer"
    worst = max(latencies.values())
    report(
        "flood",
        [
            ("one chat floods 60 questions, a stranger 40: other chats' first answer, slowest", f"{worst:.1f} s"),
            (
                "flooding chat: answers kept / notices / dropped",
                f"{len(answers)} / {flood.count(notice)} / {60 - len(answers)}",
            ),
            ("stranger: replies to 40 messages", str(len(_texts(api, stranger["id"])))),
        ],
    )
    assert process.returncode == 0, output[-3000:]
    assert worst < 5, latencies
    assert all(c.error is None for c in answered_inline) and press.error is None
    assert press.at - press_at < 5
    assert flood.count(notice) == 1 and len(answers) == 25 and numbers == sorted(numbers)
    assert len(numbers) >= 20 and numbers[-1] <= 24  # the first 25, in order
    assert _texts(api, stranger["id"]) == [MESSAGES.get("not_allowed")]
    times = sorted(c.at for c in api.calls_of("sendMessage") if _to(flooder["id"])(c.params))
    assert all(b - a >= 0.85 for a, b in zip(times, times[3:]))  # never more than 3 in any ~3 s
    assert "Traceback" not in output


if FULL:
    BURST = (1750, 180, [5] * 18 + [25, 25], 100, 0.1, 420)  # 1,750 + ~150 presses + 100 inline: ~2,000 updates
else:
    BURST = (200, 36, [5, 5, 5, 5], 20, 0.15, 150)


def test_burst_with_presses_and_inline_queries_within_telegrams_windows(shipped, tmp_path):
    """Questions from many chats, button presses and inline queries, all at once: nothing lost
    or answered twice, every press and inline query answered inside Telegram's window (10 s
    here), every chat's pace kept."""
    settings, _ = shipped
    questions, private, groups, inline, press_share, timeout = BURST
    asked = plan(questions, private, groups, seed=3)
    log = tmp_path / "bot.log"
    with FakeBotApi(query_ttl=10) as api, open(log, "w", encoding="utf-8") as sink:
        api.flood_every(50, retry_after=1)
        process = start_serve(api, settings.corpus, settings.index_dir, stdout=sink, stderr=sink)
        try:
            api.wait_for("getUpdates", timeout=60)
            figures = run_burst(api, asked, press_share=press_share, timeout=timeout, inline=inline)
        finally:
            stop(process, signal.SIGTERM, timeout=30)
    output = log.read_text(encoding="utf-8")
    rows = [("updates (questions + presses + inline queries)", str(figures.questions + figures.presses + inline))]
    report("burst", rows + table(figures))
    assert process.returncode == 0, output[-3000:]
    assert figures.lost == 0 and figures.duplicates == 0, figures.problems[:10]
    assert figures.errors == 0, figures.problems[:10]  # a late answer to a query would be refused: an error
    assert figures.presses > 0 and figures.presses_answered == figures.presses
    assert figures.inline_answered == inline
    assert figures.press_answer_max_ms < 10_000 and figures.inline_answer_max_ms < 10_000
    assert figures.max_private_per_3s <= 3 and figures.max_group_per_minute <= 20
    assert "Traceback" not in output


CRASH = (1000, 100, [5] * 10, 300) if FULL else (200, 30, [5, 5], 150)


def test_sigkill_halfway_then_restart_loses_nothing_and_answers_nothing_twice(shipped, tmp_path):
    settings, _ = shipped
    questions, private, groups, timeout = CRASH
    asked = plan(questions, private, groups, seed=4)
    inbox = tmp_path / "inbox.sqlite"
    log = tmp_path / "bot.log"
    state = {"killed_at": None, "restarted": None}
    with FakeBotApi() as api, open(log, "w", encoding="utf-8") as sink:
        processes = [start_serve(api, settings.corpus, settings.index_dir, stdout=sink, stderr=sink, inbox=inbox)]

        def progress(answered: int) -> None:
            if state["killed_at"] is None and answered >= len(asked) // 2:
                processes[0].send_signal(signal.SIGKILL)
                processes[0].wait(10)
                state["killed_at"] = answered
                processes.append(
                    start_serve(api, settings.corpus, settings.index_dir, stdout=sink, stderr=sink, inbox=inbox)
                )
                state["restarted"] = time.monotonic()

        try:
            api.wait_for("getUpdates", timeout=60)
            figures = run_burst(api, asked, press_share=0, timeout=timeout, progress=progress)
        finally:
            for process in processes:
                stop(process, signal.SIGTERM, timeout=30)
    output = log.read_text(encoding="utf-8")
    report(
        "crash",
        [
            (
                "SIGKILL halfway through a burst, then a restart: questions / answered before the kill / lost / answered twice",
                f"{figures.questions} / {state['killed_at']} / {figures.lost} / {figures.duplicates}",
            )
        ],
    )
    assert processes[0].returncode == -signal.SIGKILL and state["killed_at"] is not None
    assert processes[1].returncode == 0, output[-3000:]
    assert figures.lost == 0 and figures.duplicates == 0, (state, figures.problems[:10])
    assert figures.errors == 0, figures.problems[:10]
    assert "answering" in output and "left in the inbox" in output


def test_sigterm_stops_in_seconds_and_a_second_one_at_once_losing_nothing(shipped, tmp_path):
    """Two private chats ask 12 questions each (about 12 s of pace). SIGTERM after a few
    answers: the bot exits within the grace; what it did not answer is answered after a
    restart, once. Then, with an answer in flight for 3 s, a second SIGTERM 0.2 s after the
    first: the bot exits at once, and that answer is not sent again by the last restart."""
    settings, _ = shipped
    inbox = tmp_path / "inbox.sqlite"
    users = [_user(1), _user(2)]
    asked = [
        Asked({"id": u["id"], "type": "private", "first_name": u["first_name"]}, u, q)
        for u in users
        for q in QUESTIONS[:12]
    ]
    late = Asked({"id": _user(3)["id"], "type": "private", "first_name": "?"}, _user(3), QUESTIONS[0])
    exits = []
    with FakeBotApi() as api:
        for signals in (1, 2, 0):
            polls, sent = len(api.calls_of("getUpdates")), len(api.calls_of("sendMessage"))
            log = tmp_path / f"bot-{signals}.log"
            sink = open(log, "w", encoding="utf-8")  # noqa: SIM115 - closed below, read while the bot runs
            process = start_serve(api, settings.corpus, settings.index_dir, inbox=inbox, stdout=sink, stderr=sink)
            api.wait_for("getUpdates", count=polls + 1, timeout=60)  # this process polls
            if signals == 1:
                for item in asked:
                    api.send(item.question, user=item.user)
            deadline = time.monotonic() + 10
            while len(api.calls_of("sendMessage")) < sent + 3 and time.monotonic() < deadline:
                time.sleep(0.05)
            if not signals:
                sink.close()
                break
            if signals == 2:  # an answer in flight (3 s): the first SIGTERM would wait for it
                api.delay("sendMessage", 3.0)
                api.send(late.question, user=late.user)
                api.wait_for("sendChatAction", _to(late.user["id"]), timeout=10)
                time.sleep(0.3)
            started = time.monotonic()
            process.send_signal(signal.SIGTERM)
            if signals == 2:  # once the first stop has begun
                deadline = time.monotonic() + 2
                while "stopping" not in log.read_text(encoding="utf-8") and time.monotonic() < deadline:
                    time.sleep(0.02)
                process.send_signal(signal.SIGTERM)
            stop(process, signal.SIGTERM, timeout=30)
            sink.close()
            exits.append((process.returncode, time.monotonic() - started, log.read_text(encoding="utf-8")))
            api.delay("sendMessage", 0)
        deadline = time.monotonic() + 40
        while len(api.calls_of("sendMessage")) < len(asked) + 1 and time.monotonic() < deadline:
            time.sleep(0.2)
        time.sleep(1.0)
        stop(process, signal.SIGTERM, timeout=30)
    texts = [
        (int(c.params["chat_id"]), telegram_html_to_text(c.params["text"]).splitlines()[0])
        for c in api.calls_of("sendMessage")
    ]
    expected = sorted((item.chat["id"], f"Kết quả cho: {item.question}") for item in [*asked, late])
    report(
        "stop",
        [
            ("SIGTERM with a backlog: exit code / exit time", f"{exits[0][0]} / {exits[0][1]:.1f} s"),
            ("a second SIGTERM: exit code / exit time", f"{exits[1][0]} / {exits[1][1]:.1f} s"),
            (
                "questions asked / answered after the restarts / answered twice",
                f"{len(asked) + 1} / {len(set(texts))} / {len(texts) - len(set(texts))}",
            ),
        ],
    )
    assert exits[0][0] == 0 and exits[0][1] < 8, exits[0][2][-2000:]
    assert exits[1][0] == 0 and exits[1][1] < 2, exits[1][2][-2000:]
    assert "stopping" in exits[0][2], exits[0][2][-3000:]
    assert "second stop signal" in exits[1][2], exits[1][2][-3000:]
    assert sorted(texts) == expected  # every question once, none twice


def test_revoked_token_ends_the_process_with_one_clear_line(shipped):
    settings, _ = shipped
    with FakeBotApi() as api:
        process = start_serve(api, settings.corpus, settings.index_dir)
        try:
            api.wait_for("getUpdates", timeout=60)
            api.send(QUESTION)
            api.wait_for("sendMessage", _to(USER["id"]))
            api.revoke_token()
            revoked = time.monotonic()
            out, err = process.communicate(timeout=30)
            ended = time.monotonic()
        finally:
            stop(process, signal.SIGKILL)
    report(
        "token",
        [("token revoked while running: exit code / exit time", f"{process.returncode} / {ended - revoked:.1f} s")],
    )
    assert process.returncode == 2, err
    assert ended - revoked < 10
    lines = [line for line in err.splitlines() if "refused the token" in line]
    assert len(lines) == 1 and lines[0].startswith("error: ") and "TELEGRAM_BOT_TOKEN" in lines[0]
    assert "Traceback" not in err and TOKEN.split(":")[1].lower() not in (out + err).lower()


def test_html_error_pages_unreadable_updates_and_deleted_messages(shipped):
    """A proxy answers HTML 502 pages for 4 s: one warning line for the outage, no traceback.
    An update the library cannot read: one line, polling goes on. A "more" press on a message
    that was deleted: no traceback, no apology."""
    settings, _ = shipped
    with FakeBotApi() as api:
        process = start_serve(api, settings.corpus, settings.index_dir)
        try:
            api.wait_for("getUpdates", timeout=60)
            api.outage(502, html=True)
            time.sleep(4)
            api.outage(None)
            failed = [c for c in api.calls_of("getUpdates") if c.error]
            api.push(message={"message_id": "x", "date": "hôm qua", "chat": "không phải một chat", "text": 5})
            api.push(callback_query={"id": "77", "from": "?", "data": 3})
            api.send(QUESTION)
            answer = api.wait_for("sendMessage", _to(USER["id"]), timeout=30)[0]
            more = answer.params["reply_markup"]["inline_keyboard"][0][-1]["callback_data"]
            shown = api.current(answer)
            api.delete_message(USER["id"], shown["message_id"])
            api.press(shown, more)
            api.wait_for("answerCallbackQuery", timeout=10)
            time.sleep(1.0)
        finally:
            out, err = stop(process)
    assert process.returncode == 0, err
    assert len(failed) >= 2
    assert err.count("Bot API unreachable") == 1 and err.count("reachable again") == 1
    assert err.count("unreadable update") == 2
    assert "Traceback" not in err and "failed to handle" not in err
    assert "<html" not in err.lower()
    assert len(api.calls_of("sendMessage")) == 1  # no apology
    assert "message that is gone" in err


def test_truncated_live_index_file_does_not_kill_the_bot(own):
    """A mapped index file truncated in place under the running bot (an index copied over the
    live folder): the bot says it is rebuilding, logs one line, rebuilds and answers."""
    settings = own
    corpus = settings.corpus
    with FakeBotApi() as api:
        process = start_serve(api, corpus, settings.index_dir)
        try:
            api.wait_for("getUpdates", timeout=60)
            api.send(QUESTION)
            api.wait_for("sendMessage", _to(USER["id"]))
            for path in current_version(settings.index_dir).glob("*.npy"):
                os.truncate(path, 16)  # every array, mapped ones included
            answers = []
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and process.poll() is None:
                api.send(QUESTION)
                reply = api.wait_for("sendMessage", _to(USER["id"]), count=len(answers) + 2, timeout=30)[-1]
                answers.append(telegram_html_to_text(reply.params["text"]))
                if "Vương Đình Huệ" in answers[-1]:
                    break
                time.sleep(0.5)
            alive = process.poll() is None
        finally:
            out, err = stop(process)
    report(
        "damaged_live_index",
        [("index arrays truncated under the running bot: alive / replies until answered", f"{alive} / {len(answers)}")],
    )
    assert alive and process.returncode == 0, err[-3000:]
    assert answers[0] == MESSAGES.get("index_rebuilding")
    assert "Vương Đình Huệ" in answers[-1]
    assert err.count("index changed under the bot") == 1
    assert "Traceback" not in err
