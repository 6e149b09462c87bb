"""Hostile and odd updates through the real Application and the fake Bot API (hypothesis):
random texts and entities (offsets past the end included), captions, stickers, forwarded and
edited messages, channel posts, random button data and inline queries, empty updates.
No exception may escape a handler and every reply must be HTML that Telegram accepts.
Quick in CI; RELIABILITY_FULL=1 tries ten times as many cases."""

from __future__ import annotations

import itertools
import logging
import threading
import time
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from telegram import Update
from telegram.ext import TypeHandler

from bot.frontends.messages import load_messages
from bot.frontends.telegram.app import build_application
from bot.service import Service
from fake_bot_api import BOT, TOKEN, FakeBotApi, running, telegram_html_to_text
from figures import FULL, report
from test_fuzz_text import TEXT

CASES = 1500 if FULL else 150
PREFIX = st.sampled_from(
    [
        "",
        "",
        "/ask ",
        f"/ask@{BOT['username']} ",
        f"@{BOT['username']} ",
        "/source ",
        "/sources ",
        "/start",
        "/help",
        "/reload",
        "/ask@OtherBot ",
        "/",
        "@",
        "/ask\n",
    ]
)
ENTITY = st.fixed_dictionaries(
    {
        "type": st.sampled_from(
            [
                "bot_command",
                "mention",
                "bold",
                "italic",
                "url",
                "hashtag",
                "code",
                "pre",
                "spoiler",
                "text_link",
                "blockquote",
            ]
        ),
        "offset": st.integers(0, 400),
        "length": st.integers(0, 400),
    },
    optional={"url": st.just("https://example.org/x")},
)
MESSAGE_TEXT = st.tuples(PREFIX, TEXT).map("".join)
CHAT_TYPE = st.sampled_from(["private", "group", "supergroup", "channel"])
KIND = st.sampled_from(
    [
        "message",
        "edited_message",
        "channel_post",
        "edited_channel_post",
        "caption",
        "sticker",
        "forwarded",
        "reply",
        "callback_query",
        "inline_query",
        "empty",
    ]
)
CASE = st.fixed_dictionaries(
    {
        "kind": KIND,
        "chat_type": CHAT_TYPE,
        "text": MESSAGE_TEXT,
        "entities": st.lists(ENTITY, max_size=4),
        "data": st.one_of(st.text(max_size=70), st.from_regex(r"[msp]\|\d{1,6}\|[0-9a-f]{8}", fullmatch=True)),
        "lang": st.sampled_from([None, "vi", "en", "zz", ""]),
    }
)


class Watch(logging.Handler):
    """Counts error records from any logger while the fuzzed bot runs."""

    def __init__(self, records: list[str]) -> None:
        super().__init__(logging.ERROR)
        self.records = records

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(f"{record.name}: {record.getMessage()}")


class FuzzBot:
    """The running Application, plus what it did with each update."""

    def __init__(self, api: FakeBotApi):
        self.api = api
        self.handled: set[int] = set()
        self.errors: list[str] = []
        self.cond = threading.Condition()
        self.ids = itertools.count(10_000)
        self.tried = 0

    async def seen(self, update: Update, context: Any) -> None:
        with self.cond:
            self.handled.add(update.update_id)
            self.cond.notify_all()

    async def failed(self, update: object, context: Any) -> None:
        self.errors.append(repr(context.error))

    def wait(self, update_id: int, timeout: float = 15) -> None:
        deadline = time.monotonic() + timeout
        with self.cond:
            while update_id not in self.handled:
                left = deadline - time.monotonic()
                assert left > 0, f"update {update_id} was not handled within {timeout} s"
                self.cond.wait(left)


@pytest.fixture(scope="module")
def fuzz_bot(shipped):
    settings, index = shipped
    with FakeBotApi() as api:
        application = build_application(Service(settings, index), load_messages(), TOKEN, api.base_url)
        bot = FuzzBot(api)
        watch = Watch(bot.errors)
        logging.getLogger().addHandler(watch)
        application.add_handler(TypeHandler(Update, bot.seen), group=100)  # runs after the bot's own handlers
        application.add_error_handler(bot.failed)
        try:
            with running(application):
                yield bot
        finally:
            logging.getLogger().removeHandler(watch)
    report(
        "fuzz_handlers",
        [
            (
                "odd updates through the handlers: cases / exceptions escaping / refused replies",
                f"{bot.tried} / {len(bot.errors)} / {len([c for c in api.calls if c.error])}",
            )
        ],
    )


def _update(bot: FuzzBot, case: dict[str, Any]) -> dict[str, Any]:
    """A raw update of the case's kind in a chat of its own (so per-chat pacing never waits)."""
    n = next(bot.ids)
    user = {"id": n, "is_bot": False, "first_name": "Người thử"}
    if case["lang"] is not None:
        user["language_code"] = case["lang"]
    if case["chat_type"] == "private":
        chat = {"id": n, "type": "private", "first_name": "Người thử"}
    else:
        chat = {"id": -n, "type": case["chat_type"], "title": "Nhóm thử"}
    kind, text = case["kind"], case["text"]
    message: dict[str, Any] = {"message_id": n, "date": int(time.time()), "chat": chat}
    if chat["type"] != "channel":
        message["from"] = user
    if kind == "caption":
        message.update(
            photo=[{"file_id": "p", "file_unique_id": "p", "width": 1, "height": 1}],
            caption=text,
            caption_entities=case["entities"],
        )
    elif kind == "sticker":
        message["sticker"] = {
            "file_id": "s",
            "file_unique_id": "s",
            "type": "regular",
            "width": 512,
            "height": 512,
            "is_animated": False,
            "is_video": False,
            "emoji": text[:2] or "🙂",
        }
    else:
        message["text"] = text
        if case["entities"]:
            message["entities"] = case["entities"]
    if kind == "forwarded":
        message["forward_origin"] = {"type": "hidden_user", "date": 1, "sender_user_name": text[:20] or "x"}
    if kind == "reply":
        message["reply_to_message"] = {"message_id": n - 1, "date": 1, "chat": chat, "text": text[::-1] or "?"}
    if kind in ("edited_message", "edited_channel_post"):
        message["edit_date"] = int(time.time())
    if kind == "callback_query":
        return {
            "callback_query": {
                "id": str(n),
                "from": user,
                "chat_instance": "1",
                "data": case["data"],
                "message": dict(message, text=f"Kết quả cho: {text}", **{"from": BOT}),
            }
        }
    if kind == "inline_query":
        return {"inline_query": {"id": str(n), "from": user, "query": text[:256], "offset": ""}}
    if kind == "empty":
        return {}
    key = kind if kind in ("edited_message", "channel_post", "edited_channel_post") else "message"
    if key == "message" and chat["type"] == "channel":
        key = "channel_post"
    return {key: message}


@hsettings(max_examples=CASES, deadline=None, suppress_health_check=list(HealthCheck))
@given(CASE)
@example(
    {
        "kind": "message",
        "chat_type": "group",
        "text": "𐀀 @TinTucBot",
        "data": "",
        "lang": None,  # found by the fuzzer:
        "entities": [{"type": "mention", "offset": 0, "length": 1}],
    }
)  # an entity cutting a surrogate pair
def test_odd_updates_never_escape_and_replies_stay_valid(fuzz_bot, case):
    api = fuzz_bot.api
    start, errors = len(api.calls), len(fuzz_bot.errors)
    update = api.push(**_update(fuzz_bot, case))
    fuzz_bot.tried += 1
    fuzz_bot.wait(update["update_id"])
    with api.cond:
        calls = api.calls[start:]
    assert [c.error for c in calls if c.error] == []  # Telegram would have accepted every request
    for call in calls:
        if call.method in ("sendMessage", "editMessageText"):
            assert telegram_html_to_text(call.params["text"]).strip()
    assert fuzz_bot.errors[errors:] == []  # nothing reached the error handlers or the error log
