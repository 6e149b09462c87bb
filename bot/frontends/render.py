"""Turning answers and source listings into text for people: plain text (CLI, console)
or Telegram HTML. One renderer, so every front end says the same thing.

In HTML every piece of corpus or user text is escaped; the only tags are <b>, <i> and
<a href>, which Telegram accepts. A message never exceeds ``limit`` characters: long
passages are shortened at a sentence end.
"""

from __future__ import annotations

import html
import math
from collections.abc import Iterable

from bot.answer.compose import Answer, AnswerStatus, Result
from bot.answer.filters import filter_text
from bot.answer.sources import SourceInfo
from bot.frontends.messages import Messages, format_date, format_source
from bot.text.normalize import split_sentences

TELEGRAM_LIMIT = 4096
ANSWER_LINE_CHARS = 300  # an answering sentence longer than this is cut around its phrase


def _esc(text: str, as_html: bool) -> str:
    return html.escape(text, quote=False) if as_html else text


def _bold(text: str, as_html: bool) -> str:
    return f"<b>{text}</b>" if as_html else text


def highlighted(text: str, spans: Iterable[tuple[int, int]], as_html: bool) -> str:
    """The passage with matched words in bold (HTML) or marked with **…** (plain: shown in
    bold on a terminal, the marks removed elsewhere, by ``frontends.terminal.for_terminal``)."""
    out: list[str] = []
    last = 0
    for start, end in spans:
        if start < last or end > len(text):
            continue
        out.append(_esc(text[last:start], as_html))
        word = _esc(text[start:end], as_html)
        out.append(f"<b>{word}</b>" if as_html else f"**{word}**")
        last = end
    out.append(_esc(text[last:], as_html))
    return "".join(out)


def shorten(text: str, spans: tuple[tuple[int, int], ...], max_chars: int) -> tuple[str, tuple[tuple[int, int], ...]]:
    """Cut a passage to at most ``max_chars`` at a sentence end (adding '…'), keeping spans inside."""
    if len(text) <= max_chars:
        return text, spans
    end = 0
    for sentence in split_sentences(text):
        next_end = text.find(sentence, end) + len(sentence)
        if next_end > max_chars - 1:
            break
        end = next_end
    if end == 0:
        end = text.rfind(" ", 0, max_chars - 1)
        end = end if end > 0 else max_chars - 1
    return text[:end].rstrip() + "…", tuple((s, e) for s, e in spans if e <= end)


def result_heading(result: Result, messages: Messages, lang: str, as_html: bool) -> str:
    """'1. Title — Source, 04/08/2020' with the title linked when the article has a url."""
    title = _esc(result.title or result.doc_id, as_html)
    if as_html:
        title = f'<a href="{html.escape(result.url, quote=True)}">{title}</a>' if result.url else f"<b>{title}</b>"
    line = messages.get(
        "result_line",
        lang,
        rank=result.rank,
        title=title,
        source=_esc(format_source(result.source, messages, lang), as_html),
        date=format_date(result.date, messages, lang),
    )
    if as_html:
        return line
    line = f"**{line}**"  # bold in a terminal (frontends/terminal.py)
    return line + f"\n   {result.url}" if result.url else line


def answer_line(result: Result, as_html: bool) -> str | None:
    """The answering sentence, its answer phrase in bold ('» ...'); None when there is none."""
    if result.answer is None:
        return None
    sentence, phrase = result.answer.sentence, result.answer.phrase
    start = sentence.find(phrase) if phrase else -1
    spans = ((start, start + len(phrase)),) if phrase and start >= 0 else ()
    sentence, spans = shorten(sentence, spans, ANSWER_LINE_CHARS)
    return "» " + highlighted(sentence, spans, as_html)


def render_result(result: Result, messages: Messages, lang: str, as_html: bool, max_chars: int) -> str:
    """The answering sentence first, then the article's title, source and date, then the passage."""
    text, spans = shorten(result.text, result.spans, max_chars)
    heading = result_heading(result, messages, lang, as_html)
    sentence = answer_line(result, as_html)
    lines = (
        [heading, highlighted(text, spans, as_html)]
        if sentence is None
        else [sentence, heading, highlighted(text, spans, as_html)]
    )
    return "\n".join(lines)


def render_answer(
    answer: Answer,
    messages: Messages,
    lang: str = "vi",
    as_html: bool = False,
    limit: int = TELEGRAM_LIMIT,
    limit_question: int = 500,
    question_chars: int = 200,
) -> str:
    """The whole reply to a question, within ``limit`` characters.

    The first line is the header with the question (up to ``question_chars``); the
    Telegram bot reads it back from the message when a button under it is pressed.
    """
    example = messages.example(lang)
    notes = []
    if answer.truncated:
        notes.append(_esc(messages.get("truncated", lang, limit=limit_question), as_html))
    if answer.status == AnswerStatus.EMPTY:
        return messages.get("no_question", lang, example=_esc(example, as_html))
    if answer.status == AnswerStatus.BAD_FILTER:
        return _esc(messages.get("bad_filter", lang, value=answer.bad_filter), as_html)
    if answer.status == AnswerStatus.NO_WORDS:
        return "\n".join(notes + [messages.get("no_words", lang, example=_esc(example, as_html))])
    if answer.status != AnswerStatus.OK or not answer.results:
        if answer.offset:
            return "\n".join(notes + [_esc(messages.get("no_more", lang), as_html)])
        body = [_esc(messages.get("no_answer", lang), as_html)]
        if answer.filters:
            body.append(_esc(messages.get("no_answer_filtered", lang, filters=filter_text(answer.filters)), as_html))
        if answer.absent:
            body.append(_esc(messages.get("no_answer_absent", lang, words=", ".join(answer.absent)), as_html))
        if answer.not_vietnamese:
            body.append(_esc(messages.get("not_vietnamese", lang), as_html))
        body.append(_esc(messages.get("no_answer_hint", lang), as_html))
        return "\n".join(notes + body)
    header = _bold(
        _esc(messages.get("answer_header", lang, question=short(answer.question, question_chars)), as_html), as_html
    )
    parts = [header] + notes
    budget = limit - sum(len(p) + 2 for p in parts) - 10
    per_result = max(200, budget // len(answer.results) - 150)
    blocks = [render_result(r, messages, lang, as_html, per_result) for r in answer.results]
    while blocks and sum(len(b) + 2 for b in blocks) > budget:  # never over the limit
        blocks.pop()
    return "\n\n".join(parts + blocks)


def short(text: str, n: int) -> str:
    """``text`` cut to ``n`` characters with '…'."""
    return text if len(text) <= n else text[: n - 1].rstrip() + "…"


def render_sources(
    sources: list[SourceInfo],
    messages: Messages,
    lang: str = "vi",
    as_html: bool = False,
    query: str = "",
    start: int = 0,
    count: int | None = None,
) -> str:
    """A numbered listing of articles: id, title, source and date."""
    if not sources:
        return _esc(messages.get("sources_none", lang, query=query), as_html)
    header = (
        messages.get("sources_filtered", lang, count=len(sources), query=query)
        if query
        else messages.get("sources_header", lang, count=len(sources))
    )
    shown = sources[start : start + count if count else None]
    lines = [_bold(_esc(header, as_html), as_html)]
    lines.extend(source_line(s, messages, lang, as_html) for s in shown)
    return "\n".join(lines)


def render_sources_page(
    sources: list[SourceInfo],
    messages: Messages,
    lang: str,
    query: str,
    start: int,
    page_size: int,
    limit: int = TELEGRAM_LIMIT,
) -> tuple[str, int, int]:
    """One page of a listing in HTML with its 'page n of m' line, within ``limit`` characters
    (a page of very long titles holds fewer articles); the text, the page's first article
    (``start`` brought into range) and how many articles it shows."""
    size = page_size
    start = max(0, min(start, (len(sources) - 1) // size * size if sources else 0))
    pages = max(1, math.ceil(len(sources) / size))
    count = size
    while True:
        text = render_sources(sources, messages, lang, as_html=True, query=query, start=start, count=count)
        if pages > 1:
            text += "\n\n" + _esc(messages.get("page", lang, page=start // size + 1, pages=pages), True)
        if len(text) <= limit or count == 1:
            break
        count -= 1
    return text, start, min(count, max(0, len(sources) - start))


def source_line(info: SourceInfo, messages: Messages, lang: str = "vi", as_html: bool = False) -> str:
    """'[004] Title — Source, 04/08/2020' (the id in <code> in HTML)."""
    ident = f"<code>{_esc(info.id, True)}</code>" if as_html else f"[{info.id}]"
    return (
        f"{ident} {_esc(info.title, as_html)} — {_esc(format_source(info.source, messages, lang), as_html)}, "
        f"{format_date(info.date, messages, lang)}"
    )


def render_cited_sources(
    sources: list[SourceInfo],
    messages: Messages,
    lang: str = "vi",
    as_html: bool = False,
    limit: int = TELEGRAM_LIMIT,
) -> str:
    """The articles behind the passages of an answer, each with its link, ready to cite."""
    lines = [_bold(_esc(messages.get("passage_sources_header", lang), as_html), as_html)]
    for info in sources:
        line = source_line(info, messages, lang, as_html)
        if info.url:
            line += "\n" + (html.escape(info.url, quote=False) if as_html else info.url)
        if sum(len(x) + 1 for x in lines) + len(line) > limit:
            break
        lines.append(line)
    return "\n".join(lines)


def render_source(
    info: SourceInfo,
    passages: list[str],
    messages: Messages,
    lang: str = "vi",
    as_html: bool = False,
    first_chars: int = 600,
    limit: int = TELEGRAM_LIMIT,
) -> str:
    """One article's metadata and the first lines of its text."""
    dash = "—"
    detail = messages.get(
        "source_detail",
        lang,
        title=_bold(_esc(info.title, as_html), as_html),
        source=_esc(format_source(info.source, messages, lang), as_html),
        date=format_date(info.date, messages, lang),
        author=_esc(info.author or dash, as_html),
        url=_esc(info.url or dash, as_html),
        passages=info.passages,
        id=_esc(info.id, as_html),
    )
    opening = "\n".join(passages)
    text, _ = shorten(opening, (), min(first_chars, max(100, limit - len(detail) - 10)))
    return f"{detail}\n\n{_esc(text, as_html)}" if text else detail
