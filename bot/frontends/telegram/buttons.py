"""Buttons under the bot's messages and the data they carry.

Button data must fit in 64 bytes and keep working after the bot restarts, so it holds no
server-side state: ``"<kind>|<offset>|<hash>"``. The question (or the /sources filter) is
read back from the first line of the message the button sits under ("Kết quả cho: …"),
and ``hash`` (8 hex digits of BLAKE2b over it) proves the line was read correctly. Data
that does not parse, or whose hash does not match, is stale or forged and is refused.
"""

from __future__ import annotations

import enum
import hashlib
import re
from dataclasses import dataclass

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot.answer.compose import Answer, AnswerStatus
from bot.frontends.messages import Messages


class ButtonKind(enum.StrEnum):
    """What a button does; its value is the first field of the button's data."""

    MORE = "m"  # another page of an answer (edits the message)
    SOURCES = "s"  # the sources of the passages shown (a new message)
    PAGE = "p"  # another page of /sources (edits the message)


MORE, SOURCES, PAGE = ButtonKind.MORE, ButtonKind.SOURCES, ButtonKind.PAGE
MAX_OFFSET = 10_000
MAX_DATA_BYTES = 64

_DATA = re.compile(r"([msp])\|(\d{1,5})\|([0-9a-f]{8})")


def data_pattern(kind: ButtonKind) -> re.Pattern[str]:
    """The callback data of buttons of ``kind`` (for routing a press to its handler)."""
    return re.compile(rf"{kind.value}\|\d{{1,5}}\|[0-9a-f]{{8}}\Z")


@dataclass(frozen=True)
class ButtonData:
    kind: ButtonKind
    offset: int
    digest: str

    def encode(self) -> str:
        data = f"{self.kind}|{self.offset}|{self.digest}"
        assert len(data.encode()) <= MAX_DATA_BYTES
        return data

    def matches(self, state: str) -> bool:
        return self.digest == state_hash(state)


def state_hash(state: str) -> str:
    """A short fingerprint of the text a button's state is read back from."""
    return hashlib.blake2b(state.encode("utf-8"), digest_size=4).hexdigest()


def button_data(kind: str, offset: int, state: str) -> str:
    return ButtonData(kind, offset, state_hash(state)).encode()


def parse_button_data(data: str | None) -> ButtonData | None:
    """The decoded data, or None when it is not ours (forged, or from another version)."""
    match = _DATA.fullmatch(data or "")
    if not match or int(match.group(2)) > MAX_OFFSET:
        return None
    return ButtonData(ButtonKind(match.group(1)), int(match.group(2)), match.group(3))


@dataclass(frozen=True)
class Press:
    """A button press that checks out: what to do, from where, for which question or filter."""

    kind: ButtonKind
    offset: int
    state: str  # the question, or the /sources filter, read back from the message


def read_press(data: str | None, message_text: str | None, messages: Messages) -> Press | None:
    """The press of a button with ``data`` under a message showing ``message_text``, or None
    when it is stale or forged (data not ours, or not matching the message's header)."""
    parsed = parse_button_data(data)
    if parsed is None or message_text is None:
        return None
    state = sources_query_of(message_text, messages) if parsed.kind == PAGE else question_of(message_text, messages)
    if state is None or not parsed.matches(state):
        return None
    return Press(parsed.kind, parsed.offset, state)


def parse_template(template: str, text: str) -> dict[str, str] | None:
    """The values of a message template's {fields} in ``text``, or None when it does not fit."""
    pattern, pos = "", 0
    for field in re.finditer(r"\{(\w+)\}", template):
        pattern += re.escape(template[pos : field.start()]) + f"(?P<{field.group(1)}>.+?)"
        pos = field.end()
    match = re.fullmatch(pattern + re.escape(template[pos:]), text, re.S)
    return match.groupdict() if match else None


def first_line(text: str | None) -> str:
    return (text or "").split("\n", 1)[0].strip()


def _header_value(message_text: str | None, messages: Messages, key: str, field: str) -> str | None:
    """The ``field`` of template ``key`` (any language) in the message's first line ('' if the
    template has no such field), or None when the line is not that header."""
    line = first_line(message_text)
    for lang in messages.texts:
        found = parse_template(messages.get(key, lang), line)
        if found is not None:
            return found.get(field, "")
    return None


def question_of(message_text: str | None, messages: Messages) -> str | None:
    """The question an answer message was written for, read from its header line."""
    return _header_value(message_text, messages, "answer_header", "question")


def sources_query_of(message_text: str | None, messages: Messages) -> str | None:
    """The /sources filter a listing message was written for ('' for the full list)."""
    query = _header_value(message_text, messages, "sources_filtered", "query")
    return query if query is not None else _header_value(message_text, messages, "sources_header", "query")


def answer_keyboard(answer: Answer, messages: Messages, lang: str, page_size: int) -> InlineKeyboardMarkup | None:
    """Previous / more results, and the sources of the shown passages."""
    if answer.status != AnswerStatus.OK or not answer.results:
        return None
    paging = []
    if answer.offset > 0:
        paging.append(
            InlineKeyboardButton(
                messages.get("button_prev", lang),
                callback_data=button_data(MORE, max(0, answer.offset - page_size), answer.question),
            )
        )
    if answer.has_more and answer.offset + page_size <= MAX_OFFSET:
        paging.append(
            InlineKeyboardButton(
                messages.get("button_more", lang),
                callback_data=button_data(MORE, answer.offset + page_size, answer.question),
            )
        )
    sources = [
        InlineKeyboardButton(
            messages.get("button_sources", lang), callback_data=button_data(SOURCES, answer.offset, answer.question)
        )
    ]
    return InlineKeyboardMarkup([row for row in (paging, sources) if row])


def sources_keyboard(
    query: str, start: int, shown: int, total: int, page_size: int, messages: Messages, lang: str
) -> InlineKeyboardMarkup | None:
    """Previous / next page of a /sources listing (``shown`` articles from ``start``)."""
    row = []
    if start > 0:
        row.append(
            InlineKeyboardButton(
                messages.get("button_prev_page", lang),
                callback_data=button_data(PAGE, max(0, start - page_size), query),
            )
        )
    if start + shown < total:
        row.append(
            InlineKeyboardButton(
                messages.get("button_next_page", lang), callback_data=button_data(PAGE, start + shown, query)
            )
        )
    return InlineKeyboardMarkup([row]) if row else None
