"""End to end: the real python-telegram-bot Application against a fake Bot API on 127.0.0.1."""

from __future__ import annotations

import dataclasses
import io
import logging
import sys
import time
from typing import Any

import pytest

from bot.answer.compose import answer_question
from bot.answer.sources import list_sources
from bot.frontends.console import run_console
from bot.frontends.messages import load_messages
from bot.frontends.telegram.app import build_application
from bot.frontends.telegram.buttons import parse_button_data
from bot.frontends.telegram.redact import RedactToken
from bot.index.builder import ensure_index
from bot.service import Service
from fake_bot_api import (
    ADMIN,
    BOT,
    ENGLISH_USER,
    GROUP,
    TOKEN,
    USER,
    FakeBotApi,
    running,
    telegram_html_to_text,
)

QUESTION = "Chủ tịch HĐND TP Hồ Chí Minh là ai?"
MESSAGES = load_messages()


@pytest.fixture
def api():
    with FakeBotApi() as server:
        yield server


def bot_running(api: FakeBotApi, settings, index, **telegram: Any):
    settings = dataclasses.replace(settings, telegram=dataclasses.replace(settings.telegram, **telegram))
    return running(build_application(Service(settings, index), MESSAGES, TOKEN, api.base_url))


@pytest.fixture
def bot(api, shipped):
    settings, index = shipped
    with bot_running(api, settings, index, admin_user_ids=frozenset({ADMIN["id"]}), sources_page_size=2):
        yield api


def shown(params: dict[str, Any]) -> str:
    """Check a sent or edited message like Telegram would; return the text users see."""
    text = params["text"]
    assert params.get("parse_mode") == "HTML"
    assert 0 < len(text) <= 4096
    plain = telegram_html_to_text(text)  # raises on any tag Telegram refuses or bad nesting
    for _, data in buttons(params):
        assert len(data.encode()) <= 64
    return plain


def buttons(params: dict[str, Any]) -> list[tuple[str, str]]:
    markup = params.get("reply_markup") or {}
    return [(b["text"], b["callback_data"]) for row in markup.get("inline_keyboard", []) for b in row]


def button(params: dict[str, Any], label_key: str) -> str:
    label = MESSAGES.get(label_key)
    found = [data for text, data in buttons(params) if text == label]
    assert found, f"no {label!r} button in {buttons(params)}"
    return found[0]


def to_chat(chat_id: int, reply_to: int | None = None):
    def where(params: dict[str, Any]) -> bool:
        if int(params["chat_id"]) != chat_id:
            return False
        return reply_to is None or (params.get("reply_parameters") or {}).get("message_id") == reply_to

    return where


# --- private chat ----------------------------------------------------------------------------


def test_private_question_gets_passages_with_title_source_date_and_buttons(bot, shipped):
    settings, index = shipped
    expected = answer_question(index, QUESTION, settings)
    bot.send(QUESTION)
    reply = bot.wait_for("sendMessage", to_chat(USER["id"]))[0]
    typing = bot.wait_for("sendChatAction")[0]
    assert typing.params["action"] == "typing" and typing.at <= reply.at
    plain = shown(reply.params)
    lines = plain.splitlines()
    assert lines[0] == f"Kết quả cho: {expected.question}"
    assert "Nguyễn Thị Lệ" in plain  # the fact the question asks for
    for result in expected.results:
        assert f"{result.rank}. {result.title} — {result.source}, {result.date:%d/%m/%Y}" in lines
    assert "<b>Chủ tịch HĐND TP</b>" in reply.params["text"] or "<b>HĐND</b>" in reply.params["text"]
    assert "reply_parameters" not in reply.params  # private chats are not quoted
    assert [parse_button_data(d).kind for _, d in buttons(reply.params)] == ["m", "s"]
    assert button(reply.params, "button_more") and button(reply.params, "button_sources")


def test_more_results_edits_the_message_and_works_after_a_restart(api, shipped):
    settings, index = shipped
    with bot_running(api, settings, index):
        api.send(QUESTION)
        first = api.wait_for("sendMessage", to_chat(USER["id"]))[0]
    message = api.current(first)
    more = button(first.params, "button_more")
    with bot_running(api, settings, index):  # a new process would know nothing either
        api.press(message, more)
        edit = api.wait_for("editMessageText")[0]
        assert api.wait_for("answerCallbackQuery")[0].params.get("text") is None
        plain = shown(edit.params)
        assert int(edit.params["message_id"]) == message["message_id"]
        assert plain.splitlines()[0] == message["text"].splitlines()[0]
        second_page = answer_question(index, QUESTION, settings, offset=settings.answer.top_k)
        assert [r.rank for r in second_page.results] == [4, 5, 6]
        for result in second_page.results:
            assert f"{result.rank}. {result.title}" in plain
        assert "\n1. " not in plain
        labels = [text for text, _ in buttons(edit.params)]
        assert MESSAGES.get("button_prev") in labels and MESSAGES.get("button_sources") in labels
        # and back again
        api.press(api.current(edit), button(edit.params, "button_prev"))
        back = api.wait_for("editMessageText", count=2)[1]
        assert shown(back.params) == message["text"]


def test_sources_button_lists_the_articles_of_the_shown_passages(bot, shipped):
    settings, index = shipped
    bot.send(QUESTION)
    answer = bot.wait_for("sendMessage", to_chat(USER["id"]))[0]
    message = bot.current(answer)
    bot.press(message, button(answer.params, "button_sources"))
    reply = bot.wait_for("sendMessage", to_chat(USER["id"], reply_to=message["message_id"]))[0]
    plain = shown(reply.params)
    assert plain.splitlines()[0] == MESSAGES.get("passage_sources_header")
    expected = answer_question(index, QUESTION, settings)
    for result in expected.results:
        assert f"[{result.doc_id}]" not in plain  # ids are shown in <code>, not brackets
        assert (
            f"<code>{result.doc_id}</code> {result.title} — {result.source}, {result.date:%d/%m/%Y}"
            in reply.params["text"]
        )
    others = {a.id for a in index.articles} - {r.doc_id for r in expected.results}
    assert all(f"<code>{other}</code>" not in reply.params["text"] for other in others)


def test_forged_or_stale_button_data_is_answered_politely(bot):
    bot.send(QUESTION)
    answer = bot.wait_for("sendMessage", to_chat(USER["id"]))[0]
    message = bot.current(answer)
    bot.send("/start")
    start = bot.wait_for("sendMessage", to_chat(USER["id"]), count=2)[1]
    forged = [
        (message, "m|3|deadbeef"),  # the hash does not match the question
        (message, "x" * 64),
        (message, "m|-1|" + button(answer.params, "button_more").rsplit("|", 1)[1]),
        (message, "m|99999999|00000000"),
        (bot.current(start), button(answer.params, "button_more")),  # a real hash on another message
    ]
    for target, data in forged:
        bot.press(target, data)
    replies = bot.wait_for("answerCallbackQuery", count=len(forged))
    assert all(r.params.get("text") == MESSAGES.get("stale_button") for r in replies)
    assert not bot.calls_of("editMessageText")


def test_empty_question_and_unknown_command_get_usage(bot):
    bot.send("/ask")
    usage = shown(bot.wait_for("sendMessage", to_chat(USER["id"]))[0].params)
    assert usage.startswith("Cách dùng: /ask <câu hỏi>")
    bot.send("/frobnicate")
    unknown = shown(bot.wait_for("sendMessage", to_chat(USER["id"]), count=2)[1].params)
    assert unknown == MESSAGES.get("unknown_command")


def test_long_question_is_cut_with_a_note(bot, shipped):
    settings, _ = shipped
    question = "Đại hội Đảng bộ Khối các cơ quan thành phố Hà Nội lần thứ XIII " * 20
    assert len(question) > settings.answer.max_question_chars
    bot.send(question)
    plain = shown(bot.wait_for("sendMessage", to_chat(USER["id"]))[0].params)
    assert MESSAGES.get("truncated", limit=settings.answer.max_question_chars) in plain
    assert len(plain.splitlines()[0]) <= len("Kết quả cho: ") + settings.answer.max_question_chars


def test_no_answer_says_so_and_suggests_how_to_ask(bot):
    bot.send("Giá vàng SJC hôm nay tại Cần Thơ bao nhiêu tiền một lượng?")
    plain = shown(bot.wait_for("sendMessage", to_chat(USER["id"]))[0].params)
    assert MESSAGES.get("no_answer") in plain and MESSAGES.get("no_answer_hint") in plain


def test_start_and_help_in_vietnamese_and_english(bot):
    bot.send("/start")
    start = shown(bot.wait_for("sendMessage", to_chat(USER["id"]))[0].params)
    for example in MESSAGES.examples("vi")[:2]:
        assert example in start
    assert "5 bài báo" in start
    bot.send("/help", user=ENGLISH_USER)
    help_en = shown(bot.wait_for("sendMessage", to_chat(ENGLISH_USER["id"]))[0].params)
    assert help_en.startswith("Send a question")
    for command in ("/ask", "/sources", "/source", "/start", "/help", "/reload", f"@{BOT['username']}"):
        assert command in help_en


def test_commands_are_registered_for_private_chats_and_groups_in_both_languages(bot):
    bot.send("/start")
    bot.wait_for("sendMessage")
    calls = bot.calls_of("setMyCommands")
    seen = {
        (c.params["scope"]["type"], c.params.get("language_code")): [x["command"] for x in c.params["commands"]]
        for c in calls
    }
    for lang in ("vi", "en", None):
        assert seen[("all_private_chats", lang)] == ["ask", "sources", "source", "start", "help"]
        assert seen[("all_group_chats", lang)] == ["ask", "sources", "source", "help"]
    english = next(c for c in calls if c.params.get("language_code") == "en")
    assert english.params["commands"][0]["description"] == MESSAGES.mapping("commands", "en")["ask"]


# --- groups --------------------------------------------------------------------------------


def test_group_ask_other_bot_mention_reply_and_chatter(bot, shipped):
    settings, index = shipped
    asked = bot.send(f"/ask@{BOT['username']} {QUESTION}", chat=GROUP)
    other = bot.send(f"/ask@OtherBot {QUESTION}", chat=GROUP)
    chatter = bot.send("Chiều nay họp giao ban lúc mấy giờ nhỉ mọi người?", chat=GROUP, user=ADMIN)
    mention_q = "Ai là Bí thư Thành ủy Hà Nội dự Đại hội?"
    mention = bot.send(f"@{BOT['username']} {mention_q}", chat=GROUP, user=ADMIN)
    original = bot.message(
        "Đại hội Đảng bộ Khối Các cơ quan thành phố Hải Phòng diễn ra ngày nào?", chat=GROUP, user=ADMIN
    )
    by_reply = bot.send("/ask", chat=GROUP, reply_to=original)

    first = bot.wait_for("sendMessage", to_chat(GROUP["id"], reply_to=asked["message_id"]))[0]
    assert shown(first.params).splitlines()[0] == f"Kết quả cho: {QUESTION}"
    second = bot.wait_for("sendMessage", to_chat(GROUP["id"], reply_to=mention["message_id"]))[0]
    plain = shown(second.params)
    assert plain.splitlines()[0] == f"Kết quả cho: {mention_q}"
    assert "Vương Đình Huệ" in plain
    third = bot.wait_for("sendMessage", to_chat(GROUP["id"], reply_to=by_reply["message_id"]))[0]
    assert shown(third.params).splitlines()[0] == f"Kết quả cho: {original['text']}"
    time.sleep(0.3)
    replied_to = {(c.params.get("reply_parameters") or {}).get("message_id") for c in bot.calls_of("sendMessage")}
    assert other["message_id"] not in replied_to and chatter["message_id"] not in replied_to
    assert len([c for c in bot.calls_of("sendMessage") if int(c.params["chat_id"]) == GROUP["id"]]) == 3


def test_group_ask_without_question_gets_usage(bot):
    asked = bot.send(f"/ask@{BOT['username']}", chat=GROUP)
    reply = bot.wait_for("sendMessage", to_chat(GROUP["id"], reply_to=asked["message_id"]))[0]
    assert shown(reply.params).startswith("Cách dùng: /ask")


# --- /sources, /source, inline ----------------------------------------------------------------


def test_sources_pages_through_every_article(bot, shipped):
    _, index = shipped
    bot.send("/sources")
    first = bot.wait_for("sendMessage", to_chat(USER["id"]))[0]
    pages = [shown(first.params)]
    assert pages[0].splitlines()[0] == "Kho bài viết có 5 bài:" and pages[0].endswith("Trang 1/3")
    assert [t for t, _ in buttons(first.params)] == [MESSAGES.get("button_next_page")]
    message, params = bot.current(first), first.params
    for n in (2, 3):
        bot.press(message, button(params, "button_next_page"))
        edit = bot.wait_for("editMessageText", count=n - 1)[-1]
        pages.append(shown(edit.params))
        assert pages[-1].endswith(f"Trang {n}/3")
        message, params = bot.current(edit), edit.params
    assert [t for t, _ in buttons(params)] == [MESSAGES.get("button_prev_page")]
    listed = [
        line.split(" ", 1)[0]
        for page in pages
        for line in page.splitlines()[1:]
        if line and not line.startswith("Trang")
    ]
    assert listed == [s.id for s in list_sources(index)]


def test_sources_filter_and_one_source(bot, shipped):
    _, index = shipped
    bot.send("/sources ha noi")
    plain = shown(bot.wait_for("sendMessage", to_chat(USER["id"]))[0].params)
    assert plain.splitlines()[0] == "1 bài khớp với “ha noi”:"
    assert plain.splitlines()[1].startswith("004 Đại hội đại biểu Đảng bộ Khối các cơ quan TP Hà Nội")
    bot.send("/source 004")
    detail = shown(bot.wait_for("sendMessage", to_chat(USER["id"]), count=2)[1].params)
    number = index.find_article("004")
    article, passages = index.articles[number], len(index.article_passages(number))
    for line in (article.title, "Nguồn: Kinh tế và Đô thị", "Ngày: 04/08/2020", f"Số đoạn: {passages}"):
        assert line in detail
    assert "Vương Đình Huệ" in detail  # its first lines
    bot.send("/source 999")
    missing = shown(bot.wait_for("sendMessage", to_chat(USER["id"]), count=3)[2].params)
    assert missing == MESSAGES.get("source_not_found", id="999")
    bot.send("/source")
    usage = shown(bot.wait_for("sendMessage", to_chat(USER["id"]), count=4)[3].params)
    assert usage.startswith("Cách dùng: /source")


def test_inline_query_offers_passages(bot, shipped):
    settings, index = shipped
    bot.inline(QUESTION)
    call = bot.wait_for("answerInlineQuery")[0]
    results = call.params["results"]
    expected = answer_question(index, QUESTION, settings, top_k_=settings.telegram.inline_results)
    assert len(results) == len(expected.results) >= 3
    for item, result in zip(results, expected.results):
        assert item["type"] == "article" and len(item["id"].encode()) <= 64
        assert item["title"] == result.title
        assert item["description"] == f"{result.source}, {result.date:%d/%m/%Y}"
        content = item["input_message_content"]
        plain = telegram_html_to_text(content["message_text"])
        assert content["parse_mode"] == "HTML" and len(content["message_text"]) <= 4096
        assert result.text.split(".")[0][:40] in plain
    bot.inline("   ")
    assert bot.wait_for("answerInlineQuery", count=2)[1].params["results"] == []


# --- administration and robustness -------------------------------------------------------------


def test_reload_by_admin_picks_up_a_new_article_and_strangers_are_refused(api, own, tmp_path):
    settings = own
    index, _ = ensure_index(settings)
    question = "Hợp tác xã Tân Lợi trồng bao nhiêu héc-ta sầu riêng?"
    with bot_running(api, settings, index, admin_user_ids=frozenset({ADMIN["id"]})):
        api.send(question)
        before = shown(api.wait_for("sendMessage", to_chat(USER["id"]))[0].params)
        assert MESSAGES.get("no_answer") in before
        (tmp_path / "corpus" / "900-hop-tac-xa.md").write_text(
            "---\nid: '900'\ntitle: Hợp tác xã Tân Lợi mở rộng vùng sầu riêng\nsource: Báo Nông thôn\n"
            "date: 2023-05-12\n---\n\nNăm nay Hợp tác xã Tân Lợi ở huyện Krông Pắc trồng thêm 120 héc-ta sầu riêng, "
            "nâng tổng diện tích của hợp tác xã lên 450 héc-ta. Ban giám đốc hợp tác xã cho biết sầu riêng "
            "được bao tiêu toàn bộ cho doanh nghiệp xuất khẩu sang Trung Quốc.\n",
            encoding="utf-8",
        )
        api.send("/reload")
        refused = shown(api.wait_for("sendMessage", to_chat(USER["id"]), count=2)[1].params)
        assert refused == MESSAGES.get("admin_only")
        api.send("/reload", user=ADMIN)
        done = shown(api.wait_for("sendMessage", to_chat(ADMIN["id"]))[0].params)
        assert done.startswith(MESSAGES.get("reload_done", articles=6, passages=index.n_passages + 1))
        api.send(question)
        after = shown(api.wait_for("sendMessage", to_chat(USER["id"]), count=3)[2].params)
        assert "1. Hợp tác xã Tân Lợi mở rộng vùng sầu riêng — Báo Nông thôn, 12/05/2023" in after
        assert "120 héc-ta" in after


def test_allow_list_ignores_other_chats(api, shipped):
    settings, index = shipped
    with bot_running(api, settings, index, allowed_chat_ids=frozenset({USER["id"]})):
        api.send(QUESTION, user=ENGLISH_USER)
        api.send(f"/ask@{BOT['username']} {QUESTION}", chat=GROUP)
        refused = api.wait_for("sendMessage", to_chat(ENGLISH_USER["id"]))[0]
        assert shown(refused.params) == MESSAGES.get("not_allowed", "en")
        api.send(QUESTION)
        api.wait_for("sendMessage", to_chat(USER["id"]))
        time.sleep(0.2)
        assert not [c for c in api.calls_of("sendMessage") if int(c.params["chat_id"]) == GROUP["id"]]


def test_a_failure_is_logged_and_answered_with_an_apology(bot, caplog):
    bot.fail_next("sendMessage", 400, "Bad Request: simulated failure")
    with caplog.at_level(logging.ERROR, logger="bot.frontends.telegram.app"):
        bot.send(QUESTION)
        apology = bot.wait_for("sendMessage", to_chat(USER["id"]))[0]
    assert shown(apology.params) == MESSAGES.get("error")
    assert any("simulated failure" in r.getMessage().lower() for r in caplog.records)


def test_token_is_redacted_from_log_records():
    redact = RedactToken(TOKEN)
    try:
        raise RuntimeError(f"POST https://api.telegram.org/bot{TOKEN}/getMe failed")
    except RuntimeError:
        record = logging.LogRecord(
            "httpx", logging.INFO, __file__, 1, "request %s", (f"/bot{TOKEN}/getMe",), sys.exc_info()
        )
    assert redact.filter(record)
    formatted = logging.Formatter().format(record)
    assert TOKEN not in formatted and "<token>" in formatted and "getMe" in formatted


# --- console parity ----------------------------------------------------------------------------


def test_console_answers_with_the_same_text_as_the_bot(bot, shipped):
    settings, index = shipped
    out = io.StringIO()
    run_console(Service(settings, index), MESSAGES, stdin=io.StringIO(f"{QUESTION}\n/source 004\n"), stdout=out)
    bot.send(QUESTION)
    bot.send("/source 004")
    answer, source = bot.wait_for("sendMessage", to_chat(USER["id"]), count=2)
    answer_text = shown(answer.params)
    console = out.getvalue().replace("**", "")
    assert answer_text in console
    assert shown(source.params) in console
    assert MESSAGES.get("more_results") in console  # the console's stand-in for the button


def test_links_and_special_characters_are_escaped(api, shipped, tmp_path):
    settings, _ = shipped
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "a.md").write_text(
        "---\nid: a&b\ntitle: Giá điện <bậc 1> & bậc 2 tăng từ tháng 5\nsource: Báo Công Thương & Đời sống\n"
        'date: 2024-05-02\nurl: https://example.org/gia-dien?a=1&b="2"\n---\n\n'
        "Từ ngày 4/5, giá điện bán lẻ bình quân tăng 4,8% so với trước, tức là <2.000 đồng> mỗi kWh cho bậc 1 "
        "& bậc 2, theo quyết định của Bộ Công Thương về điều chỉnh giá bán lẻ điện sinh hoạt.\n",
        encoding="utf-8",
    )
    for n, topic in enumerate(["Hà Nội khởi công cầu Tứ Liên bắc qua sông Hồng", "Đà Nẵng đón khách du lịch dịp lễ"]):
        (corpus / f"other{n}.md").write_text(
            f"---\nid: o{n}\ntitle: {topic}\nsource: Báo Tin tức\ndate: 2024-04-0{n + 1}\n---\n\n"
            f"{topic}. Thành phố cho biết công việc được chuẩn bị kỹ lưỡng trong nhiều tháng qua với sự tham gia "
            "của nhiều sở ngành, và người dân được thông báo trước về các thay đổi trong giao thông.\n",
            encoding="utf-8",
        )
    settings = settings.with_paths(corpus, tmp_path / "index")
    index, _ = ensure_index(settings)
    with bot_running(api, settings, index):
        api.send("Giá điện bán lẻ tăng bao nhiêu phần trăm?")
        reply = api.wait_for("sendMessage", to_chat(USER["id"]))[0]
        html_text = reply.params["text"]
        plain = shown(reply.params)
        assert '<a href="https://example.org/gia-dien?a=1&amp;b=&quot;2&quot;">' in html_text
        assert "1. Giá điện <bậc 1> & bậc 2 tăng từ tháng 5 — Báo Công Thương & Đời sống, 02/05/2024" in plain
        assert "<2.000 đồng>" in plain and "4,8%" in plain
        api.press(api.current(reply), button(reply.params, "button_sources"))
        cited = shown(api.wait_for("sendMessage", to_chat(USER["id"]), count=2)[1].params)
        assert "a&b Giá điện <bậc 1> & bậc 2" in cited and 'https://example.org/gia-dien?a=1&b="2"' in cited
        api.send("/source a&b")
        detail = shown(api.wait_for("sendMessage", to_chat(USER["id"]), count=3)[2].params)
        assert 'Liên kết: https://example.org/gia-dien?a=1&b="2"' in detail
