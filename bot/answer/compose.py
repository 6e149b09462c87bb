"""Answering a question: the best passages with their article's title, source and date.

Front ends reach it through bot.service (``Service.ask``) and only format the result.
"""

from __future__ import annotations

import dataclasses
import enum
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from bot.answer.filters import NO_FILTER, ArticleFilter
from bot.answer.rerank import AnswerRanking, answer_sentence, answers, rank_answers
from bot.answer.sentence import AnswerSentence
from bot.corpus.article import Article, ArticleFields
from bot.index.parts import PassageIndex
from bot.search.ranking import coverage
from bot.settings import AnswerSettings, Settings
from bot.text.diacritics import is_vietnamese_syllable
from bot.text.normalize import fold_accents, has_diacritics, normalize
from bot.text.terms import FOLD_PREFIX, merge_spans, word_spans


class AnswerStatus(enum.StrEnum):
    """Why an answer has results or not (a str: compares and prints as its value)."""

    OK = "ok"  # results found
    EMPTY = "empty"  # no question
    NO_WORDS = "no_words"  # only punctuation, emoji or stop words
    NO_ANSWER = "no_answer"  # nothing in the corpus answers
    BAD_FILTER = "bad_filter"  # a filter at the end of the question cannot be read ('từ:hôm qua')


@dataclass(frozen=True)
class Result(ArticleFields):
    """One answering passage and where it comes from."""

    rank: int
    score: float
    passage_id: str
    passage: int  # row in the index
    article: Article  # the passage's article (metadata; no text)
    text: str
    matched: tuple[str, ...]  # question words found in the passage
    spans: tuple[tuple[int, int], ...]  # where they are in ``text``
    answer: AnswerSentence | None = None  # the sentence that answers best, and its answer phrase

    @property
    def doc_id(self) -> str:
        return self.article.id

    def to_json(self) -> dict[str, Any]:
        return {
            "rank": self.rank,
            "score": round(self.score, 6),
            "doc_id": self.doc_id,
            "passage_id": self.passage_id,
            "title": self.title,
            "source": self.source,
            "date": self.date.isoformat() if self.date else None,
            "url": self.url,
            "text": self.text,
            "matched": list(self.matched),
            "answer": self.answer.to_json() if self.answer else None,
        }


@dataclass(frozen=True)
class Answer:
    """What the bot found for a question, and its ``status`` (see AnswerStatus)."""

    question: str
    status: AnswerStatus
    results: tuple[Result, ...] = ()
    truncated: bool = False  # the question was cut to the maximum length
    has_more: bool = False  # more results exist after these
    offset: int = 0
    coverage: float = 0.0
    words: tuple[str, ...] = field(default=())
    absent: tuple[str, ...] = ()  # the question's names or codes that no article mentions
    filters: ArticleFilter = NO_FILTER  # the date and source filters the results passed
    bad_filter: str = ""  # BAD_FILTER: the filter value that could not be read

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"question": self.question, "results": [r.to_json() for r in self.results]}
        if self.filters:
            data["filters"] = self.filters.to_json()
        return data

    @property
    def not_vietnamese(self) -> bool:
        """The question has no diacritics and most of its words (abbreviations aside) cannot be
        Vietnamese syllables (an English question, say)."""
        words = [w for w in re.findall(r"[^\W\d_]+", self.question) if not (w.isupper() and len(w) > 1)]  # not UBND
        foreign = sum(not is_vietnamese_syllable(fold_accents(w).lower()) for w in words)
        return bool(words) and not has_diacritics(self.question) and 2 * foreign > len(words)


def prepare_question(question: str, max_chars: int) -> tuple[str, bool]:
    """The question normalised and cut to ``max_chars`` at a word boundary; and whether it was cut."""
    text = re.sub(r"\s+", " ", normalize(question or "")).strip()
    if len(text) <= max_chars:
        return text, False
    cut = text.rfind(" ", 0, max_chars)
    return text[: cut if cut > max_chars // 2 else max_chars].strip(), True


def _jaccard(a: set[str], b: set[str]) -> float:
    return len(a & b) / len(a | b) if a or b else 1.0


def _word_set(text: str) -> set[str]:
    return set(re.findall(r"\w+", text.lower()))


def answer_question(
    index: PassageIndex,
    question: str,
    settings: Settings,
    top_k_: int | None = None,
    offset: int = 0,
    filters: ArticleFilter = NO_FILTER,
) -> Answer:
    """The best passages for ``question`` (skipping ``offset`` results), or why there are none.

    With ``filters``, only passages of the articles they let through: the ranking goes
    ``FILTER_DEPTH`` passages deep and the "no answer" decision is made on the best of those.
    Of passages that score the same, the newer article's comes first."""
    options: AnswerSettings = settings.answer
    k = max(1, min(top_k_ or options.top_k, options.max_top_k))
    text, truncated = prepare_question(question, options.max_question_chars)
    if not text:
        return Answer(question or "", AnswerStatus.EMPTY, filters=filters)
    wanted = offset + k
    ranked = rank_answers(index, text, settings, max(wanted * 4, FILTER_DEPTH if filters else 20))
    ranked = _newer_first(index, ranked)
    if filters:
        ranked = _filtered(index, ranked, filters, options)
    ranking = ranked.ranking
    query = ranking.query
    content = content_terms(query.terms, settings.function_words)
    if not content:
        return Answer(text, AnswerStatus.NO_WORDS, truncated=truncated, filters=filters)  # only function words
    if not ranking.answered:
        return Answer(
            text,
            AnswerStatus.NO_ANSWER,
            truncated=truncated,
            coverage=ranking.coverage,
            words=query.words,
            absent=ranked.absent,
            filters=filters,
        )
    candidates = ranking.candidates
    chosen: list[tuple[int, float]] = []
    shown: list[set[str]] = []
    for passage, score in candidates:
        passage_text = index.passage_text(passage)
        if not content & ranked.finder.match(passage_text).found():
            continue  # matches function words only
        words = _word_set(passage_text)
        if any(_jaccard(words, other) >= options.duplicate_similarity for other in shown):
            continue
        shown.append(words)
        chosen.append((passage, score))
        if len(chosen) > wanted:
            break
    has_more = len(chosen) > wanted or (len(candidates) < ranking.touched and len(chosen) >= wanted)
    page = chosen[offset:wanted]
    shown_words = highlight_words(query.words, settings.function_words, query.accented)
    results = tuple(
        _result(index, offset + i + 1, p, s, shown_words, answer_sentence(index, ranked, p, text))
        for i, (p, s) in enumerate(page)
    )
    if not results:
        return Answer(
            text, AnswerStatus.NO_ANSWER, truncated=truncated, offset=offset, words=query.words, filters=filters
        )
    return Answer(
        text, AnswerStatus.OK, results, truncated, has_more, offset, ranking.coverage, query.words, filters=filters
    )


FILTER_DEPTH = 1000  # passages ranked when a filter may pass over many of them


def _newer_first(index: PassageIndex, ranked: AnswerRanking) -> AnswerRanking:
    """The ranking with passages of equal score ordered newer article first (undated last)."""
    candidates = ranked.ranking.candidates
    if len({round(score, 9) for _, score in candidates}) == len(candidates):
        return ranked

    def key(item: tuple[int, float]) -> tuple[float, int]:
        date = index.passage_article(item[0]).date
        return -round(item[1], 9), -(date.toordinal() if date else 0)

    return dataclasses.replace(
        ranked, ranking=dataclasses.replace(ranked.ranking, candidates=tuple(sorted(candidates, key=key)))
    )


def _filtered(
    index: PassageIndex, ranked: AnswerRanking, filters: ArticleFilter, options: AnswerSettings
) -> AnswerRanking:
    """The ranking's passages of the articles ``filters`` lets through; answered when the best
    of them answers (coverage and names, as without a filter)."""
    ranking = ranked.ranking
    kept = tuple(item for item in ranking.candidates if filters.matches(index.passage_article(item[0])))
    best = coverage(index, ranking.weighed, kept[0][0]) if kept else 0.0
    narrowed = dataclasses.replace(ranking, candidates=kept, coverage=best, touched=len(kept))
    answered = ranking.answered and answers(index, narrowed, options)
    return dataclasses.replace(ranked, ranking=dataclasses.replace(narrowed, answered=answered))


def content_terms(terms: Iterable[str], function_words: frozenset[str]) -> frozenset[str]:
    """The question's terms that are not function words ('của', 'là') nor made of them only."""
    folded = {FOLD_PREFIX + fold_accents(w) for w in function_words}
    return frozenset(
        term
        for term in terms
        if not all(s in function_words or FOLD_PREFIX + s in folded or s in folded for s in term.split(" "))
    )


def highlight_words(words: tuple[str, ...], function_words: frozenset[str], accented: bool) -> tuple[str, ...]:
    """The question's words worth showing in bold, without lone function words ('của', 'là').

    A question typed without diacritics is matched accent-free, where a lone syllable is
    ambiguous ('dang' is 'đảng', 'đang' and 'dáng'), so its words are shown in pairs of
    neighbours ('dang vien' finds 'đảng viên'), codes and numbers alone.
    """
    if not accented:
        singles = [w for w in words if not w.isalpha()]
        pairs = [f"{a} {b}" for a, b in zip(words, words[1:]) if a.isalpha() and b.isalpha()]
        return tuple(pairs + singles) if pairs or singles else words
    return tuple(w for w in words if " " in w or w not in function_words)


def _result(
    index: PassageIndex, rank: int, passage: int, score: float, words: tuple[str, ...], answer: AnswerSentence | None
) -> Result:
    article = index.passage_article(passage)
    text = index.passage_text(passage)
    found = {w: word_spans(text, w) for w in dict.fromkeys(words)}
    if not any(found.values()):  # the question's words are not there whole ("Phạm Xuân Thanh"): show their syllables
        found = {s: word_spans(text, s) for w in words for s in w.split(" ") if " " in w}
    matched = tuple(w for w, spans in found.items() if spans)
    spans = merge_spans(text, [span for spans in found.values() for span in spans])
    return Result(
        rank=rank,
        score=score,
        passage_id=f"{article.id}#{index.passage_position(passage)}",
        passage=passage,
        article=article,
        text=text,
        matched=matched,
        spans=tuple(spans),
        answer=answer,
    )
