"""The bot's replies: HTML texts and buttons composed from the service's results.

Pure (no Telegram calls), so the handlers run them in worker threads and one slow query
does not hold other chats. Every piece of corpus or user text is HTML-escaped.
"""

from __future__ import annotations

import dataclasses
import html
import logging

from telegram import InlineKeyboardMarkup, InlineQueryResultArticle, InputTextMessageContent, LinkPreviewOptions
from telegram.constants import ParseMode

from bot.answer.compose import AnswerStatus
from bot.frontends.messages import Messages, format_date, format_source
from bot.frontends.render import (
    TELEGRAM_LIMIT,
    render_answer,
    render_cited_sources,
    render_source,
    render_sources_page,
    short,
)
from bot.frontends.telegram.buttons import Press, answer_keyboard, read_press, sources_keyboard, state_hash
from bot.service import ReloadStatus, Service
from bot.settings import Settings

log = logging.getLogger(__name__)

RELOAD_NOTES = {
    ReloadStatus.UNCHANGED: "reload_unchanged",
    ReloadStatus.REBUILT: "reload_rebuilt",
    ReloadStatus.CHANGED: "reload_changed",
}


class Replies:
    """What the bot says: the service's results in the texts of messages.yaml."""

    def __init__(self, service: Service, messages: Messages):
        self.service = service
        self.messages = messages

    @property
    def settings(self) -> Settings:
        return self.service.settings

    def language(self, code: str | None) -> str:
        return self.messages.language(code)

    def text(self, key: str, lang: str, **values: object) -> str:
        """A message from messages.yaml, HTML-escaped (values included)."""
        return html.escape(self.messages.get(key, lang, **values), quote=False)

    def plain(self, key: str, lang: str) -> str:
        """A message as it is (alerts, inline descriptions: not HTML)."""
        return self.messages.get(key, lang)

    # --- commands --------------------------------------------------------------------------

    def start(self, lang: str) -> str:
        return self.text(
            "start",
            lang,
            articles=self.service.articles,
            example1=self.messages.example(lang, 0),
            example2=self.messages.example(lang, 1),
        )

    def help(self, lang: str, bot_username: str | None) -> str:
        return self.text("help", lang, bot=bot_username)

    def ask_usage(self, lang: str) -> str:
        return self.text("ask_usage", lang, example=self.messages.example(lang))

    def answer(self, question: str, lang: str, offset: int = 0) -> tuple[str, InlineKeyboardMarkup | None]:
        """The HTML answer to a question and its buttons."""
        options = self.settings.answer
        answer = self.service.ask(question, offset=offset)
        text = render_answer(
            answer,
            self.messages,
            lang,
            as_html=True,
            limit=TELEGRAM_LIMIT,
            limit_question=options.max_question_chars,
            question_chars=options.max_question_chars,
        )
        return text, answer_keyboard(answer, self.messages, lang, options.top_k)

    def cited_sources(self, question: str, lang: str, offset: int) -> str:
        """The articles behind the passages shown for ``question`` at ``offset``."""
        infos = self.service.cited_sources(question, offset)
        if not infos:
            return self.text("no_answer", lang)
        return render_cited_sources(infos, self.messages, lang, as_html=True)

    def sources(self, query: str, lang: str, start: int = 0) -> tuple[str, InlineKeyboardMarkup | None]:
        """One page of the article listing (optionally filtered) and its paging buttons."""
        size = self.settings.telegram.sources_page_size
        sources = self.service.sources(query)
        text, start, shown = render_sources_page(sources, self.messages, lang, query, start, size)
        return text, sources_keyboard(query, start, shown, len(sources), size, self.messages, lang)

    def source(self, article_id: str, lang: str) -> str:
        """One article's details, or the usage line, or 'no such article'."""
        if not article_id:
            return self.text("source_usage", lang, example=self.service.example_id())
        found = self.service.source(article_id)
        if found is None:
            return self.text("source_not_found", lang, id=short(article_id, 100))
        return render_source(found.info, found.passages, self.messages, lang, as_html=True)

    def reload(self, lang: str) -> str:
        """Reload the index (the old one stays on failure) and say how it went."""
        try:
            result = self.service.reload()
        except Exception as exc:
            log.exception("reload failed")
            return self.text("reload_failed", lang, reason=f"{type(exc).__name__}: {exc}")
        log.info("reloaded: %s articles, %s passages (%s)", result.articles, result.passages, result.status)
        return (
            self.text("reload_done", lang, articles=result.articles, passages=result.passages)
            + "\n"
            + self.text(RELOAD_NOTES[result.status], lang)
        )

    # --- buttons and inline mode -----------------------------------------------------------

    def press(self, data: str | None, message_text: str | None) -> Press | None:
        """A button press that checks out against the message it sits under, or None."""
        return read_press(data, message_text, self.messages)

    def inline(self, question: str, lang: str) -> list[InlineQueryResultArticle]:
        """One inline result per answering passage: title, source and date, and the passage as message."""
        options = self.settings.answer
        answer = self.service.ask(question, top_k=self.settings.telegram.inline_results)
        if answer.status != AnswerStatus.OK:
            return []
        items = []
        for result in answer.results:
            single = dataclasses.replace(answer, results=(result,), has_more=False)
            text = render_answer(
                single,
                self.messages,
                lang,
                as_html=True,
                limit_question=options.max_question_chars,
                question_chars=options.max_question_chars,
            )
            items.append(
                InlineQueryResultArticle(
                    id=f"{result.rank}-{state_hash(result.passage_id)}",
                    title=short(result.title or result.doc_id, 120),
                    description=self.messages.get(
                        "inline_description",
                        lang,
                        source=format_source(result.source, self.messages, lang),
                        date=format_date(result.date, self.messages, lang),
                    ),
                    input_message_content=InputTextMessageContent(
                        text, parse_mode=ParseMode.HTML, link_preview_options=LinkPreviewOptions(is_disabled=True)
                    ),
                )
            )
        return items
