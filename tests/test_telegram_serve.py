"""The real ``python -m bot serve`` process against the fake Bot API: long polling and webhook."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest
import yaml

from bot_process import ROOT, stop
from bot_process import start_serve as _start
from fake_bot_api import TOKEN, USER, FakeBotApi, telegram_html_to_text

pytestmark = pytest.mark.slow  # `python -m bot serve` processes

QUESTION = "Ai là Bí thư Thành ủy Hà Nội dự Đại hội Đảng bộ khối lần thứ XIII?"


def start_serve(api: FakeBotApi, settings, *extra: str, env: dict | None = None, lang: str = "en"):
    return _start(api, settings.corpus, settings.index_dir, *extra, env=env, lang=lang)


def test_serve_says_what_it_does_in_the_run_language(shipped):
    settings, _ = shipped
    with FakeBotApi() as api:
        process = start_serve(api, settings, lang="vi")
        try:
            api.wait_for("getUpdates", timeout=40)
        finally:
            out, err = stop(process)
    assert process.returncode == 0, err
    assert "đang khởi động bot Telegram (Bot API: 127.0.0.1:" in out
    assert "đã kết nối với tên @TinTucBot (long polling); bấm Ctrl+C để dừng" in out
    assert "starting the Telegram bot" not in out + err and "connected as" not in out + err


def test_serve_answers_a_private_message_over_long_polling(shipped):
    settings, index = shipped
    with FakeBotApi() as api:
        process = start_serve(api, settings)
        try:
            api.wait_for("getUpdates", timeout=40)
            api.send(QUESTION)
            reply = api.wait_for("sendMessage", timeout=10)[0]
        finally:
            out, err = stop(process)
    assert process.returncode == 0, err
    assert int(reply.params["chat_id"]) == USER["id"]
    plain = telegram_html_to_text(reply.params["text"])
    assert plain.startswith(f"Kết quả cho: {QUESTION}")
    assert "Vương Đình Huệ" in plain and "Kinh tế và Đô thị, 04/08/2020" in plain
    assert f"index loaded: {len(index.articles)} articles, {index.n_passages} passages" in out
    assert "connected as @TinTucBot (long polling)" in out
    assert TOKEN not in out + err  # verbose logging, still no token
    assert {c.method for c in api.calls} >= {"getMe", "setMyCommands", "deleteWebhook", "getUpdates", "sendChatAction"}


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_serve_in_webhook_mode(shipped, tmp_path):
    settings, _ = shipped
    config = yaml.safe_load((ROOT / "config" / "settings.yaml").read_text(encoding="utf-8"))
    port = _free_port()
    config["telegram"].update(
        mode="webhook",
        webhook={
            "url": "https://bot.example.org/hook",
            "listen": "127.0.0.1",
            "port": port,
            "path": "hook",
        },
    )
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "settings.yaml").write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    with FakeBotApi() as api:
        process = start_serve(
            api,
            settings,
            "--config",
            str(tmp_path / "config" / "settings.yaml"),
            env={"TELEGRAM_WEBHOOK_SECRET": "s3cret-value"},
        )
        try:
            registered = api.wait_for("setWebhook", timeout=40)[0]
            update = {"update_id": 1, "message": api.message(QUESTION)}
            request = urllib.request.Request(
                f"http://127.0.0.1:{port}/hook",
                data=json.dumps(update).encode(),
                method="POST",
                headers={"Content-Type": "application/json", "X-Telegram-Bot-Api-Secret-Token": "s3cret-value"},
            )
            for _ in range(50):  # the webhook server starts right after setWebhook
                try:
                    with urllib.request.urlopen(request, timeout=5) as response:
                        assert response.status == 200
                    break
                except ConnectionRefusedError:
                    pass
                except urllib.error.URLError as exc:
                    if not isinstance(exc.reason, ConnectionRefusedError):
                        raise
                time.sleep(0.1)
            reply = api.wait_for("sendMessage", timeout=10)[0]
        finally:
            out, err = stop(process)
    assert process.returncode == 0, err
    assert registered.params["url"] == "https://bot.example.org/hook"
    assert registered.params["secret_token"] == "s3cret-value"
    assert telegram_html_to_text(reply.params["text"]).startswith(f"Kết quả cho: {QUESTION}")
    assert "connected as @TinTucBot (webhook)" in out


def test_serve_without_a_token_explains_what_to_do(tmp_path):
    environment = {k: v for k, v in os.environ.items() if k != "TELEGRAM_BOT_TOKEN"}
    for lang, expected in (("en", "TELEGRAM_BOT_TOKEN is not set"), ("vi", "Chưa đặt TELEGRAM_BOT_TOKEN")):
        result = subprocess.run(
            [sys.executable, "-m", "bot", "serve", "--lang", lang],
            cwd=ROOT,
            env=environment,
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert result.returncode == 2
        assert expected in result.stderr and "'python -m bot chat'" in result.stderr
        assert len(result.stderr.splitlines()) == 1
