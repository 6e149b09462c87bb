"""The real ``python -m bot serve`` under a burst of questions from many chats, with 429
RetryAfter answers now and then: nothing lost, no errors, Telegram's per-chat limits kept.

Quick in CI: 100 questions from 20 chats. RELIABILITY_FULL=1: 1,000 questions from 100 chats
(80 private chats, 18 quiet groups and 2 busy ones asking past the 20-a-minute limit)."""

from __future__ import annotations

import signal

import pytest

from bot.answer.compose import answer_question
from bot_process import peak_memory_mb, start_serve, stop
from fake_bot_api import FakeBotApi
from figures import FULL, report
from load_burst import QUESTIONS as POOL
from load_burst import plan, run_burst, table

pytestmark = pytest.mark.slow  # a `python -m bot serve` process under a burst of questions

if FULL:
    QUESTIONS, PRIVATE, GROUPS, FLOOD_EVERY, TIMEOUT = 1000, 80, [5] * 18 + [25, 25], 50, 420
else:
    QUESTIONS, PRIVATE, GROUPS, FLOOD_EVERY, TIMEOUT = 100, 16, [5, 5, 5, 5], 25, 120


def test_burst_from_many_chats_is_answered_within_telegram_limits(shipped, tmp_path):
    settings, _ = shipped
    asked = plan(QUESTIONS, PRIVATE, GROUPS)
    log = tmp_path / "bot.log"
    with FakeBotApi() as api, open(log, "w", encoding="utf-8") as sink:
        api.flood_every(FLOOD_EVERY, retry_after=1)
        process = start_serve(api, settings.corpus, settings.index_dir, stdout=sink, stderr=sink)
        try:
            api.wait_for("getUpdates", timeout=60)
            figures = run_burst(api, asked, press_share=0.1, timeout=TIMEOUT)
            memory = peak_memory_mb(process.pid)
        finally:
            stop(process, signal.SIGTERM, timeout=30)
    output = log.read_text(encoding="utf-8")
    rows = table(figures) + [("peak memory of the bot process (VmHWM)", f"{memory:.0f} MB")]
    report("load", rows)
    print("\n".join(f"{name}: {value}" for name, value in rows))
    assert process.returncode == 0, output[-3000:]
    assert figures.lost == 0 and figures.duplicates == 0, figures.problems[:10]
    assert figures.errors == 0, figures.problems[:10]
    assert figures.retry_after_sent > 0  # the retries were really exercised
    assert figures.presses > 0 and figures.presses_answered == figures.presses
    assert "failed to handle an update" not in output and "Traceback" not in output
    assert figures.max_private_per_3s <= 3  # about one a second, in bursts of at most three
    assert figures.max_group_per_minute <= 20


def test_the_burst_questions_have_answers(shipped):
    """The driver tells a private chat's replies apart by their header: every question must get one."""
    settings, index = shipped
    assert [answer_question(index, q, settings).status for q in POOL] == ["ok"] * len(POOL)
