"""Live news in the Telegram bot: the scheduled pull (python-telegram-bot's JobQueue, every
``feeds.every``), topic alerts, and the commands /latest [N], /follow <words>, /following,
/unfollow <n>. ``register`` wires it all into an Application; the pull runs in a worker
thread under the service's reload lock, so a pull and /reload never run at the same time and
questions keep being answered from the old index until the new one is swapped in.
"""

from __future__ import annotations

import asyncio
import html
import logging
import threading
from dataclasses import dataclass, field
from pathlib import Path

from telegram import Chat, Message, Update
from telegram.constants import ChatMemberStatus
from telegram.error import BadRequest, Forbidden, TelegramError
from telegram.ext import Application, CommandHandler, ContextTypes

from bot.corpus.article import Article
from bot.corpus.subscriptions import MAX_TOPIC_CHARS, SubscriptionError, Subscriptions
from bot.frontends.messages import Messages, format_date, format_source
from bot.service import Service, ServiceError

log = logging.getLogger(__name__)

MAX_LATEST = 20
MAX_MESSAGE_CHARS = 3900
DEFAULT_LATEST = 5
PULL_JOB = "pull-feeds"


@dataclass
class LiveNews:
    """What the live-news handlers share: the service, the texts and the subscriptions."""

    service: Service
    messages: Messages
    subscriptions_file: Path
    pulls: int = 0  # pulls finished (for logs and tests)
    alerts_sent: int = 0
    _pulling: asyncio.Lock = field(default_factory=asyncio.Lock)
    _opened: Subscriptions | None = None
    _opening: threading.Lock = field(default_factory=threading.Lock)

    @property
    def subscriptions(self) -> Subscriptions:
        """The subscriptions file, opened when first needed (a bot nobody follows never writes it)."""
        with self._opening:
            if self._opened is None:
                self._opened = Subscriptions(self.subscriptions_file, self.service.settings.feeds.max_follows)
            return self._opened

    def lang(self, update: Update) -> str:
        user = update.effective_user
        return self.messages.language(user.language_code if user else None)

    def text(self, key: str, lang: str, **values: object) -> str:
        return html.escape(self.messages.get(key, lang, **values), quote=False)


def live_of(context: ContextTypes.DEFAULT_TYPE) -> LiveNews:
    return context.application.bot_data["live_news"]


def article_lines(article: Article, messages: Messages, lang: str) -> str:
    """'<b>Title</b> — Source, 10/06/2024' and the link on the next line (Telegram HTML)."""
    head = (
        f"<b>{html.escape(article.title, quote=False)}</b> — "
        f"{html.escape(format_source(article.source, messages, lang), quote=False)}, "
        f"{html.escape(format_date(article.date, messages, lang), quote=False)}"
    )
    return head + (f"\n{html.escape(article.url)}" if article.url else "")


def _where(update: Update) -> tuple[Message, Chat]:
    """The command's message and chat (a command update always has both)."""
    message, chat = update.effective_message, update.effective_chat
    assert message is not None and chat is not None
    return message, chat


def _argument(text: str | None) -> str:
    parts = (text or "").split(maxsplit=1)
    return parts[1].strip() if len(parts) > 1 else ""


async def _may_change(update: Update, context: ContextTypes.DEFAULT_TYPE) -> bool:
    """Private chats always; in groups, the group's administrators (anonymous ones too)."""
    chat, message, user = update.effective_chat, update.effective_message, update.effective_user
    if chat is None or chat.type == Chat.PRIVATE:
        return True
    if message is not None and message.sender_chat is not None and message.sender_chat.id == chat.id:
        return True
    if user is None:
        return False
    try:
        member = await context.bot.get_chat_member(chat.id, user.id)
    except TelegramError:
        return False
    return member.status in (ChatMemberStatus.ADMINISTRATOR, ChatMemberStatus.OWNER)


# --- commands ------------------------------------------------------------------------------


async def on_latest(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/latest [N]: the N newest articles (title, source, date, link)."""
    live, (message, _chat) = live_of(context), _where(update)
    lang, argument = live.lang(update), _argument(message.text)
    if argument and not (argument.isdigit() and 1 <= int(argument) <= MAX_LATEST):
        await message.reply_html(live.text("latest_usage", lang, max=MAX_LATEST))
        return
    count = int(argument) if argument else DEFAULT_LATEST
    newest = await asyncio.to_thread(live.service.latest, count)
    if not newest:
        await message.reply_html(live.text("latest_none", lang))
        return
    parts = [f"<b>{live.text('latest_header', lang)}</b>"]
    for n, info in enumerate(newest, 1):
        entry = f"{n}. {article_lines(info.article, live.messages, lang)}"
        if sum(len(p) + 2 for p in parts) + len(entry) > MAX_MESSAGE_CHARS:
            break  # within Telegram's 4096 characters
        parts.append(entry)
    await message.reply_html("\n\n".join(parts))


async def on_follow(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/follow <words>: alert this chat when a pulled article holds all the words."""
    live, (message, chat) = live_of(context), _where(update)
    lang, topic = live.lang(update), _argument(message.text)
    if not topic:
        await message.reply_html(live.text("follow_usage", lang))
        return
    if not await _may_change(update, context):
        await message.reply_html(live.text("follow_admin_only", lang))
        return
    try:
        followed = await asyncio.to_thread(live.subscriptions.follow, chat.id, topic)
    except SubscriptionError as exc:
        limits = {"max": live.subscriptions.max_per_chat if exc.reason == "too_many" else MAX_TOPIC_CHARS}
        await message.reply_html(live.text(f"follow_{exc.reason}", lang, **limits))
        return
    await message.reply_html(live.text("follow_done", lang, number=followed.number, topic=followed.topic))


async def on_following(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/following: this chat's topics, numbered."""
    live, (message, chat) = live_of(context), _where(update)
    lang = live.lang(update)
    topics = await asyncio.to_thread(live.subscriptions.following, chat.id)
    if not topics:
        await message.reply_html(live.text("following_none", lang))
        return
    lines = [f"{t.number}. {html.escape(t.topic, quote=False)}" for t in topics]
    await message.reply_html("\n".join([f"<b>{live.text('following_header', lang)}</b>", *lines]))


async def on_unfollow(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/unfollow <n>: stop following topic n of /following."""
    live, (message, chat) = live_of(context), _where(update)
    lang, argument = live.lang(update), _argument(message.text)
    if not argument.isdigit():
        await message.reply_html(live.text("unfollow_usage", lang))
        return
    if not await _may_change(update, context):
        await message.reply_html(live.text("follow_admin_only", lang))
        return
    removed = await asyncio.to_thread(live.subscriptions.unfollow, chat.id, int(argument))
    if removed is None:
        await message.reply_html(live.text("unfollow_missing", lang, number=int(argument)))
        return
    await message.reply_html(live.text("unfollow_done", lang, topic=removed.topic))


# --- the scheduled pull and the alerts -------------------------------------------------------


async def pull_and_alert(context: ContextTypes.DEFAULT_TYPE) -> None:
    """One scheduled pull: new articles into the corpus and the index (swapped in), then an
    alert to each chat that follows a topic they match. Never raises: a failed pull is logged."""
    live = live_of(context)
    if live._pulling.locked():
        return  # the previous pull is still running
    async with live._pulling:
        try:
            result = await asyncio.to_thread(live.service.pull)
        except (ServiceError, OSError) as exc:
            log.warning("scheduled pull failed: %s", exc)
            return
        live.pulls += 1
        report = result.report
        log.info("scheduled pull: %d articles new or updated, %d failed", len(report.articles()), report.failed)
        if not report.articles():
            return
        alerts = await asyncio.to_thread(live.subscriptions.alerts, report.articles())
        limit = live.service.settings.feeds.max_alerts
        for chat_id, found in alerts.items():
            await _send_alerts(context, live, chat_id, found[:limit])


async def _send_alerts(
    context: ContextTypes.DEFAULT_TYPE, live: LiveNews, chat_id: int, found: list[tuple[Article, str]]
) -> None:
    lang = live.messages.language(None)
    for article, topic in found:
        text = f"{live.text('alert_header', lang, topic=topic)}\n{article_lines(article, live.messages, lang)}"
        try:
            await context.bot.send_message(chat_id, text)
            live.alerts_sent += 1
        except Forbidden:  # blocked by the user, removed from the group: not retried forever
            log.info("chat %s blocked the bot: its topics are dropped", chat_id)
            await asyncio.to_thread(live.subscriptions.drop_chat, chat_id)
            return
        except BadRequest as exc:
            if "chat not found" in str(exc).lower():
                await asyncio.to_thread(live.subscriptions.drop_chat, chat_id)
            else:
                log.warning("alert to chat %s failed: %s", chat_id, exc)
            return
        except TelegramError as exc:
            log.warning("alert to chat %s failed: %s", chat_id, exc)
            return


def subscriptions_path(service: Service) -> Path:
    feeds = service.settings.feeds
    return feeds.subscriptions_file or service.settings.index_dir.parent / "subscriptions.sqlite"


def register(application: Application, service: Service, messages: Messages) -> None:
    """Add the live-news commands (before the catch-all ones) and schedule the pull."""
    feeds = service.settings.feeds
    application.bot_data["live_news"] = LiveNews(service, messages, subscriptions_path(service))
    application.add_handlers(
        [
            CommandHandler("latest", on_latest),
            CommandHandler("follow", on_follow),
            CommandHandler("following", on_following),
            CommandHandler("unfollow", on_unfollow),
        ]
    )
    if feeds.sources and feeds.every > 0:
        if application.job_queue is None:
            log.warning("feeds are not pulled while serving: python-telegram-bot[job-queue] is not installed")
            return
        application.job_queue.run_repeating(
            pull_and_alert, interval=feeds.every, first=feeds.every, name=PULL_JOB, job_kwargs={"max_instances": 1}
        )
