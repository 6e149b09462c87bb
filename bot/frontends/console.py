"""A console chat that answers with the same texts as the Telegram bot; no token needed."""

from __future__ import annotations

import sys
from typing import TextIO

from bot.answer.compose import answer_question
from bot.settings import Settings
from bot.index.parts import PassageIndex
from bot.frontends.messages import Messages
from bot.frontends.render import render_answer, render_source, render_sources
from bot.answer.sources import get_source, list_sources


def handle_line(line: str, state: dict, index: PassageIndex, settings: Settings, messages: Messages) -> str | None:
    """The reply to one console line (None means quit). ``state`` remembers the last question."""
    text = line.strip()
    command, _, rest = text.partition(" ")
    if command in ("/quit", "/exit", "/q"):
        return None
    if command in ("/help", "/start"):
        return messages.get("console_help")
    if command == "/sources":
        return render_sources(list_sources(index, rest), messages, query=rest.strip())
    if command == "/source":
        if not rest.strip():
            example = index.articles[0].id if index.articles else "000"
            return messages.get("source_usage", example=example)
        found = get_source(index, rest)
        if found is None:
            return messages.get("source_not_found", id=rest.strip())
        return render_source(*found, messages)
    if command == "/more":
        if not state.get("question"):
            return messages.get("no_more")
        state["offset"] += settings.answer.top_k
        answer = answer_question(index, state["question"], settings, offset=state["offset"])
        return render_answer(answer, messages, limit_question=settings.answer.max_question_chars)
    state["question"], state["offset"] = text, 0
    answer = answer_question(index, text, settings)
    reply = render_answer(answer, messages, limit_question=settings.answer.max_question_chars)
    if answer.has_more:
        reply += "\n\n" + messages.get("more_results")
    return reply


def run_console(
    index: PassageIndex, settings: Settings, messages: Messages,
    stdin: TextIO = sys.stdin, stdout: TextIO = sys.stdout,
) -> int:
    """Read questions until end of input or /quit."""
    interactive = stdin.isatty()
    print(messages.get("console_welcome", articles=len(index.articles), passages=index.n_live), file=stdout)
    print(messages.get("console_help"), file=stdout)
    print(messages.get("console_telegram_hint"), file=stdout)
    state = {"question": "", "offset": 0}
    while True:
        if interactive:
            print("\n❓ ", end="", file=stdout, flush=True)
        line = stdin.readline()
        if not line:
            return 0
        if not line.strip() and not interactive:
            continue
        reply = handle_line(line, state, index, settings, messages)
        if reply is None:
            return 0
        print(reply, file=stdout, flush=True)
        if not interactive:
            print(file=stdout)
