"""Access: the allow-list for every kind of update, admin-only commands, forged and stale
button data, the token kept out of logs, and markup in the corpus shown as text."""

from __future__ import annotations

import dataclasses
import logging
import time
from typing import Any

import pytest

from bot.frontends.messages import load_messages
from bot.frontends.telegram.app import build_application
from bot.frontends.telegram.buttons import MORE, SOURCES, button_data
from bot.frontends.telegram.redact import RedactToken, redact_token
from bot.index.builder import ensure_index
from bot.service import Service
from conftest import write_article
from fake_bot_api import ADMIN, BOT, ENGLISH_USER, GROUP, TOKEN, USER, FakeBotApi, running, telegram_html_to_text

MESSAGES = load_messages()
QUESTION = "Chủ tịch HĐND TP Hồ Chí Minh là ai?"
STRANGER = dict(ENGLISH_USER, language_code="vi")
OTHER_GROUP = {"id": -1009999, "type": "supergroup", "title": "Nhóm lạ"}


def bot_running(api: FakeBotApi, settings, index, **telegram: Any):
    settings = dataclasses.replace(settings, telegram=dataclasses.replace(settings.telegram, **telegram))
    return running(build_application(Service(settings, index), MESSAGES, TOKEN, api.base_url))


def _to(chat_id: int):
    return lambda params: int(params["chat_id"]) == chat_id


def _texts(api: FakeBotApi, chat_id: int) -> list[str]:
    return [
        telegram_html_to_text(c.params["text"])
        for c in api.calls_of("sendMessage") + api.calls_of("editMessageText")
        if c.error is None and int(c.params["chat_id"]) == chat_id
    ]


def test_allow_list_holds_for_every_kind_of_update(shipped):
    settings, index = shipped
    with (
        FakeBotApi() as api,
        bot_running(
            api,
            settings,
            index,
            allowed_chat_ids=frozenset({USER["id"], GROUP["id"]}),
            admin_user_ids=frozenset({STRANGER["id"]}),
        ),
    ):
        api.send(QUESTION)  # an allowed chat, for a real answer and real buttons
        answer = api.wait_for("sendMessage", _to(USER["id"]))[0]
        more = next(b["callback_data"] for row in answer.params["reply_markup"]["inline_keyboard"] for b in row)
        for text in (QUESTION, f"/ask {QUESTION}", "/source 004", "/reload", "/start"):
            api.send(text, user=STRANGER)
        for text in (f"/ask@{BOT['username']} {QUESTION}", f"@{BOT['username']} {QUESTION}", "/sources", "/reload"):
            api.send(text, chat=OTHER_GROUP, user=STRANGER)
        stranger_copy = dict(api.current(answer), chat={"id": STRANGER["id"], "type": "private", "first_name": "A"})
        api.press(stranger_copy, more, user=STRANGER)  # a button under a message in a chat not allowed
        api.inline(QUESTION, user=STRANGER)
        api.inline(QUESTION)  # the allowed user, for comparison
        refusals = api.wait_for("sendMessage", _to(STRANGER["id"]), count=5)
        pressed = api.wait_for("answerCallbackQuery")[0]
        inline = api.wait_for("answerInlineQuery", count=2)
        api.send("/start")  # sent last: once it is answered, everything before has been handled
        api.wait_for("sendMessage", _to(USER["id"]), count=2)
        time.sleep(0.3)
    assert all(telegram_html_to_text(r.params["text"]) == MESSAGES.get("not_allowed") for r in refusals)
    assert len(_texts(api, STRANGER["id"])) == 5
    assert _texts(api, OTHER_GROUP["id"]) == []  # groups are not told, just ignored
    assert pressed.params.get("text") == MESSAGES.get("not_allowed") and not api.calls_of("editMessageText")
    by_user = {c.params["inline_query_id"]: c.params["results"] for c in inline}
    assert sorted(len(r) > 0 for r in by_user.values()) == [False, True]  # the stranger got nothing
    assert not [c for c in api.calls if c.error]


def test_admin_commands_refuse_everyone_else(shipped):
    settings, index = shipped
    with FakeBotApi() as api, bot_running(api, settings, index, admin_user_ids=frozenset({ADMIN["id"]})):
        api.send("/reload")
        api.send(f"/reload@{BOT['username']}", chat=GROUP)
        refused = api.wait_for("sendMessage", _to(USER["id"]))[0]
        in_group = api.wait_for("sendMessage", _to(GROUP["id"]))[0]
        api.send("/reload", chat=GROUP, user=ADMIN)
        done = api.wait_for("sendMessage", _to(GROUP["id"]), count=2, timeout=30)[1]
    for reply in (refused, in_group):
        assert telegram_html_to_text(reply.params["text"]) == MESSAGES.get("admin_only")
    assert telegram_html_to_text(done.params["text"]).startswith(
        MESSAGES.get("reload_done", articles=5, passages=index.n_passages)
    )
    with FakeBotApi() as api, bot_running(api, settings, index):  # no admins configured: nobody may reload
        api.send("/reload", user=ADMIN)
        nobody = api.wait_for("sendMessage", _to(ADMIN["id"]))[0]
    assert telegram_html_to_text(nobody.params["text"]) == MESSAGES.get("admin_only")


def test_forged_and_stale_buttons_never_show_other_content(shipped):
    settings, index = shipped
    with FakeBotApi() as api, bot_running(api, settings, index):
        api.send(QUESTION)
        answer = api.current(api.wait_for("sendMessage", _to(USER["id"]))[0])
        other_question = "Ai là Bí thư Thành ủy Hà Nội?"
        api.send(other_question, user=STRANGER)
        theirs = api.current(api.wait_for("sendMessage", _to(STRANGER["id"]))[0])
        forged = [
            (answer, button_data(SOURCES, 0, other_question)),  # someone else's question, on my message
            (answer, button_data(MORE, 3, other_question)),
            (theirs, button_data(MORE, 3, QUESTION)),  # my question's hash on their message
            (answer, "p|0|" + button_data(MORE, 0, QUESTION).rsplit("|", 1)[1]),  # wrong kind
            (answer, "m|3|" + "0" * 8 + "|extra"),
            (answer, "\u202e\u0000<b>&"),
            (answer, ""),
        ]
        for target, data in forged:
            api.press(target, data, user=STRANGER if target is theirs else USER)
        # a press on an inline message (no message at all) and on a message Telegram no longer shows
        api.push(
            callback_query={
                "id": "900",
                "from": USER,
                "chat_instance": "1",
                "inline_message_id": "AbC",
                "data": button_data(MORE, 3, QUESTION),
            }
        )
        api.push(
            callback_query={
                "id": "901",
                "from": USER,
                "chat_instance": "1",
                "data": button_data(MORE, 3, QUESTION),
                "message": {"chat": answer["chat"], "message_id": answer["message_id"], "date": 0},
            }
        )
        replies = api.wait_for("answerCallbackQuery", count=len(forged) + 2)
        time.sleep(0.3)
    assert all(r.params.get("text") == MESSAGES.get("stale_button") for r in replies)
    assert not api.calls_of("editMessageText")
    assert len(_texts(api, USER["id"])) == 1 and len(_texts(api, STRANGER["id"])) == 1  # nothing new shown
    assert not [c for c in api.calls if c.error]


def test_token_redacted_in_any_letter_case():
    assert redact_token(f"POST /bot{TOKEN.lower()}/sendmessage", TOKEN) == "POST /bot<token>/sendmessage"
    record = logging.LogRecord("telegram", logging.ERROR, __file__, 1, "failed: %s", (f"/BOT{TOKEN.upper()}/X",), None)
    RedactToken(TOKEN).filter(record)
    assert TOKEN.lower() not in record.getMessage().lower() and "<token>" in record.getMessage()


@pytest.mark.parametrize(
    "form",
    [
        TOKEN,
        TOKEN.replace(":", "%3A"),  # percent-encoded, as some error pages echo a request URL
        TOKEN.replace(":", "%3a").upper(),
        TOKEN.replace(":", "%253A"),  # encoded twice
        "".join(f"%{ord(c):02X}" for c in TOKEN),  # every character encoded
        "".join(f"%{ord(c):02x}" for c in TOKEN).swapcase(),
        TOKEN.replace(":", "\\u003a"),  # JSON-escaped
        TOKEN.split(":")[1],  # the secret alone (split at the colon)
        TOKEN.split(":")[1].lower(),
    ],
)
def test_token_redacted_in_every_form(form):
    secret = TOKEN.split(":")[1]
    text = f"Bad Gateway: POST /bot{form}/getUpdates failed (bot {TOKEN.split(':')[0]})"
    redacted = redact_token(text, TOKEN)
    assert "<token>" in redacted
    assert secret.lower() not in redacted.lower()
    assert "".join(f"%{ord(c):02x}" for c in secret[-6:]) not in redacted.lower()


@pytest.mark.parametrize("markup", ["<b>đậm</b>", "<script>alert('x')</script>", "Tôm & Cua &amp; &lt;"])
def test_markup_in_the_corpus_is_shown_as_text(shipped, tmp_path, markup):
    settings, _ = shipped
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    write_article(
        corpus,
        "a.md",
        f"Cảng Cái Mép {markup} đón tàu lớn",
        f"Cảng Cái Mép {markup} đã đón tàu container "
        "trọng tải 200.000 tấn vào sáng thứ Hai, theo thông báo của Cảng vụ Hàng hải Vũng Tàu về lịch tàu.",
        id=f"x{markup}",
        source=f"Báo {markup}",
        date="2024-03-04",
    )
    write_article(
        corpus,
        "b.md",
        "Hà Nội mở tuyến buýt điện",
        "Hà Nội mở thêm tuyến xe buýt điện nối nội thành "
        "với sân bay Nội Bài từ tháng Sáu, giá vé không đổi so với tuyến cũ.",
        id="b",
        date="2024-03-01",
    )
    settings = settings.with_paths(corpus, tmp_path / "index")
    index, _ = ensure_index(settings)
    with FakeBotApi() as api, bot_running(api, settings, index):
        api.send("Cảng Cái Mép đón tàu container trọng tải bao nhiêu?")
        answer = api.wait_for("sendMessage", _to(USER["id"]))[0]
        api.send(f"/source x{markup}")
        api.send("/sources")
        api.inline("Cảng Cái Mép đón tàu")
        replies = api.wait_for("sendMessage", _to(USER["id"]), count=3, timeout=15)
        inline = api.wait_for("answerInlineQuery")[0].params["results"]
    shown = [telegram_html_to_text(r.params["text"]) for r in replies]
    shown += [telegram_html_to_text(i["input_message_content"]["message_text"]) for i in inline]
    assert len(shown) == 3 + len(inline) and inline
    for text in shown:
        assert markup in text  # exactly as written in the corpus, not interpreted
    assert answer.params["text"].count("<b>") == answer.params["text"].count("</b>")
