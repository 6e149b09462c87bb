"""Hostile and odd input through the text pipeline and the answerer (hypothesis)."""

import unicodedata

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from bot.answer.compose import answer_question
from bot.text.normalize import fold_accents, normalize
from bot.text.terms import highlight_spans, index_terms, query_terms
from figures import FULL, report

ODD = st.sampled_from(
    [
        "\u200b",
        "\u200f",
        "\u202e",
        "\ufeff",
        "\u0301",
        "\u0323",
        "\x00",
        "\x07",
        "\x1b",
        "\r",
        "\n",
        "_",
        "/",
        "-",
        "<b>",
        "</script>",
        "&amp;",
        "😀",
        "👨‍👩‍👧",
        "ﷺ",
        "𝕏",
        "Đ",
        "đ",
        "hoà",
        "thuỷ",
        "128/NQ-CP",
        "XIII.",
        "TP.",
    ]
)
TEXT = st.lists(st.one_of(st.text(min_size=0, max_size=30), ODD), max_size=30).map("".join)

CASES = {"tried": 0, "answered": 0}
SCALE = 10 if FULL else 1


@pytest.fixture(scope="module", autouse=True)
def _figures():
    yield
    report(
        "fuzz_text",
        [
            (
                "odd text: cases through the pipeline / through the answerer (none raised)",
                f"{CASES['tried']} / {CASES['answered']}",
            )
        ],
    )


@hsettings(max_examples=300 * SCALE, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(TEXT)
def test_text_pipeline_never_raises(text):
    CASES["tried"] += 1
    clean = normalize(text)
    assert unicodedata.is_normalized("NFC", clean)
    assert "_" not in clean
    for term in index_terms(clean):
        assert term and term == term.strip() and term.count(" ") <= 1
    q = query_terms(text)
    assert len(q.terms) == len(q.weights)
    for start, end in highlight_spans(text, list(q.words)):
        assert 0 <= start < end <= len(text)
    fold_accents(text)


@hsettings(
    max_examples=150 * SCALE,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(TEXT)
def test_answerer_never_raises(shipped_index, settings, text):
    CASES["answered"] += 1
    answer = answer_question(shipped_index, text, settings)
    assert answer.status in {"ok", "empty", "no_words", "no_answer"}
    for result in answer.results:
        for start, end in result.spans:
            assert 0 <= start < end <= len(result.text)


def test_very_long_inputs(shipped_index, settings):
    long_text = ("Đảng ủy Khối các cơ quan \u0301\u200b😀 " * 3000)[:100_000]
    assert index_terms(normalize(long_text))
    answer = answer_question(shipped_index, long_text, settings)
    assert answer.truncated and answer.status in {"ok", "no_answer"}
