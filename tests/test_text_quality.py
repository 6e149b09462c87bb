"""Text changes made for answer quality: one i/y spelling, abbreviations, bigram weight."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.settings import ConfigError, load_settings, read_abbreviations
from bot.text.normalize import canonical_syllable
from bot.text.terms import TermOptions, expansion_terms, highlight_spans, index_terms, query_terms, segment

ABBR = TermOptions(abbreviations=(("hđnd", "hội đồng nhân dân"), ("tp", "thành phố"), ("ubnd", "ủy ban nhân dân")))


@pytest.mark.parametrize(
    "syllable, expected",
    [
        ("tỷ", "tỉ"),
        ("lý", "lí"),
        ("kỳ", "kì"),
        ("mỹ", "mĩ"),
        ("hy", "hi"),
        ("sỹ", "sĩ"),
        ("ty", "ti"),
        ("tỉ", "tỉ"),  # already canonical
        ("quý", "quý"),
        ("quy", "quy"),  # 'qu' + y is another vowel
        ("y", "y"),
        ("ý", "ý"),  # no initial consonant
        ("tuy", "tuy"),
        ("bay", "bay"),
        ("mấy", "mấy"),
        ("nguyễn", "nguyễn"),  # y after a vowel
        ("tin", "tin"),
        ("", ""),
    ],
)
def test_canonical_syllable(syllable, expected):
    assert canonical_syllable(syllable) == expected


def test_i_and_y_spellings_give_the_same_terms():
    assert index_terms("Tỷ lệ lý thuyết") == index_terms("tỉ lệ lí thuyết")
    assert [s for run in segment("Hoa Kỳ") for w in run for s in w] == ["hoa", "kì"]


def test_highlight_finds_the_other_spelling():
    text = "Tỷ lệ tăng 5%."
    assert highlight_spans(text, ["tỉ lệ"]) == [(0, 5)]


def test_expansion_adds_the_long_form_and_its_bigrams():
    terms = expansion_terms(["ubnd", "tỉnh"], ABBR)
    assert {"ủy", "ban", "nhân", "dân"} <= set(terms)
    assert {"ủy ban", "ban nhân", "nhân dân", "dân tỉnh"} <= set(terms)
    assert "ubnd" not in terms and "tỉnh" not in terms  # those are the text's own terms


def test_expansion_edge_cases():
    assert expansion_terms(["tỉnh", "ủy"], ABBR) == []  # no abbreviation
    assert expansion_terms(["ubnd"], TermOptions()) == []  # none configured
    # at the start and the end of a run, and two in a row
    assert "phố hội" in expansion_terms(["tp", "hđnd"], ABBR)
    # a gap ('' = a stop word) is not bridged
    assert not any(" " in t and t.startswith("dân ") for t in expansion_terms(["ubnd", "", "tỉnh"], ABBR))
    # a syllable that only contains an abbreviation is not expanded
    assert expansion_terms(["tpa", "ubndx"], ABBR) == []


def test_abbreviation_and_long_form_match_each_other():
    passage = set(index_terms("Chủ tịch UBND tỉnh Quảng Ninh", ABBR))
    question = query_terms("Chủ tịch ủy ban nhân dân tỉnh Quảng Ninh là ai?", ABBR, frozenset({"ai"}))
    assert {"ủy ban", "nhân dân", "dân tỉnh"} <= passage
    assert {"ủy ban", "nhân dân", "dân tỉnh"} <= set(question.terms)
    long_passage = set(index_terms("Chủ tịch Hội đồng nhân dân thành phố", ABBR))
    short_question = query_terms("Chủ tịch HĐND TP", ABBR)
    assert {"hội đồng", "nhân dân", "thành phố"} <= long_passage & set(short_question.terms)


def test_bigram_weight_scales_bigrams_only():
    query = query_terms("đảng viên mới", TermOptions(folded=False), bigram_weight=0.5)
    weights = dict(zip(query.terms, query.weights))
    assert weights["đảng"] == 1.0 and weights["đảng viên"] == 0.5
    folded = query_terms("đảng viên", TermOptions(), fold_weight=0.3, bigram_weight=0.5)
    weights = dict(zip(folded.terms, folded.weights))
    assert weights["~dang vien"] == pytest.approx(0.15) and weights["~dang"] == pytest.approx(0.3)


def test_read_abbreviations(tmp_path: Path):
    path = tmp_path / "abbr.yaml"
    path.write_text("UBND: Ủy ban  nhân dân\nTỶ: tỉ đồng\n", encoding="utf-8")
    assert read_abbreviations(path) == (("tỉ", "tỉ đồng"), ("ubnd", "ủy ban nhân dân"))
    assert read_abbreviations(None) == ()
    path.write_text("UB ND: Ủy ban\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="one word"):
        read_abbreviations(path)
    path.write_text("- UBND\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="mapping"):
        read_abbreviations(path)
    with pytest.raises(ConfigError, match="cannot read"):
        read_abbreviations(tmp_path / "missing.yaml")


def test_shipped_settings_load_the_abbreviations():
    settings = load_settings()
    table = dict(settings.terms.abbreviations)
    assert table["ubnd"] == "ủy ban nhân dân" and table["hđnd"] == "hội đồng nhân dân"


def test_question_words_typed_without_diacritics_are_not_searched():
    settings = load_settings()
    bare = query_terms("Thu do cua Viet Nam la gi, duoc dat o dau nao?", settings.terms, settings.stopwords)
    assert not {"~gi", "~nao", "~duoc"} & set(bare.terms)
    assert {"~thu do", "~viet nam", "~dau"} <= set(bare.terms)  # dau may be đầu: kept
    accented = query_terms("Thủ đô của Việt Nam là gì?", settings.terms, settings.stopwords)
    assert "gì" not in accented.terms and "~gi" not in accented.terms
