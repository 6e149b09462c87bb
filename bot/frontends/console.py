"""A console chat that answers with the same texts as the Telegram bot; no token needed."""

from __future__ import annotations

import sys
from typing import TextIO

from bot.frontends.messages import Messages
from bot.frontends.render import render_answer, render_source, render_sources
from bot.service import Service


def handle_line(line: str, state: dict, service: Service, messages: Messages) -> str | None:
    """The reply to one console line (None means quit). ``state`` remembers the last question."""
    text = line.strip()
    command, _, rest = text.partition(" ")
    limit_question = service.settings.answer.max_question_chars
    if command in ("/quit", "/exit", "/q"):
        return None
    if command in ("/help", "/start"):
        return messages.get("console_help")
    if command == "/sources":
        return render_sources(service.sources(rest), messages, query=rest.strip())
    if command == "/source":
        if not rest.strip():
            return messages.get("source_usage", example=service.example_id())
        found = service.source(rest)
        if found is None:
            return messages.get("source_not_found", id=rest.strip())
        return render_source(found.info, found.passages, messages)
    if command == "/more":
        if not state.get("question"):
            return messages.get("no_more")
        state["offset"] += service.settings.answer.top_k
        answer = service.ask(state["question"], offset=state["offset"])
        return render_answer(answer, messages, limit_question=limit_question)
    state["question"], state["offset"] = text, 0
    answer = service.ask(text)
    reply = render_answer(answer, messages, limit_question=limit_question)
    if answer.has_more:
        reply += "\n\n" + messages.get("more_results")
    return reply


def run_console(service: Service, messages: Messages, stdin: TextIO = sys.stdin, stdout: TextIO = sys.stdout) -> int:
    """Read questions until end of input or /quit."""
    interactive = stdin.isatty()
    print(messages.get("console_welcome", articles=service.articles, passages=service.passages), file=stdout)
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
        reply = handle_line(line, state, service, messages)
        if reply is None:
            return 0
        print(reply, file=stdout, flush=True)
        if not interactive:
            print(file=stdout)
