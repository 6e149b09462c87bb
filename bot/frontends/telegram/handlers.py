"""The bot's update handlers: read the update, compose the reply in a worker thread, send it.

Private chats: any text is a question. Groups (privacy mode on): ``/ask``, ``/ask@Bot``,
``/ask`` sent as a reply (the replied message is the question) and messages mentioning
``@Bot``; other chatter is ignored. Buttons are routed by their data's kind; the state
they act on is read back from the message they sit under.
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import logging
import re
import time

from telegram import Chat, InlineKeyboardMarkup, Message, Update
from telegram.constants import ChatAction
from telegram.error import BadRequest, InvalidToken, NetworkError, TelegramError, TimedOut
from telegram.ext import ApplicationHandlerStop, ContextTypes

from bot.frontends.telegram.buttons import Press
from bot.frontends.telegram.replies import Replies
from bot.service import IndexRebuilding

log = logging.getLogger(__name__)


def replies_of(context: ContextTypes.DEFAULT_TYPE) -> Replies:
    return context.application.bot_data["replies"]


def _lang(update: Update, replies: Replies) -> str:
    user = update.effective_user
    return replies.language(user.language_code if user else None)


def _after_command(text: str | None) -> str:
    """The text after '/command' or '/command@Bot'."""
    parts = (text or "").split(maxsplit=1)
    return parts[1] if len(parts) > 1 else ""


async def _typing(context: ContextTypes.DEFAULT_TYPE, chat_id: int) -> None:
    with contextlib.suppress(TelegramError):
        await context.bot.send_chat_action(chat_id, ChatAction.TYPING)


# --- questions ---------------------------------------------------------------------------------


async def reply_answer(update: Update, context: ContextTypes.DEFAULT_TYPE, question: str) -> None:
    """Answer ``question`` under the asking message (quoted in groups)."""
    replies, message = replies_of(context), update.effective_message
    lang = _lang(update, replies)
    if not question.strip():
        await message.reply_html(replies.ask_usage(lang))
        return
    started = time.perf_counter()
    typing = asyncio.create_task(_typing(context, message.chat_id))
    text, keyboard = await asyncio.to_thread(replies.answer, question, lang)
    await typing
    await message.reply_html(text, reply_markup=keyboard)
    log.info("answered chat %s in %.0f ms", message.chat_id, (time.perf_counter() - started) * 1000)


async def on_ask(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/ask <question>; or /ask as a reply: the replied message is the question."""
    message = update.effective_message
    question, replied = _after_command(message.text), message.reply_to_message
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
    await reply_answer(update, context, mention.sub(" ", message.text or ""))


async def on_inline(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    replies, inline = replies_of(context), update.inline_query
    question = inline.query.strip()
    results = await asyncio.to_thread(replies.inline, question, _lang(update, replies)) if question else []
    await inline.answer(results, cache_time=30, is_personal=False)


# --- commands ----------------------------------------------------------------------------------


async def on_start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    replies = replies_of(context)
    await update.effective_message.reply_html(replies.start(_lang(update, replies)))


async def on_help(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    replies = replies_of(context)
    await update.effective_message.reply_html(replies.help(_lang(update, replies), context.bot.username))


async def on_sources(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    replies = replies_of(context)
    query = " ".join(_after_command(update.effective_message.text).split())[:100]
    text, keyboard = await asyncio.to_thread(replies.sources, query, _lang(update, replies))
    await update.effective_message.reply_html(text, reply_markup=keyboard)


async def on_source(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    replies = replies_of(context)
    article_id = _after_command(update.effective_message.text).strip()
    text = await asyncio.to_thread(replies.source, article_id, _lang(update, replies))
    await update.effective_message.reply_html(text)


async def on_reload(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Re-read the corpus and the index without a restart (admins from config only)."""
    replies, message, user = replies_of(context), update.effective_message, update.effective_user
    lang = _lang(update, replies)
    if user is None or user.id not in replies.settings.telegram.admin_user_ids:
        await message.reply_html(replies.text("admin_only", lang))
        return
    typing = asyncio.create_task(_typing(context, message.chat_id))
    text = await asyncio.to_thread(replies.reload, lang)
    await typing
    await message.reply_html(text)


async def on_unknown_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    replies = replies_of(context)
    await update.effective_message.reply_html(replies.text("unknown_command", _lang(update, replies)))


# --- buttons -----------------------------------------------------------------------------------


def _press(update: Update, context: ContextTypes.DEFAULT_TYPE) -> tuple[Press | None, Message | None]:
    """The checked press of the button, and the message it sits under."""
    query = update.callback_query
    message = query.message if isinstance(query.message, Message) else None
    return replies_of(context).press(query.data, message.text if message else None), message


GONE = ("message to edit not found", "message can't be edited", "message_id_invalid", "message not found")
EXPIRED_QUERY = ("query is too old", "query_id_invalid", "query id is invalid")


async def _acknowledge(update: Update) -> None:
    """Answer the press at once (Telegram shows a spinner until then and refuses late answers)."""
    try:
        await update.callback_query.answer()
    except BadRequest as exc:
        if not any(words in str(exc).lower() for words in EXPIRED_QUERY):
            raise
        log.info("button press %s answered too late: %s", update.callback_query.id, exc)


async def _edit(update: Update, text: str, keyboard: InlineKeyboardMarkup | None) -> None:
    """Edit the message under the pressed button; one that is gone (deleted, too old) is left alone."""
    try:
        await update.callback_query.edit_message_text(text, reply_markup=keyboard)
    except BadRequest as exc:
        reason = str(exc).lower()
        if any(words in reason for words in GONE):
            log.info("button press on a message that is gone: %s", exc)
        elif "not modified" not in reason:
            raise


async def on_more(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Previous / more results: the answer message is edited."""
    (press, _), replies = _press(update, context), replies_of(context)
    if press is None:
        return await on_stale_button(update, context)
    await _acknowledge(update)
    text, keyboard = await asyncio.to_thread(replies.answer, press.state, _lang(update, replies), press.offset)
    await _edit(update, text, keyboard)


async def on_cited_sources(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """The sources of the passages shown: a new message quoting the answer."""
    (press, message), replies = _press(update, context), replies_of(context)
    if press is None:
        return await on_stale_button(update, context)
    await _acknowledge(update)
    text = await asyncio.to_thread(replies.cited_sources, press.state, _lang(update, replies), press.offset)
    await message.reply_html(text, do_quote=True)


async def on_sources_page(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Another page of a /sources listing: the listing message is edited."""
    (press, _), replies = _press(update, context), replies_of(context)
    if press is None:
        return await on_stale_button(update, context)
    await _acknowledge(update)
    text, keyboard = await asyncio.to_thread(replies.sources, press.state, _lang(update, replies), press.offset)
    await _edit(update, text, keyboard)


async def on_stale_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Button data that is not ours or does not match its message: stale or forged."""
    replies, query = replies_of(context), update.callback_query
    log.info("stale or forged button data %r", query.data)
    await query.answer(replies.plain("stale_button", _lang(update, replies)), show_alert=False)


# --- access and errors -------------------------------------------------------------------------


async def gate(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """The allow-list: updates from other chats (or users, inline) stop here."""
    replies = replies_of(context)
    chat, user = update.effective_chat, update.effective_user
    who = chat.id if chat else (user.id if user else None)
    if replies.settings.telegram.allows(who):
        return
    lang = _lang(update, replies)
    log.info("ignored update from chat %s (not in telegram.allowed_chat_ids)", who)
    with contextlib.suppress(TelegramError):
        if update.callback_query:
            await update.callback_query.answer(replies.plain("not_allowed", lang))
        elif update.inline_query:
            await update.inline_query.answer([], cache_time=300)
        elif chat and chat.type == Chat.PRIVATE and update.effective_message:
            await update.effective_message.reply_html(replies.text("not_allowed", lang))
    raise ApplicationHandlerStop


async def _say_rebuilding(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """The index is being rebuilt (it was damaged under the bot): say so, no apology, no traceback."""
    replies = replies_of(context)
    lang = _lang(update, replies)
    with contextlib.suppress(TelegramError):
        if update.callback_query:
            await update.callback_query.answer(replies.plain("index_rebuilding", lang), show_alert=True)
        elif update.inline_query:
            await update.inline_query.answer([], cache_time=0)
        elif update.effective_message:
            await update.effective_message.reply_html(replies.text("index_rebuilding", lang))


async def on_error(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Log the failure; tell the user with a short apology (never a traceback).

    Failed polls (``update`` is None) are logged in one line: PTB retries them with a growing
    pause, and a Bot API outage would otherwise fill the log with tracebacks."""
    if update is None and isinstance(context.error, (NetworkError, TimedOut)):
        log.warning("Bot API unreachable, retrying: %s", context.error)
        return
    if isinstance(context.error, InvalidToken):
        log.error("the Bot API refused the token: %s", context.error)  # the poller ends the process
        return
    if isinstance(context.error, IndexRebuilding) and isinstance(update, Update):
        await _say_rebuilding(update, context)
        return
    reason = str(context.error).lower()
    if isinstance(context.error, BadRequest) and any(words in reason for words in EXPIRED_QUERY):
        log.info("a button press or inline query expired before its answer: %s", context.error)
        return  # Telegram no longer takes an answer to it: no apology either
    log.error("failed to handle an update: %s", context.error, exc_info=context.error)
    if not isinstance(update, Update):
        return
    replies = replies_of(context)
    apology = replies.plain("error", _lang(update, replies))
    with contextlib.suppress(TelegramError):
        if update.callback_query:
            await update.callback_query.answer(apology, show_alert=True)
        elif update.effective_message:
            await update.effective_message.reply_html(html.escape(apology, quote=False))
