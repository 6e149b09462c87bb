"""The Telegram bot: thin python-telegram-bot handlers over the answering and source functions.

Private chats: any text is a question. Groups (privacy mode on): ``/ask``, ``/ask@Bot``,
``/ask`` sent as a reply (the replied message is the question) and messages mentioning
``@Bot``; other chatter is ignored. Inline mode offers the best passages. Searching runs in
worker threads so one slow query does not hold other chats. Texts come from
config/messages.yaml; every piece of corpus or user text is HTML-escaped by bot.render.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime as dt
import html
import logging
import math
import os
import re
import sys
import time
from dataclasses import dataclass, field
from typing import TextIO

from telegram import (
    BotCommand,
    BotCommandScopeAllGroupChats,
    BotCommandScopeAllPrivateChats,
    Chat,
    InlineKeyboardMarkup,
    InlineQueryResultArticle,
    InputTextMessageContent,
    LinkPreviewOptions,
    Message,
    MessageEntity,
    Update,
)
from telegram.constants import ChatAction, ParseMode
from telegram.error import BadRequest, NetworkError, TelegramError, TimedOut
from telegram.ext import (
    Application,
    ApplicationHandlerStop,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    Defaults,
    InlineQueryHandler,
    MessageHandler,
    TypeHandler,
    filters,
)

from bot.answer.compose import answer_question
from bot.settings import Settings
from bot.index.builder import ensure_index
from bot.index.parts import PassageIndex
from bot.frontends.messages import DEFAULT_LANGUAGE, Messages, format_date, format_source
from bot.frontends.render import TELEGRAM_LIMIT, render_answer, render_cited_sources, render_source, render_sources
from bot.answer.sources import get_source, list_sources
from bot.frontends.telegram.limits import ChatRateLimiter
from bot.frontends.telegram.buttons import MORE, PAGE, SOURCES, answer_keyboard, parse_button_data, question_of, sources_keyboard, sources_query_of, state_hash

log = logging.getLogger(__name__)

ALLOWED_UPDATES = [Update.MESSAGE, Update.CALLBACK_QUERY, Update.INLINE_QUERY]
PRIVATE_COMMANDS = ("ask", "sources", "source", "start", "help")
GROUP_COMMANDS = ("ask", "sources", "source", "help")
COMMAND_LANGUAGES = ("vi", "en")


@dataclass
class BotState:
    """What the handlers share: settings, texts and the current index (swapped by /reload)."""

    settings: Settings
    messages: Messages
    index: PassageIndex
    reload_lock: asyncio.Lock = field(default_factory=asyncio.Lock)


def _state(context: ContextTypes.DEFAULT_TYPE) -> BotState:
    return context.application.bot_data["state"]


def _lang(update: Update, state: BotState) -> str:
    user = update.effective_user
    return state.messages.language(user.language_code if user else None)


def _text(state: BotState, key: str, lang: str, **values: object) -> str:
    """A message from messages.yaml, HTML-escaped (values included)."""
    return html.escape(state.messages.get(key, lang, **values), quote=False)


def _example(state: BotState, lang: str, n: int = 0) -> str:
    examples = state.messages.examples(lang)
    return examples[n % len(examples)] if examples else ""


# --- composing replies (pure: run in worker threads) -----------------------------------------


def compose_answer(state: BotState, question: str, lang: str, offset: int = 0) -> tuple[str, InlineKeyboardMarkup | None]:
    """The HTML answer to a question and its buttons."""
    options = state.settings.answer
    answer = answer_question(state.index, question, state.settings, offset=offset)
    text = render_answer(
        answer, state.messages, lang, as_html=True, limit=TELEGRAM_LIMIT,
        limit_question=options.max_question_chars, question_chars=options.max_question_chars,
    )
    return text, answer_keyboard(answer, state.messages, lang, options.top_k)


def compose_cited_sources(state: BotState, question: str, lang: str, offset: int) -> str:
    """The articles behind the passages shown for ``question`` at ``offset``."""
    answer = answer_question(state.index, question, state.settings, offset=offset)
    infos = []
    for doc_id in dict.fromkeys(r.doc_id for r in answer.results):
        found = get_source(state.index, doc_id)
        if found:
            infos.append(found[0])
    if not infos:
        return _text(state, "no_answer", lang)
    return render_cited_sources(infos, state.messages, lang, as_html=True)


def compose_sources(state: BotState, query: str, lang: str, start: int = 0) -> tuple[str, InlineKeyboardMarkup | None]:
    """One page of the article listing (optionally filtered) and its paging buttons."""
    size = state.settings.telegram.sources_page_size
    sources = list_sources(state.index, query)
    start = max(0, min(start, (len(sources) - 1) // size * size if sources else 0))
    pages = max(1, math.ceil(len(sources) / size))
    count = size
    while True:
        text = render_sources(sources, state.messages, lang, as_html=True, query=query, start=start, count=count)
        if pages > 1:
            text += "\n\n" + _text(state, "page", lang, page=start // size + 1, pages=pages)
        if len(text) <= TELEGRAM_LIMIT or count == 1:
            break
        count -= 1  # very long titles: fewer articles on this page
    shown = min(count, max(0, len(sources) - start))
    return text, sources_keyboard(query, start, shown, len(sources), size, state.messages, lang)


def compose_inline(state: BotState, question: str, lang: str) -> list[InlineQueryResultArticle]:
    """One inline result per answering passage: title, source and date, and the passage as message."""
    options = state.settings.answer
    answer = answer_question(state.index, question, state.settings, top_k_=state.settings.telegram.inline_results)
    if answer.status != "ok":
        return []
    items = []
    for result in answer.results:
        single = dataclasses.replace(answer, results=(result,), has_more=False)
        text = render_answer(
            single, state.messages, lang, as_html=True,
            limit_question=options.max_question_chars, question_chars=options.max_question_chars,
        )
        items.append(InlineQueryResultArticle(
            id=f"{result.rank}-{state_hash(result.passage_id)}",
            title=_short(result.title or result.doc_id, 120),
            description=state.messages.get(
                "inline_description", lang,
                source=format_source(result.source, state.messages, lang),
                date=format_date(result.date, state.messages, lang),
            ),
            input_message_content=InputTextMessageContent(
                text, parse_mode=ParseMode.HTML, link_preview_options=LinkPreviewOptions(is_disabled=True)
            ),
        ))
    return items


def _short(text: str, n: int) -> str:
    return text if len(text) <= n else text[: n - 1].rstrip() + "…"


# --- handlers -----------------------------------------------------------------------------


async def _typing(context: ContextTypes.DEFAULT_TYPE, chat_id: int) -> None:
    with contextlib.suppress(TelegramError):
        await context.bot.send_chat_action(chat_id, ChatAction.TYPING)


async def reply_answer(update: Update, context: ContextTypes.DEFAULT_TYPE, question: str) -> None:
    """Answer ``question`` under the asking message (quoted in groups)."""
    state, message = _state(context), update.effective_message
    lang = _lang(update, state)
    if not question.strip():
        await message.reply_html(_text(state, "ask_usage", lang, example=_example(state, lang)))
        return
    started = time.perf_counter()
    typing = asyncio.create_task(_typing(context, message.chat_id))
    text, keyboard = await asyncio.to_thread(compose_answer, state, question, lang)
    await typing
    await message.reply_html(text, reply_markup=keyboard)
    log.info("answered chat %s in %.0f ms", message.chat_id, (time.perf_counter() - started) * 1000)


def _after_command(text: str | None) -> str:
    """The text after '/command' or '/command@Bot'."""
    parts = (text or "").split(maxsplit=1)
    return parts[1] if len(parts) > 1 else ""


async def on_ask(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/ask <question>; or /ask as a reply: the replied message is the question."""
    message = update.effective_message
    question = _after_command(message.text)
    replied = message.reply_to_message
    if not question.strip() and replied is not None:
        question = replied.text or replied.caption or ""
    await reply_answer(update, context, question)


async def on_private_text(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    await reply_answer(update, context, update.effective_message.text or "")


async def on_mention(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A group message mentioning @Bot: the rest of the message is the question."""
    message, username = update.effective_message, context.bot.username
    mention = re.compile(rf"(?<!\w)@{re.escape(username or '')}\b", re.IGNORECASE)
    if not username or not mention.search(message.text or ""):
        return  # somebody else was mentioned: chatter
    # (the text is searched, not the entities: entity offsets count UTF-16 units, and a bad
    # offset would cut a surrogate pair in half and raise)
    question = mention.sub(" ", message.text or "")
    await reply_answer(update, context, question)


async def on_start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    state = _state(context)
    lang = _lang(update, state)
    await update.effective_message.reply_html(_text(
        state, "start", lang, articles=len(state.index.articles),
        example1=_example(state, lang, 0), example2=_example(state, lang, 1),
    ))


async def on_help(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    state = _state(context)
    await update.effective_message.reply_html(_text(state, "help", _lang(update, state), bot=context.bot.username))


async def on_sources(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    state = _state(context)
    query = " ".join(_after_command(update.effective_message.text).split())[:100]
    text, keyboard = await asyncio.to_thread(compose_sources, state, query, _lang(update, state))
    await update.effective_message.reply_html(text, reply_markup=keyboard)


def compose_source(state: BotState, article_id: str, lang: str) -> str:
    """One article's details, or the usage line, or 'no such article'."""
    if not article_id:
        example = state.index.articles[0].id if state.index.articles else "000"
        return _text(state, "source_usage", lang, example=example)
    found = get_source(state.index, article_id)
    if found is None:
        return _text(state, "source_not_found", lang, id=_short(article_id, 100))
    return render_source(*found, state.messages, lang, as_html=True)


async def on_source(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    state = _state(context)
    article_id = _after_command(update.effective_message.text).strip()
    text = await asyncio.to_thread(compose_source, state, article_id, _lang(update, state))
    await update.effective_message.reply_html(text)


async def on_reload(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Re-read the corpus and the index without a restart (admins from config only)."""
    state, message = _state(context), update.effective_message
    lang = _lang(update, state)
    user = update.effective_user
    if user is None or user.id not in state.settings.telegram.admin_user_ids:
        await message.reply_html(_text(state, "admin_only", lang))
        return
    async with state.reload_lock:
        typing = asyncio.create_task(_typing(context, message.chat_id))
        try:
            index, report = await asyncio.to_thread(ensure_index, state.settings)
        except Exception as exc:  # noqa: BLE001 - any failure keeps the old index
            log.exception("reload failed")
            await typing
            await message.reply_html(_text(state, "reload_failed", lang, reason=f"{type(exc).__name__}: {exc}"))
            return
        state.index = index
        await typing
    note = "reload_unchanged" if report.action == "loaded" else "reload_rebuilt"
    log.info("reloaded: %s articles, %s passages (%s)", report.articles, report.passages, report.action)
    await message.reply_html(
        _text(state, "reload_done", lang, articles=report.articles, passages=report.passages)
        + "\n" + _text(state, note, lang)
    )


async def on_unknown_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    state = _state(context)
    await update.effective_message.reply_html(_text(state, "unknown_command", _lang(update, state)))


async def _edit(update: Update, text: str, keyboard: InlineKeyboardMarkup | None) -> None:
    try:
        await update.callback_query.edit_message_text(text, reply_markup=keyboard)
    except BadRequest as exc:
        if "not modified" not in str(exc).lower():
            raise


async def on_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """More results, sources of the shown passages, /sources pages. State is read from the message."""
    state, query = _state(context), update.callback_query
    lang = _lang(update, state)
    data = parse_button_data(query.data)
    message = query.message if isinstance(query.message, Message) else None
    shown = message.text if message else None
    if data is not None and shown is not None:
        if data.kind == PAGE:
            wanted = sources_query_of(shown, state.messages)
            if wanted is not None and data.matches(wanted):
                text, keyboard = await asyncio.to_thread(compose_sources, state, wanted, lang, data.offset)
                await _edit(update, text, keyboard)
                await query.answer()
                return
        else:
            question = question_of(shown, state.messages)
            if question is not None and data.matches(question):
                if data.kind == MORE:
                    text, keyboard = await asyncio.to_thread(compose_answer, state, question, lang, data.offset)
                    await _edit(update, text, keyboard)
                elif data.kind == SOURCES:
                    text = await asyncio.to_thread(compose_cited_sources, state, question, lang, data.offset)
                    await message.reply_html(text, do_quote=True)
                await query.answer()
                return
    log.info("stale or forged button data %r", query.data)
    await query.answer(state.messages.get("stale_button", lang), show_alert=False)


async def on_inline(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    state, inline = _state(context), update.inline_query
    question = inline.query.strip()
    results = await asyncio.to_thread(compose_inline, state, question, _lang(update, state)) if question else []
    await inline.answer(results, cache_time=30, is_personal=False)


async def gate(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """The allow-list: updates from other chats (or users, inline) stop here."""
    state = _state(context)
    chat, user = update.effective_chat, update.effective_user
    who = chat.id if chat else (user.id if user else None)
    if state.settings.telegram.allows(who):
        return
    lang = _lang(update, state)
    log.info("ignored update from chat %s (not in telegram.allowed_chat_ids)", who)
    with contextlib.suppress(TelegramError):
        if update.callback_query:
            await update.callback_query.answer(state.messages.get("not_allowed", lang))
        elif update.inline_query:
            await update.inline_query.answer([], cache_time=300)
        elif chat and chat.type == Chat.PRIVATE and update.effective_message:
            await update.effective_message.reply_html(_text(state, "not_allowed", lang))
    raise ApplicationHandlerStop


async def on_error(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Log the failure; tell the user with a short apology (never a traceback).

    Failed polls (``update`` is None) are logged in one line: PTB retries them with a growing
    pause, and a Bot API outage would otherwise fill the log with tracebacks."""
    if update is None and isinstance(context.error, (NetworkError, TimedOut)):
        log.warning("Bot API unreachable, retrying: %s", context.error)
        return
    log.error("failed to handle an update: %s", context.error, exc_info=context.error)
    if not isinstance(update, Update):
        return
    state = _state(context)
    apology = state.messages.get("error", _lang(update, state))
    with contextlib.suppress(TelegramError):
        if update.callback_query:
            await update.callback_query.answer(apology, show_alert=True)
        elif update.effective_message:
            await update.effective_message.reply_html(html.escape(apology, quote=False))


# --- start-up -----------------------------------------------------------------------------


async def register_commands(application: Application) -> None:
    """The command menus for private chats and groups, in Vietnamese (also the default) and English."""
    messages: Messages = application.bot_data["state"].messages
    for lang in COMMAND_LANGUAGES:
        table = messages.mapping("commands", lang)
        for scope, names in ((BotCommandScopeAllPrivateChats(), PRIVATE_COMMANDS), (BotCommandScopeAllGroupChats(), GROUP_COMMANDS)):
            commands = [BotCommand(name, table[name]) for name in names]
            await application.bot.set_my_commands(commands, scope=scope, language_code=lang)
            if lang == DEFAULT_LANGUAGE:
                await application.bot.set_my_commands(commands, scope=scope)


async def on_startup(application: Application) -> None:
    try:
        await register_commands(application)
    except TelegramError as exc:
        log.warning("could not register the command menus: %s", exc)
    state: BotState = application.bot_data["state"]
    mode = state.settings.telegram.mode
    print(f"connected as @{application.bot.username} ({'long polling' if mode == 'polling' else 'webhook'}); "
          "press Ctrl+C to stop", flush=True)


def api_urls(base_url: str) -> tuple[str, str]:
    """PTB's ``base_url`` and ``base_file_url`` for a Bot API address.

    ``http://127.0.0.1:8081/bot`` (the documented form), ``http://127.0.0.1:8081`` and
    ``.../bot{token}`` all work; files are fetched from the same server.
    """
    value = base_url.strip()
    if "{token}" in value:
        return value, value.replace("/bot{token}", "/file/bot{token}")
    trimmed = value.rstrip("/")
    if not trimmed.endswith("/bot"):
        trimmed += "/bot"
    return trimmed, trimmed[: -len("/bot")] + "/file/bot"


def build_application(state: BotState, token: str, base_url: str | None = None) -> Application:
    """The python-telegram-bot Application with every handler, talking to ``base_url`` if given."""
    builder = (
        Application.builder()
        .token(token)
        .defaults(Defaults(
            parse_mode=ParseMode.HTML,
            link_preview_options=LinkPreviewOptions(is_disabled=True),
            allow_sending_without_reply=True,
        ))
        .rate_limiter(ChatRateLimiter())
        .concurrent_updates(state.settings.telegram.concurrent_updates)
        .post_init(on_startup)
    )
    if base_url:
        api_url, file_url = api_urls(base_url)
        builder = builder.base_url(api_url).base_file_url(file_url)
    application = builder.build()
    application.bot_data["state"] = state
    application.add_handler(TypeHandler(Update, gate), group=-1)
    application.add_handler(CommandHandler("ask", on_ask))
    application.add_handler(CommandHandler("start", on_start))
    application.add_handler(CommandHandler("help", on_help))
    application.add_handler(CommandHandler("sources", on_sources))
    application.add_handler(CommandHandler("source", on_source))
    application.add_handler(CommandHandler("reload", on_reload))
    application.add_handler(MessageHandler(filters.ChatType.PRIVATE & filters.TEXT & ~filters.COMMAND, on_private_text))
    application.add_handler(MessageHandler(
        filters.ChatType.GROUPS & filters.TEXT & ~filters.COMMAND & filters.Entity(MessageEntity.MENTION), on_mention
    ))
    application.add_handler(MessageHandler(filters.ChatType.PRIVATE & filters.COMMAND, on_unknown_command))
    application.add_handler(CallbackQueryHandler(on_button))
    application.add_handler(InlineQueryHandler(on_inline))
    application.add_error_handler(on_error)
    return application


def redact_token(text: str, token: str) -> str:
    """``text`` with the bot token replaced by '<token>', in any letter case (PTB changes the
    case of error descriptions, which may echo the request URL)."""
    return re.sub(re.escape(token), "<token>", text, flags=re.IGNORECASE) if token else text


class RedactToken(logging.Filter):
    """Replaces the bot token in log records (httpx and PTB log request URLs, which hold it)."""

    def __init__(self, secret: str):
        super().__init__()
        self.secret = secret

    def filter(self, record: logging.LogRecord) -> bool:
        if not self.secret:
            return True
        message = record.getMessage()
        redacted = redact_token(message, self.secret)
        if redacted != message:
            record.msg, record.args = redacted, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact_token(record.exc_text, self.secret)
        return True


def protect_token_in_logs(token: str) -> None:
    """Quiet the request loggers and redact the token from every log handler."""
    for name in ("httpx", "httpcore"):
        logging.getLogger(name).setLevel(logging.WARNING)
    root = logging.getLogger()
    if not root.handlers:
        logging.basicConfig(level=logging.WARNING)
    redact = RedactToken(token)
    for handler in root.handlers:
        handler.addFilter(redact)


def serve(state: BotState, token: str, base_url: str | None = None, out: TextIO = sys.stdout) -> None:
    """Run the bot until Ctrl+C (or SIGTERM): long polling, or a webhook server if configured."""
    protect_token_in_logs(token)
    application = build_application(state, token, base_url)
    options = state.settings.telegram
    where = base_url or "https://api.telegram.org/bot"
    print(f"starting the Telegram bot (Bot API: {where.split('://', 1)[-1].split('/', 1)[0]})", file=out, flush=True)
    if options.mode == "webhook":
        application.run_webhook(
            listen=options.webhook_listen,
            port=options.webhook_port,
            url_path=options.webhook_path,
            webhook_url=options.webhook_url,
            secret_token=os.environ.get("TELEGRAM_WEBHOOK_SECRET") or None,
            allowed_updates=ALLOWED_UPDATES,
        )
    else:
        application.run_polling(timeout=dt.timedelta(seconds=options.polling_timeout), allowed_updates=ALLOWED_UPDATES)
