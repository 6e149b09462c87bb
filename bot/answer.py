"""Answering a question: the best passages with their article's title, source and date.

Front ends (CLI, console, Telegram) call ``answer_question`` and only format the result.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from dataclasses import dataclass, field
from typing import Any

from bot.config import AnswerSettings, Settings
from bot.index import PassageIndex, term_hash
from bot.search import search
from bot.proximity import TermFinder, best_window, passage_tokens
from bot.text import QueryTerms, highlight_spans, normalize, query_terms


@dataclass(frozen=True)
class Result:
    """One answering passage and where it comes from."""

    rank: int
    score: float
    doc_id: str
    passage_id: str
    passage: int  # row in the index
    title: str
    source: str | None
    date: dt.date | None
    url: str | None
    author: str | None
    text: str
    matched: tuple[str, ...]  # question words found in the passage
    spans: tuple[tuple[int, int], ...]  # where they are in ``text``

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
        }


@dataclass(frozen=True)
class Answer:
    """What the bot found for a question.

    ``status`` is one of: "ok" (results found), "empty" (no question), "no_words" (only
    punctuation, emoji or stop words), "no_answer" (nothing in the corpus answers).
    """

    question: str
    status: str
    results: tuple[Result, ...] = ()
    truncated: bool = False  # the question was cut to the maximum length
    has_more: bool = False  # more results exist after these
    offset: int = 0
    coverage: float = 0.0
    words: tuple[str, ...] = field(default=())

    def to_json(self) -> dict[str, Any]:
        return {"question": self.question, "results": [r.to_json() for r in self.results]}


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


def _weight_idf(n_passages: int, df: int) -> float:
    """An always-positive idf (log(1 + (N - df + 0.5) / (df + 0.5))) for weighing question words.

    BM25Okapi's own idf is zero or negative for words in half the passages or more, which in
    a small corpus is most words; this one still orders words from common to rare.
    """
    return math.log(1 + (n_passages - df + 0.5) / (df + 0.5))


@dataclass(frozen=True)
class TermWeights:
    """A question's distinct terms known to the index, each with its weight (idf times term
    weight), and the weight of the terms the index has never seen."""

    weights: dict[str, float]
    unknown: float
    names: frozenset[str] = frozenset()  # the known terms that are syllables of names

    @property
    def total(self) -> float:
        return sum(self.weights.values()) + self.unknown


def term_weights(index: PassageIndex, query: QueryTerms) -> TermWeights:
    """Weigh the question's terms; unknown words weigh as much as the rarest word."""
    weights: dict[str, float] = {}
    unknown = 0.0
    seen: set[str] = set()
    n = index.n_live
    for term, weight in zip(query.terms, query.weights):
        if term in seen:
            continue
        seen.add(term)
        df = index.df(term_hash(term))
        if df == 0:
            unknown += weight * _weight_idf(n, 0)
        else:
            weights[term] = weight * _weight_idf(n, df)
    return TermWeights(weights, unknown, query.names & weights.keys())


def coverage(index: PassageIndex, weighed: TermWeights, passage: int) -> float:
    """Share of the question's weight that the passage matches.

    Words the corpus has never seen weigh as much as the rarest word, so a question about
    something absent scores low even when a few common words match.
    """
    matched = sum(w for term, w in weighed.weights.items() if index.contains(term_hash(term), passage))
    total = weighed.total
    return matched / total if total > 0 else 0.0


def rerank(
    index: PassageIndex,
    weighed: TermWeights,
    candidates: list[tuple[int, float]],
    options: AnswerSettings,
) -> list[tuple[int, float]]:
    """The first ``rerank_depth`` candidates re-scored; the others follow unchanged.

    A score grows by its size times (1 + window_weight * window share) * (1 + name_weight *
    name share) * (1 + title_weight * title share) - 1, where the window share is the
    question's weight found within the passage's best window, the name share that of the
    question's names (``bot.text.name_syllables``) found in the passage or its article's
    title, and the title share the question's weight found in that title.
    """
    depth = options.rerank_depth
    weights = weighed.weights
    total = sum(weights.values())
    names = frozenset(t for t in weighed.names if weights[t] > 0) if options.name_weight else frozenset()
    if depth <= 0 or not candidates or total <= 0 or not (options.window_weight or names or options.title_weight):
        return candidates
    name_total = sum(weights[t] for t in names)
    finder = TermFinder(weights)
    titles: dict[str, set[str]] = {}  # terms found in each article's title, by article id
    rescored: list[tuple[int, float]] = []
    for passage, score in candidates[:depth]:
        factor = 1.0
        in_title: set[str] = set()
        hits: list[tuple[int, str]] = []
        if names or options.title_weight:
            article = index.passage_article(passage)
            if article["id"] not in titles:
                titles[article["id"]] = finder.found(passage_tokens(article.get("title") or ""))
            in_title = titles[article["id"]]
        if options.window_weight or names:
            hits = finder.hits(passage_tokens(index.passage_text(passage)))
        if options.window_weight:
            factor *= 1 + options.window_weight * best_window(hits, weights, options.window_width) / total
        if names:
            found = names & ({term for _, term in hits} | in_title)
            factor *= 1 + options.name_weight * sum(weights[t] for t in found) / name_total
        if options.title_weight:
            factor *= 1 + options.title_weight * sum(weights[t] for t in in_title) / total
        rescored.append((passage, score + abs(score) * (factor - 1)))  # BM25Okapi can score below 0
    rescored.sort(key=lambda pair: (-pair[1], pair[0]))
    return rescored + candidates[depth:]


@dataclass(frozen=True)
class Ranking:
    """A question's best passages by score, and whether the best one covers enough of it."""

    query: QueryTerms
    candidates: tuple[tuple[int, float], ...]  # (passage row, score), best first
    touched: int  # passages holding at least one question term
    coverage: float  # of the best passage (0 when there is none)
    answered: bool


def question_terms(text: str, settings: Settings) -> QueryTerms:
    """The weighted terms the bot searches for a (prepared) question, as configured."""
    options = settings.answer
    return query_terms(
        text, settings.terms, settings.stopwords, options.fold_weight, options.bigram_weight, options.word_weight
    )


def rank_passages(index: PassageIndex, text: str, settings: Settings, depth: int) -> Ranking:
    """Score every passage holding a term of the (prepared) question; keep the ``depth`` best."""
    options: AnswerSettings = settings.answer
    index.release_pages()  # what earlier questions mapped in, when past the memory bound
    query = question_terms(text, settings)
    pool = max(depth, options.rerank_depth)
    found, touched = search(index, list(query.terms), list(query.weights), pool)
    weighed = term_weights(index, query)
    candidates = tuple(rerank(index, weighed, found, options)[:depth])
    best = coverage(index, weighed, candidates[0][0]) if candidates else 0.0
    answered = bool(candidates) and best >= options.min_coverage
    return Ranking(query, candidates, touched, best, answered)


def answer_question(
    index: PassageIndex,
    question: str,
    settings: Settings,
    top_k_: int | None = None,
    offset: int = 0,
) -> Answer:
    """The best passages for ``question`` (skipping ``offset`` results), or why there are none."""
    options: AnswerSettings = settings.answer
    k = max(1, min(top_k_ or options.top_k, options.max_top_k))
    text, truncated = prepare_question(question, options.max_question_chars)
    if not text:
        return Answer(question or "", "empty")
    wanted = offset + k
    ranking = rank_passages(index, text, settings, max(wanted * 4, 20))
    query = ranking.query
    if not query.terms:
        return Answer(text, "no_words", truncated=truncated)
    if not ranking.answered:
        return Answer(text, "no_answer", truncated=truncated, coverage=ranking.coverage, words=query.words)
    candidates = ranking.candidates
    chosen: list[tuple[int, float]] = []
    shown: list[set[str]] = []
    for passage, score in candidates:
        words = _word_set(index.passage_text(passage))
        if any(_jaccard(words, other) >= options.duplicate_similarity for other in shown):
            continue
        shown.append(words)
        chosen.append((passage, score))
        if len(chosen) > wanted:
            break
    has_more = len(chosen) > wanted or len(candidates) < ranking.touched and len(chosen) >= wanted
    page = chosen[offset:wanted]
    shown_words = highlight_words(query.words, settings.function_words, query.accented)
    results = tuple(_result(index, offset + i + 1, p, s, shown_words) for i, (p, s) in enumerate(page))
    if not results:
        return Answer(text, "no_answer", truncated=truncated, offset=offset, words=query.words)
    return Answer(text, "ok", results, truncated, has_more, offset, ranking.coverage, query.words)


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


def _result(index: PassageIndex, rank: int, passage: int, score: float, words: tuple[str, ...]) -> Result:
    article = index.passage_article(passage)
    text = index.passage_text(passage)
    spans = highlight_spans(text, words)
    matched = tuple(dict.fromkeys(w for w in words if highlight_spans(text, [w])))
    date = article.get("date")
    return Result(
        rank=rank,
        score=score,
        doc_id=article["id"],
        passage_id=f"{article['id']}#{index.passage_position(passage)}",
        passage=passage,
        title=article.get("title") or "",
        source=article.get("source"),
        date=dt.date.fromisoformat(date) if date else None,
        url=article.get("url"),
        author=article.get("author"),
        text=text,
        matched=matched,
        spans=tuple(spans),
    )
