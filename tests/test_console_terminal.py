"""The console chat in a pseudo-terminal, typed into as a person does: arrow keys, the history
(kept between runs), bold and wrapped text, /sources a page at a time, unknown commands,
Ctrl-D and Ctrl-C; in Vietnamese and in English. Plus the terminal formatting itself."""

from __future__ import annotations

import io
import os
import re
import sys
import time

import pytest
import yaml

from bot.frontends.cli import notice
from bot.frontends.console import ConsoleState, handle_line
from bot.frontends.messages import load_messages
from bot.frontends.terminal import BOLD, NORMAL, for_terminal
from bot.service import Service
from conftest import PROJECT

pexpect = pytest.importorskip("pexpect")

LEFT, UP = "\x1b[D", "\x1b[A"
WIDTH = 60
ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


# --- the formatting (no terminal needed) ----------------------------------------------------


def test_listed_items_wrap_under_their_text():
    item = "[003] Tiếp tục củng cố, nâng cao chất lượng hoạt động của tổ chức cơ sở Đảng — Thanhuytphcm.vn"
    assert for_terminal(item, 40).split("\n") == [
        "[003] Tiếp tục củng cố, nâng cao chất",
        "      lượng hoạt động của tổ chức cơ sở",
        "      Đảng — Thanhuytphcm.vn",
    ]
    assert for_terminal("» câu trả lời dài hơn một dòng", 16).split("\n") == [
        "» câu trả lời",
        "  dài hơn một",
        "  dòng",
    ]


def test_marks_become_bold_on_a_terminal_and_vanish_elsewhere():
    text = "Bí thư **Vương Đình Huệ** dự đại hội"
    assert for_terminal(text, None) == "Bí thư Vương Đình Huệ dự đại hội"
    assert for_terminal(text, 80) == f"Bí thư {BOLD}Vương Đình Huệ{NORMAL} dự đại hội"


def test_lines_wrap_between_words_and_keep_their_indent():
    text = "nhiệm kỳ 2020-2025 và **các nhiệm vụ trọng tâm** của Đảng bộ khối\n   https://example.org/a-long-link"
    for width in range(12, 40):
        shown = for_terminal(text, width)
        plain = ANSI.sub("", shown)
        assert plain.split() == for_terminal(text, None).split()  # no word cut, none lost
        lines = plain.split("\n")
        assert all(len(line) <= width for line in lines if " " in line.strip())
        assert "2020-2025" in plain and lines[-1] == "   https://example.org/a-long-link"
        assert shown.count(BOLD) == shown.count(NORMAL)


def test_slow_work_says_what_it_does_on_a_terminal_only():
    master, slave = os.openpty()
    with open(slave, "w", encoding="utf-8") as terminal:
        with notice("Đang dựng chỉ mục…", terminal, after=0.05):
            time.sleep(0.5)
        with notice("xong ngay", terminal, after=5):
            pass
    shown = os.read(master, 1000).decode()
    os.close(master)
    assert shown == "\r\x1b[KĐang dựng chỉ mục…\r\n"  # once, and nothing for quick work
    piped = io.StringIO()
    with notice("Building the index…", piped, after=0.0):
        time.sleep(0.1)
    assert piped.getvalue() == ""


# --- the console's replies (the real service over the shipped corpus) -------------------------


@pytest.mark.parametrize("lang", ["vi", "en"])
def test_each_command_gets_its_reply_in_the_run_language(shipped, lang):
    settings, index = shipped
    service, messages, state = Service(settings, index), load_messages(), ConsoleState()

    def say(line: str) -> str | None:
        return handle_line(line, state, service, messages, lang)

    assert say("/help") == messages.get("console_help", lang)
    assert say("/source 999") == messages.get("source_not_found", lang, id="999")
    assert say("/source") == messages.get("source_usage", lang, example=service.example_id())
    assert say("/source 4") == say("/source 004") != say("/source 3")
    assert say("/more") == messages.get("no_more", lang)  # nothing asked yet
    assert say("/foo bar") == messages.get("console_unknown_command", lang, command="/foo")
    assert say("/sources không có bài nào như vậy") == messages.get(
        "sources_none", lang, query="không có bài nào như vậy"
    )
    hint = messages.get("more_results", lang)
    first, second = say("đảng viên chi bộ"), say("/more")
    assert first.endswith(hint) and second.endswith(hint) and first != second  # the hint while more remain
    assert say("/quit") is None and say("/exit") is None


# --- the console in a pseudo-terminal -------------------------------------------------------


@pytest.fixture()
def chat(shipped, tmp_path):
    """Start ``python -m bot chat`` in a pseudo-terminal of WIDTH columns (sources pages of 2)."""
    settings, _ = shipped
    config = yaml.safe_load((PROJECT / "config" / "settings.yaml").read_text(encoding="utf-8"))
    config["telegram"]["sources_page_size"] = 2
    (tmp_path / "settings.yaml").write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k not in ("LANG", "LC_ALL", "LC_MESSAGES", "TELEGRAM_BOT_TOKEN")}
    env.update(XDG_DATA_HOME=str(tmp_path / "data"), PYTHONPATH=str(PROJECT), TERM="xterm")
    children = []

    def start(*extra: str):
        args = ["-m", "bot", "chat", "--config", str(tmp_path / "settings.yaml")]
        args += ["--corpus", str(settings.corpus), "--index-dir", str(settings.index_dir), *extra]
        child = pexpect.spawn(
            sys.executable, args, env=env, cwd=str(tmp_path), encoding="utf-8", dimensions=(40, WIDTH), timeout=90
        )
        children.append(child)
        child.expect_exact("\r\n> ")
        return child

    start.history = tmp_path / "data" / "vnqa-bot" / "console_history"
    yield start
    for child in children:
        child.close(force=True)


def reply(child, line: str) -> str:
    """What the console shows after ``line`` is typed and Enter pressed, up to the next prompt."""
    child.send(line + "\r")
    child.expect_exact("\r\n> ")
    return child.before.replace("\r\n", "\n")


@pytest.mark.slow
def test_typing_as_a_person_does_in_vietnamese(chat):
    child = chat()
    # ← moves the cursor: "00" typed after one step left goes before the "4"
    shown = reply(child, f"/source 4{LEFT}00")
    assert "Mã bài: 004" in shown and "^[[" not in shown
    # ↑ brings the last line back
    assert "Mã bài: 004" in reply(child, UP)
    answer = reply(child, "Vương Đình Huệ dự đại hội nào?")
    assert BOLD in answer and "**" not in answer
    visible = ANSI.sub("", answer).split("\n")[1:]  # the echoed question is the first line
    assert max(len(line) for line in visible) <= WIDTH
    assert "1. Đại hội đại biểu" in ANSI.sub("", answer) and "\n\n» " in answer  # results apart
    assert "Còn kết quả khác: gõ /more để xem tiếp." in answer
    assert "Không có lệnh /foo. Các lệnh: /sources" in reply(child, "/foo")
    pages = [reply(child, "/sources")] + [reply(child, "/more") for _ in range(3)]
    assert "Kho bài viết có 5 bài:" in pages[0] and "Trang 1/3" in pages[0]
    assert "Còn 3 bài nữa: gõ /more để xem tiếp." in pages[0]
    assert "Trang 2/3" in pages[1] and "Còn 1 bài nữa: gõ /more để xem tiếp." in pages[1]
    assert "Trang 3/3" in pages[2] and "/more" not in pages[2].split("\n", 1)[1]
    assert "Không còn kết quả nào khác." in pages[3]
    assert sum(page.count("[0") for page in pages[:3]) == 5  # each article once
    child.sendeof()  # Ctrl-D: the shell's prompt on a fresh line
    child.expect(pexpect.EOF)
    assert child.before == "\r\n"
    child.close()
    assert child.exitstatus == 0
    history = chat.history.read_text(encoding="utf-8").splitlines()
    assert {"/source 004", "/foo", "/sources"} <= set(history)


@pytest.mark.slow
def test_history_is_kept_between_runs_and_english_throughout(chat):
    child = chat("--lang", "en")
    assert "Unknown command /foo. Commands: /sources" in reply(child, "/foo")
    shown = reply(child, "/sources")
    assert "The collection has 5 articles:" in shown and "3 more articles: type /more to see them." in shown
    child.sendcontrol("c")  # Ctrl-C: a fresh line, status 130
    child.expect(pexpect.EOF)
    assert child.before == "\r\n"
    child.close()
    assert child.exitstatus == 130
    child = chat("--lang", "en")
    assert "The collection has 5 articles:" in reply(child, UP)  # the last line of the previous run
    assert "1 more article: type /more to see it." in reply(child, "/more")
    child.sendline("/quit")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
