"""Button data, reading state back from messages, and Bot API addresses (pure functions)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from bot.frontends.messages import load_messages
from bot.frontends.telegram.app import api_urls
from bot.frontends.telegram.buttons import (
    ButtonData,
    button_data,
    parse_button_data,
    parse_template,
    question_of,
    sources_query_of,
    state_hash,
)

MESSAGES = load_messages()


@given(st.sampled_from("msp"), st.integers(0, 10_000), st.text(max_size=600))
def test_button_data_round_trips_within_64_bytes(kind, offset, state):
    data = button_data(kind, offset, state)
    assert len(data.encode()) <= 64
    parsed = parse_button_data(data)
    assert parsed == ButtonData(kind, offset, state_hash(state)) and parsed.matches(state)
    assert not parsed.matches(state + " ")


def test_foreign_data_is_refused():
    for data in ("", None, "m|1", "m|1|xyz", "q|1|00000000", "m|-1|00000000", "m|999999|00000000", "m|1|00000000|x"):
        assert parse_button_data(data) is None


@given(st.text(min_size=1, max_size=300).filter(lambda q: "\n" not in q and q.strip() == q and q))
def test_question_is_read_back_from_the_answer_header(question):
    for lang in ("vi", "en"):
        text = MESSAGES.get("answer_header", lang, question=question) + "\n\n1. Tiêu đề — Nguồn, 04/08/2020\n…"
        assert question_of(text, MESSAGES) == question


def test_sources_query_is_read_back_from_the_listing_header():
    assert sources_query_of(MESSAGES.get("sources_header", count=5) + "\n004 …", MESSAGES) == ""
    assert (
        sources_query_of(MESSAGES.get("sources_filtered", "en", count=2, query="Hà “Nội”") + "\n…", MESSAGES)
        == "Hà “Nội”"
    )
    assert sources_query_of("Xin chào!", MESSAGES) is None
    assert question_of("Xin chào!", MESSAGES) is None


def test_parse_template():
    assert parse_template("{a} x {b}!", "1 x 2 x 3!") == {"a": "1", "b": "2 x 3"}
    assert parse_template("Kết quả cho: {question}", "Kết quả: abc") is None


def test_api_urls():
    assert api_urls("http://127.0.0.1:8081/bot") == ("http://127.0.0.1:8081/bot", "http://127.0.0.1:8081/file/bot")
    assert api_urls("http://127.0.0.1:8081/") == ("http://127.0.0.1:8081/bot", "http://127.0.0.1:8081/file/bot")
    assert api_urls("https://h/api/bot{token}/test") == (
        "https://h/api/bot{token}/test",
        "https://h/api/file/bot{token}/test",
    )
