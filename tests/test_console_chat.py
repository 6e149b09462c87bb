"""The console chat, driven through standard input like a user without a Telegram token."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from bot.answer.compose import answer_question
from bot.frontends.messages import load_messages

pytestmark = pytest.mark.slow  # a `python -m bot` process

ROOT = Path(__file__).resolve().parent.parent
MESSAGES = load_messages()


def test_no_command_without_token_opens_the_console_chat(shipped, tmp_path):
    settings, index = shipped
    config = yaml.safe_load((ROOT / "config" / "settings.yaml").read_text(encoding="utf-8"))
    config.update(corpus=str(settings.corpus), index_dir=str(settings.index_dir))
    (tmp_path / "settings.yaml").write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    environment = {k: v for k, v in os.environ.items() if k != "TELEGRAM_BOT_TOKEN"}
    environment["BOT_CONFIG"] = str(tmp_path / "settings.yaml")
    question = "ket nap bao nhieu dang vien"
    result = subprocess.run(
        [sys.executable, "-m", "bot"],
        cwd=tmp_path,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        input=f"{question}\n/more\n/sources ha noi\n/source\n/quit\nnot read\n",
    )
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert MESSAGES.get("console_telegram_hint") in out
    expected = answer_question(index, question, settings)
    assert f"Kết quả cho: {expected.question}" in out
    for r in expected.results:
        assert f"{r.rank}. {r.title} — {r.source or MESSAGES.get('unknown_source')}, {r.date:%d/%m/%Y}" in out
    following = answer_question(index, question, settings, offset=settings.answer.top_k)
    assert f"{following.results[0].rank}. {following.results[0].title}" in out
    assert "1 bài khớp với “ha noi”:" in out
    assert MESSAGES.get("source_usage", example=index.articles[0].id) in out
    assert "not read" not in out and "Traceback" not in result.stderr
