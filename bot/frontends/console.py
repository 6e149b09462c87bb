"""A console chat that answers with the same texts as the Telegram bot; no token needed.

In a terminal it has line editing and a history kept between runs (stdlib ``readline``),
matched words in bold and lines wrapped between words; ``/sources`` is shown a page at a
time, ``/more`` goes on with the last answer or listing.
"""

from __future__ import annotations

import contextlib
import math
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from bot.frontends.messages import DEFAULT_LANGUAGE, Messages
from bot.frontends.render import render_answer, render_source, render_sources
from bot.frontends.terminal import for_terminal, terminal_width
from bot.service import Service

PROMPT = "> "
HISTORY_LINES = 1000
_COMMAND = re.compile(r"/\w+")


@dataclass
class ConsoleState:
    """What ``/more`` goes on with: the last question's results, or the source listing shown
    since (``listing`` is its keyword; None when a question came last)."""

    question: str = ""
    offset: int = 0
    listing: str | None = None
    listing_start: int = 0


def history_file(data_home: Path) -> Path:
    """The console's history file in the user's data folder (``$XDG_DATA_HOME/vnqa-bot``)."""
    return data_home / "vnqa-bot" / "console_history"


def handle_line(
    line: str, state: ConsoleState, service: Service, messages: Messages, lang: str = DEFAULT_LANGUAGE
) -> str | None:
    """The reply to one console line (None means quit)."""
    text = line.strip()
    command, _, rest = text.partition(" ")
    rest = rest.strip()
    if command in ("/quit", "/exit", "/q"):
        return None
    if command in ("/help", "/start"):
        return messages.get("console_help", lang)
    if command == "/sources":
        state.listing, state.listing_start = rest, 0
        return _sources_page(state, service, messages, lang)
    if command == "/source":
        if not rest:
            return messages.get("source_usage", lang, example=service.example_id())
        found = service.source(rest)
        if found is None:
            return messages.get("source_not_found", lang, id=rest)
        return render_source(found.info, found.passages, messages, lang)
    if command == "/more":
        if state.listing is not None:
            state.listing_start += service.settings.telegram.sources_page_size
            return _sources_page(state, service, messages, lang)
        if not state.question:
            return messages.get("no_more", lang)
        state.offset += service.settings.answer.top_k
        return _answer(state, service, messages, lang)
    if _COMMAND.fullmatch(command):
        return messages.get("console_unknown_command", lang, command=command)
    state.question, state.offset, state.listing = text, 0, None
    return _answer(state, service, messages, lang)


def _answer(state: ConsoleState, service: Service, messages: Messages, lang: str) -> str:
    """The answer at ``state.offset``, with the ``/more`` hint while more results remain."""
    answer = service.ask(state.question, offset=state.offset)
    reply = render_answer(answer, messages, lang, limit_question=service.settings.answer.max_question_chars)
    if answer.has_more:
        reply += "\n\n" + messages.get("more_results", lang)
    return reply


def _sources_page(state: ConsoleState, service: Service, messages: Messages, lang: str) -> str:
    """One page of the listing being paged, its 'page n/m' line and the ``/more`` hint while
    articles remain ('no more results' past its end)."""
    query = state.listing or ""
    sources = service.sources(query)
    size = service.settings.telegram.sources_page_size
    if sources and state.listing_start >= len(sources):
        return messages.get("no_more", lang)
    text = render_sources(sources, messages, lang, query=query, start=state.listing_start, count=size)
    pages = math.ceil(len(sources) / size)
    if pages > 1:
        text += "\n\n" + messages.get("page", lang, page=state.listing_start // size + 1, pages=pages)
    remaining = len(sources) - state.listing_start - size
    if remaining > 0:
        text += "\n" + messages.get("sources_more", lang, count=remaining)
    return text


def _line_editing(history: Path | None) -> bool:
    """Turn on readline's line editing and load the history; False when readline is missing."""
    try:
        import readline
    except ImportError:  # Windows without pyreadline
        return False
    readline.set_history_length(HISTORY_LINES)
    if history is not None and history.is_file():
        with contextlib.suppress(OSError):
            readline.read_history_file(history)
    return True


def _save_history(history: Path | None) -> None:
    """Write the history back (a history that cannot be written is not worth an error)."""
    if history is None:
        return
    try:
        import readline

        history.parent.mkdir(parents=True, exist_ok=True)
        readline.write_history_file(history)
    except (ImportError, OSError):
        pass


def run_console(
    service: Service,
    messages: Messages,
    stdin: TextIO = sys.stdin,
    stdout: TextIO = sys.stdout,
    lang: str = DEFAULT_LANGUAGE,
    history: Path | None = None,
) -> int:
    """Read questions until end of input, /quit or Ctrl-C; the exit status."""
    interactive = stdin is sys.stdin and stdin.isatty()
    width = terminal_width(stdout)

    def say(text: str) -> None:
        print(for_terminal(text, width), file=stdout, flush=True)

    articles = messages.get("n_articles", lang, count=service.articles)
    say(
        messages.get(
            "console_welcome",
            lang,
            articles=articles,
            passages=messages.get("n_passages", lang, count=service.passages),
        )
    )
    say(messages.get("console_help", lang))
    say(messages.get("console_telegram_hint", lang))
    if interactive:
        _line_editing(history)
    state = ConsoleState()
    try:
        while True:
            if interactive:
                print(file=stdout)
                line = input(PROMPT)
            else:
                line = stdin.readline()
                if not line:
                    return 0
                if not line.strip():
                    continue
            if not line.strip():
                continue
            reply = handle_line(line, state, service, messages, lang)
            if reply is None:
                return 0
            say(reply)
            if not interactive:
                print(file=stdout)
    except EOFError:  # Ctrl-D at the prompt
        print(file=stdout)
        return 0
    except KeyboardInterrupt:  # Ctrl-C: the shell's prompt on a line of its own
        print(file=stdout)
        return 130
    finally:
        if interactive:
            _save_history(history)
