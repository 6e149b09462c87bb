"""Long polling with at-least-once answering, fair scheduling and a clean stop.

The loop fetches raw updates with ``getUpdates``, writes them to the inbox (committed and
synced) and only then moves the offset past them, so the next poll confirms to Telegram
only what is stored. Each update is read on its own (one the library cannot read is logged
in one line and skipped) and handed to the scheduler; it is marked done in the inbox once
its handler finished (its reply accepted by Telegram, or its error handled).

Stopping: the first SIGTERM/SIGINT stops polling and taking new work; answers in flight get
``stop_grace_s`` to finish, the rest stays pending in the inbox for the next start. A second
signal exits at once: everything fetched is already in the inbox. A refused token (401/404)
stops the bot the same way and ends it with ``TokenRefused`` (a non-zero exit).
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
import os
import signal
import sys
import time
from collections.abc import Callable

from telegram import Update
from telegram.error import InvalidToken, TelegramError
from telegram.ext import Application

from bot.frontends.telegram.handover import HandoverLog
from bot.frontends.telegram.inbox import Inbox, StoredUpdate
from bot.frontends.telegram.limits import ChatRateLimiter
from bot.frontends.telegram.redact import redact_token
from bot.frontends.telegram.scheduler import Job, JobKind, Scheduler
from bot.frontends.telegram.transport import HandOverTransport
from bot.settings import TelegramSettings

log = logging.getLogger(__name__)

MAX_WAITING = 5000  # queued chat jobs before polling pauses (the updates wait, unconfirmed, at Telegram)
IMMEDIATE_SLOTS = 64  # button presses and inline queries handled at once, at most
INLINE_TTL_S = 15.0  # Telegram refuses answers to older inline queries: they are not answered
BACKOFF = (1.0, 1.5, 30.0)  # pause after a failed poll: first, growth factor, longest
READ_SLACK_S = 10.0  # a long poll's read timeout: its wait plus this

REPLY_METHODS = frozenset({"sendMessage", "editMessageText"})  # a chat message's reply
CURRENT_UPDATE: contextvars.ContextVar[int | None] = contextvars.ContextVar("current_update", default=None)


class TokenRefused(InvalidToken):
    """Telegram refused the bot token while the bot was running."""


def _one_line(exc: BaseException, token: str) -> str:
    """An error as one short line, token redacted; a proxy's HTML page is not repeated."""
    text = " ".join(str(exc).split())
    if ". Parsing the server response" in text:
        text = text.split(". Parsing the server response")[0] + " (an error page, not the Bot API's JSON)"
    return redact_token(text if len(text) <= 300 else text[:300] + "…", token)


class Dispatcher:
    """Stored updates → scheduled jobs → handled by the application → marked done."""

    def __init__(
        self,
        application: Application,
        inbox: Inbox,
        options: TelegramSettings,
        token: str,
        handover: HandoverLog | None = None,
    ):
        self.application = application
        self.inbox = inbox
        self.options = options
        self.token = token
        limiter = application.bot.rate_limiter
        wait_s: Callable[[int], float] = limiter.wait_s if hasattr(limiter, "wait_s") else (lambda chat_id: 0.0)
        if isinstance(limiter, ChatRateLimiter):
            limiter.delivered = self._delivered
            limiter.refused = self._refused
        self.handover = handover
        transport = application.bot_data.get("transport")
        if isinstance(transport, HandOverTransport) and handover is not None:
            transport.writing = self._writing
        self.scheduler = Scheduler(
            self._run, wait_s, self._cap, self._dropped, options.concurrent_updates, IMMEDIATE_SLOTS
        )
        self.dropped = 0

    # --- feeding ----------------------------------------------------------------------------

    def feed(self, stored: StoredUpdate) -> None:
        """Read one stored update and schedule it (or mark it done when it cannot be answered)."""
        try:
            update = Update.de_json(stored.body, self.application.bot)
        except Exception as exc:  # noqa: BLE001 - any malformed update: skipped in one line
            log.warning("unreadable update %s skipped: %s: %s", stored.update_id, type(exc).__name__, exc)
            self.inbox.mark_done(stored.update_id, "unreadable")
            return
        if update.inline_query is not None and time.time() - stored.received > INLINE_TTL_S:
            self.inbox.mark_done(stored.update_id, "expired")  # Telegram would refuse the answer
            return
        immediate = update.callback_query is not None or update.inline_query is not None
        chat = update.effective_chat
        chat_id = None if immediate or chat is None else chat.id
        self.scheduler.submit(Job(stored.update_id, chat_id, update))

    def _cap(self, chat_id: int) -> int:
        return self.options.chat_backlog if self.options.allows(chat_id) else 1  # strangers: one "not allowed"

    def _dropped(self, job: Job, first: bool) -> Job | None:
        self.dropped += 1
        self.inbox.mark_done(job.update_id, "dropped")
        if first:
            log.warning("chat %s floods: questions past %s waiting are dropped", job.chat_id, self._cap(job.chat_id))
        if not first or not self.options.allows(job.chat_id):
            return None
        return Job(job.update_id, job.chat_id, job.payload, JobKind.NOTICE)

    # --- running ----------------------------------------------------------------------------

    async def _run(self, job: Job) -> None:
        if job.kind == JobKind.NOTICE:
            await self._notice(job)
            return
        token = CURRENT_UPDATE.set(job.update_id)
        try:
            await self.application.process_update(job.payload)
        finally:
            CURRENT_UPDATE.reset(token)
        self.inbox.mark_done(job.update_id)

    def _writing(self, endpoint: str) -> None:
        """A reply's request is being written: its update counts as handed over (``handover``)."""
        update_id = CURRENT_UPDATE.get()
        if update_id is not None and endpoint in REPLY_METHODS and self.handover is not None:
            self.handover.note(update_id)

    def _delivered(self, endpoint: str) -> None:
        """Telegram accepted a reply: its update is done (in the inbox, synced)."""
        update_id = CURRENT_UPDATE.get()
        if update_id is not None and endpoint in REPLY_METHODS:
            self.inbox.mark_done(update_id)

    def _refused(self, endpoint: str) -> None:
        """A reply's request failed (429 RetryAfter, an error): its update is pending again
        until a retry or the error handler's apology is handed over."""
        update_id = CURRENT_UPDATE.get()
        if update_id is not None and endpoint in REPLY_METHODS:
            if self.handover is not None:
                self.handover.clear(update_id)
            self.inbox.reopen(update_id)

    async def _notice(self, job: Job) -> None:
        replies = self.application.bot_data["replies"]
        user = job.payload.effective_user
        lang = replies.language(user.language_code if user else None)
        with contextlib.suppress(TelegramError):
            await self.application.bot.send_message(job.chat_id, replies.text("too_many_questions", lang))

    # --- polling ----------------------------------------------------------------------------

    async def poll(self, stop: asyncio.Event) -> None:
        """Fetch, store, then confirm (by the next offset), until ``stop`` is set."""
        offset = self.inbox.next_offset()
        pause, failed, down_since = BACKOFF[0], 0, 0.0
        wait = self.options.polling_timeout
        try:
            await self.application.bot.delete_webhook()  # getUpdates is refused while a webhook is set
        except InvalidToken:
            raise
        except TelegramError as exc:
            log.warning("could not remove the webhook: %s", _one_line(exc, self.token))
        while not stop.is_set():
            while self.scheduler.waiting > MAX_WAITING and not stop.is_set():
                await asyncio.sleep(0.2)
            try:
                raw = await self.application.bot._post(  # raw JSON: each update is read on its own
                    "getUpdates",
                    {"timeout": wait, "offset": offset or None, "limit": 100, "allowed_updates": ALLOWED_UPDATES},
                    read_timeout=wait + READ_SLACK_S,
                )
            except InvalidToken as exc:
                raise TokenRefused(
                    f"the Bot API refused the token ({_one_line(exc, self.token)}): check TELEGRAM_BOT_TOKEN"
                ) from None
            except TelegramError as exc:
                if not failed:
                    down_since = time.monotonic()
                    log.warning("Bot API unreachable, retrying: %s", _one_line(exc, self.token))
                failed += 1
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), pause)
                pause = min(pause * BACKOFF[1], BACKOFF[2])
                continue
            if failed:
                log.warning(
                    "Bot API reachable again after %.0f s (%d failed polls)", time.monotonic() - down_since, failed
                )
                pause, failed = BACKOFF[0], 0
            updates = [u for u in raw or [] if isinstance(u, dict) and isinstance(u.get("update_id"), int)]
            for stored in self.inbox.add(updates):  # committed and synced before the offset moves on
                self.feed(stored)
            if updates:
                offset = max(offset, max(u["update_id"] for u in updates) + 1)


ALLOWED_UPDATES = [Update.MESSAGE, Update.CALLBACK_QUERY, Update.INLINE_QUERY]


def exit_at_once(*_: object) -> None:
    """A second stop signal: everything fetched is in the inbox already, so exit now."""
    log.warning("second stop signal: exiting now; the updates not answered stay in the inbox")
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    os._exit(0)


async def run_polling(
    application: Application,
    options: TelegramSettings,
    token: str,
    on_started: Callable[[Application], object] | None = None,
) -> None:
    """Serve by long polling until a stop signal (or a refused token: ``TokenRefused``)."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    inbox = Inbox(options.inbox)
    handover = HandoverLog(options.inbox.with_name(options.inbox.name + ".handover"))
    for update_id in handover.recorded():  # replies written just before a crash: not answered again
        inbox.mark_done(update_id, "answered")
    handover.reset()
    signals = 0

    def on_signal() -> None:
        nonlocal signals
        signals += 1
        if signals == 1:
            log.warning("stopping: answers in flight get %.0f s; the rest stays in the inbox", options.stop_grace_s)
            stop.set()
            return
        exit_at_once()

    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, on_signal)
    try:
        async with application:
            if on_started is not None:
                result = on_started(application)
                if asyncio.iscoroutine(result):
                    await result
            await application.start()
            dispatcher = Dispatcher(application, inbox, options, token, handover)
            pending = inbox.pending()
            if pending:
                log.warning("answering %d updates left in the inbox by the last run", len(pending))
            for stored in pending:
                dispatcher.feed(stored)
            inbox.prune()
            poller = asyncio.create_task(dispatcher.poll(stop))
            stopped = asyncio.create_task(stop.wait())
            await asyncio.wait({poller, stopped}, return_when=asyncio.FIRST_COMPLETED)
            stop.set()
            poller.cancel()
            stopped.cancel()
            (outcome,) = await asyncio.gather(poller, return_exceptions=True)
            late = await dispatcher.scheduler.close(options.stop_grace_s)
            if late:
                log.warning("%d answers did not finish in time; they stay in the inbox", late)
            await application.stop()
            if isinstance(outcome, Exception):
                raise outcome
    finally:
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)
            if signals:  # stopped: the process is on its way out, another signal has nothing to cut short
                signal.signal(sig, signal.SIG_IGN)
        inbox.close()
        handover.close()
