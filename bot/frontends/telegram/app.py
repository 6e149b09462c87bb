"""The Telegram bot's application: handlers wired up by python-telegram-bot, and serving.

Texts come from the messages file; answers and sources from the service (bot.service);
the replies are composed in bot.frontends.telegram.replies and sent by .handlers.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from typing import TextIO

from telegram import (
    BotCommand,
    BotCommandScopeAllGroupChats,
    BotCommandScopeAllPrivateChats,
    LinkPreviewOptions,
    MessageEntity,
    Update,
)
from telegram.constants import ParseMode
from telegram.error import TelegramError
from telegram.ext import (
    Application,
    CallbackQueryHandler,
    CommandHandler,
    Defaults,
    InlineQueryHandler,
    MessageHandler,
    TypeHandler,
    filters,
)
from telegram.request import HTTPXRequest

from bot.frontends.messages import DEFAULT_LANGUAGE, Messages
from bot.frontends.telegram import follow as live_news
from bot.frontends.telegram import handlers as on
from bot.frontends.telegram.buttons import MORE, PAGE, SOURCES, data_pattern
from bot.frontends.telegram.limits import ChatRateLimiter
from bot.frontends.telegram.polling import ALLOWED_UPDATES, run_polling
from bot.frontends.telegram.redact import protect_token_in_logs
from bot.frontends.telegram.replies import Replies
from bot.frontends.telegram.transport import POOL_SIZE, HandOverTransport
from bot.service import Service
from bot.settings import Environment

log = logging.getLogger(__name__)

PRIVATE_COMMANDS = ("ask", "sources", "source", "start", "help")
GROUP_COMMANDS = ("ask", "sources", "source", "help")
COMMAND_LANGUAGES = ("vi", "en")


async def register_commands(application: Application) -> None:
    """The command menus for private chats and groups, in Vietnamese (also the default) and English."""
    messages: Messages = application.bot_data["replies"].messages
    for lang in COMMAND_LANGUAGES:
        table = messages.mapping("commands", lang)
        for scope, names in (
            (BotCommandScopeAllPrivateChats(), PRIVATE_COMMANDS),
            (BotCommandScopeAllGroupChats(), GROUP_COMMANDS),
        ):
            commands = [BotCommand(name, table[name]) for name in names]
            await application.bot.set_my_commands(commands, scope=scope, language_code=lang)
            if lang == DEFAULT_LANGUAGE:
                await application.bot.set_my_commands(commands, scope=scope)


async def on_startup(application: Application) -> None:
    try:
        await register_commands(application)
    except TelegramError as exc:
        log.warning("could not register the command menus: %s", exc)
    replies = application.bot_data["replies"]
    lang = application.bot_data.get("run_lang", DEFAULT_LANGUAGE)
    mode = replies.messages.get(f"serve_mode_{replies.settings.telegram.mode}", lang)
    print(replies.messages.get("serve_connected", lang, name=application.bot.username, mode=mode), flush=True)


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


class QuietInvalidJson(logging.Filter):
    """Drops PTB's traceback for a response that is not JSON (a proxy's HTML error page):
    the failed request is reported once, by the poller or the error handler."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("Can not load invalid JSON data")


def quiet_library_logs() -> None:
    """Install ``QuietInvalidJson`` on every log handler (after ``protect_token_in_logs``)."""
    quiet = QuietInvalidJson()
    for handler in logging.getLogger().handlers:
        handler.addFilter(quiet)


def build_application(
    service: Service, messages: Messages, token: str, base_url: str | None = None, updater: bool = True
) -> Application:
    """The python-telegram-bot Application with every handler, talking to ``base_url`` if given
    (``updater=False``: without PTB's Updater; ``polling.run_polling`` fetches the updates)."""
    builder = (
        Application.builder()
        .token(token)
        .defaults(
            Defaults(
                parse_mode=ParseMode.HTML,
                link_preview_options=LinkPreviewOptions(is_disabled=True),
                allow_sending_without_reply=True,
            )
        )
        .rate_limiter(ChatRateLimiter())
        .concurrent_updates(service.settings.telegram.concurrent_updates)
        .post_init(on_startup)
    )
    if not updater:
        transport = HandOverTransport()  # polling.Dispatcher marks a reply's update done once written
        request = HTTPXRequest(connection_pool_size=POOL_SIZE, httpx_kwargs={"transport": transport})
        builder = builder.updater(None).request(request)
    if base_url:
        api_url, file_url = api_urls(base_url)
        builder = builder.base_url(api_url).base_file_url(file_url)
    application = builder.build()
    application.bot_data["replies"] = Replies(service, messages)
    if not updater:
        application.bot_data["transport"] = transport
    application.add_handler(TypeHandler(Update, on.gate), group=-1)
    live_news.register(application, service, messages)  # /latest, /follow, ... and the scheduled pull
    application.add_handlers(
        [
            CommandHandler("ask", on.on_ask),
            CommandHandler("start", on.on_start),
            CommandHandler("help", on.on_help),
            CommandHandler("sources", on.on_sources),
            CommandHandler("source", on.on_source),
            CommandHandler("reload", on.on_reload),
            MessageHandler(filters.ChatType.PRIVATE & filters.TEXT & ~filters.COMMAND, on.on_private_text),
            MessageHandler(
                filters.ChatType.GROUPS & filters.TEXT & ~filters.COMMAND & filters.Entity(MessageEntity.MENTION),
                on.on_mention,
            ),
            MessageHandler(filters.ChatType.PRIVATE & filters.COMMAND, on.on_unknown_command),
            CallbackQueryHandler(on.on_more, pattern=data_pattern(MORE)),
            CallbackQueryHandler(on.on_cited_sources, pattern=data_pattern(SOURCES)),
            CallbackQueryHandler(on.on_sources_page, pattern=data_pattern(PAGE)),
            CallbackQueryHandler(on.on_stale_button),
            InlineQueryHandler(on.on_inline),
        ]
    )
    application.add_error_handler(on.on_error)
    return application


def serve(
    service: Service,
    messages: Messages,
    environment: Environment,
    out: TextIO = sys.stdout,
    lang: str = DEFAULT_LANGUAGE,
) -> None:
    """Run the bot until Ctrl+C (or SIGTERM): long polling, or a webhook server if configured;
    the start-up lines in ``lang`` (the run's language; each chat is answered in its own)."""
    protect_token_in_logs(environment.token)
    quiet_library_logs()
    base_url = environment.api_base_url
    options = service.settings.telegram
    application = build_application(service, messages, environment.token, base_url, updater=options.mode == "webhook")
    where = base_url or "https://api.telegram.org/bot"
    application.bot_data["run_lang"] = lang
    host = where.split("://", 1)[-1].split("/", 1)[0]
    print(messages.get("serve_starting", lang, where=host), file=out, flush=True)
    if options.mode == "webhook":
        application.run_webhook(
            listen=options.webhook_listen,
            port=options.webhook_port,
            url_path=options.webhook_path,
            webhook_url=options.webhook_url,
            secret_token=environment.webhook_secret,
            allowed_updates=ALLOWED_UPDATES,
        )
    else:
        asyncio.run(run_polling(application, options, environment.token, on_started=on_startup))
