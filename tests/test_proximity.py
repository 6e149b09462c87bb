"""Proximity: finding a question's terms in a passage, the best window, and the re-rank."""

from __future__ import annotations

from dataclasses import replace

import pytest

from bot.corpus.article import Article, Corpus
from bot.index.builder import build_index
from bot.index.storage import load_index
from bot.search.proximity import TermFinder, best_window, passage_tokens
from bot.search.ranking import rank_passages, rerank, term_weights
from bot.text.terms import query_terms


def test_passage_tokens_are_lower_case_words_and_punctuation():
    assert passage_tokens("Hà Nội, ngày 4/8.") == ["hà", "nội", ",", "ngày", "4", "/", "8", "."]


def test_finder_finds_syllables_and_bigrams_in_the_index_spelling():
    weights = {"hòa": 1.0, "bình": 1.0, "hòa bình": 0.5, "tỉ": 2.0, "~ha noi": 0.3}
    finder = TermFinder(weights)
    # old-style tone ("hoà") and y-spelling ("tỷ") are the index's "hòa" and "tỉ"
    hits = finder.hits(passage_tokens("Hoà Bình có 2 tỷ đồng, Hà Nội thì không."))
    assert set(hits) == {(0, "hòa"), (1, "bình"), (0, "hòa bình"), (4, "tỉ"), (7, "~ha noi")}


def test_punctuation_breaks_a_bigram():
    finder = TermFinder({"hòa": 1.0, "bình": 1.0, "hòa bình": 0.5})
    terms = {term for _, term in finder.hits(passage_tokens("hòa, bình"))}
    assert terms == {"hòa", "bình"}


def test_best_window_counts_each_term_once_within_the_width():
    weights = {"a": 1.0, "b": 2.0, "c": 4.0}
    hits = [(0, "a"), (1, "a"), (2, "b"), (30, "c"), (31, "a")]
    assert best_window(hits, weights, 5) == pytest.approx(5.0)  # c + a near the end
    assert best_window(hits, weights, 40) == pytest.approx(7.0)  # everything
    assert best_window(hits, weights, 1) == pytest.approx(4.0)
    assert best_window([], weights, 5) == 0.0


# --- the re-rank on a real index --------------------------------------------------------

SCATTERED = (
    "Cầu Long Biên được xây dựng từ năm 1898. Nhiều năm sau, người Pháp mở thêm các tuyến đường sắt "
    "khác ở miền Bắc, còn khánh thành một nhà ga mới tại Hải Phòng vào mùa xuân."
)
COMPACT = (
    "Cây cầu mới khánh thành năm 1902 tại Hà Nội. Lễ khánh thành cầu Long Biên diễn ra năm 1902 "
    "với sự có mặt của toàn quyền Đông Dương và nhiều quan chức."
)


@pytest.fixture(scope="module")
def two_passages(settings, tmp_path_factory):
    folder = tmp_path_factory.mktemp("proximity")
    articles = [
        Article(id="a", title="Đường sắt", text=SCATTERED, source="x", date=None),
        Article(id="b", title="Cầu", text=COMPACT, source="x", date=None),
    ]
    local = settings.with_paths(corpus=folder, index_dir=folder / "index")
    build_index(local, corpus=Corpus(articles, []))
    return local, load_index(folder / "index", settings.bm25, verify=False)


def _weighed(index, settings, question):
    query = query_terms(question, settings.terms, settings.stopwords, 0.3, 0.5)
    return term_weights(index, query)


def test_rerank_prefers_the_passage_whose_matches_stand_together(two_passages):
    settings, index = two_passages
    weighed = _weighed(index, settings, "Cầu Long Biên khánh thành năm nào?")
    tied = [(0, 10.0), (1, 10.0)]  # passage 0 scatters the words, passage 1 holds them in one sentence
    options = replace(settings.answer, window_weight=2.0, title_weight=0.0, name_weight=0.0)
    assert [p for p, _ in rerank(index, weighed, tied, options)] == [1, 0]
    off = replace(options, window_weight=0.0)
    assert rerank(index, weighed, tied, off) == tied
    shallow = replace(options, rerank_depth=1)  # only the first candidate is looked at
    assert [p for p, _ in rerank(index, weighed, tied, shallow)] == [0, 1]


def test_rerank_by_title_when_asked(two_passages):
    settings, index = two_passages
    weighed = _weighed(index, settings, "đường sắt")
    tied = [(1, 10.0), (0, 10.0)]
    options = replace(settings.answer, window_weight=0.0, title_weight=1.0, name_weight=0.0)
    assert rerank(index, weighed, tied, options)[0][0] == 0  # article "Đường sắt"


def test_rerank_lifts_negative_scores_too(two_passages):
    # in a tiny corpus BM25Okapi scores can be negative: the bonus must still raise them
    settings, index = two_passages
    weighed = _weighed(index, settings, "Cầu Long Biên khánh thành năm nào?")
    options = replace(settings.answer, window_weight=2.0, title_weight=0.0, name_weight=0.0)
    assert [p for p, _ in rerank(index, weighed, [(0, -1.0), (1, -1.0)], options)] == [1, 0]


def test_rank_passages_cuts_to_depth_after_reranking(two_passages):
    settings, index = two_passages
    question = "Cầu Long Biên khánh thành năm nào"
    deep = rank_passages(index, question, settings, 2)
    shallow = rank_passages(index, question, settings, 1)
    assert shallow.candidates == deep.candidates[:1]


def test_rerank_prefers_the_passage_that_holds_the_question_names(two_passages):
    settings, index = two_passages
    # both passages hold "khánh thành"; only passage 0 holds the name "Hải Phòng"
    weighed = _weighed(index, settings, "Nhà ga nào khánh thành ở Hải Phòng?")
    assert weighed.names == {"hải", "phòng", "~hai", "~phong"}
    tied = [(1, 10.0), (0, 10.0)]
    options = replace(settings.answer, window_weight=0.0, title_weight=0.0, name_weight=1.0)
    assert [p for p, _ in rerank(index, weighed, tied, options)] == [0, 1]
    off = replace(options, name_weight=0.0)
    assert rerank(index, weighed, tied, off) == tied


def test_matching_a_text_finds_the_same_hits_and_offsets_as_reading_every_token(shipped):
    settings, index = shipped
    texts = [index.passage_text(p) for p in range(index.n_passages)]
    texts.append("Hoà Bình có 2 TỶ đồng, Hà Nội thì không. Kỳ họp thứ 2 của HĐND TP.")
    for question in ["Chủ tịch HĐND TP Hồ Chí Minh là ai?", "ket nap bao nhieu dang vien", "Hòa Bình có mấy tỷ đồng"]:
        ranking = rank_passages(index, question, settings, 5)
        weights = dict(ranking.weighed.weights) | {"hòa bình": 1.0, "tỉ": 1.0, "~ti dong": 0.5}
        for text in texts:
            fast, slow = TermFinder(weights)._match_found(text), TermFinder(weights)._match_tokens(text)
            assert fast is not None
            assert fast.hits == slow.hits
            assert all(fast.offsets[i] == slow.offsets[i] for i, _ in fast.hits)
            half = [(0, len(text) // 2), (len(text) // 2, len(text))]
            assert fast.split(half) == slow.split(half)
    assert any(TermFinder({"tỉ": 1.0}).match(t).hits for t in texts)  # 'TỶ' written with y, in capitals


def test_a_text_whose_lower_case_changes_length_is_matched_token_by_token():
    text = "İstanbul có 2 tỷ dân"  # 'İ'.lower() is two characters
    match = TermFinder({"tỉ": 1.0, "~dan": 1.0}).match(text)
    assert match.hits == [(3, "tỉ"), (4, "~dan")] and match.within(0, len(text)) == [(14, "tỉ"), (17, "~dan")]
