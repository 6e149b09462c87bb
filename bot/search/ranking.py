"""Ranking a question's passages: BM25 search, then a re-rank of the best by proximity, names
and title; coverage of the question decides whether the best passage answers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from bot.index.keys import term_hash
from bot.index.parts import PassageIndex
from bot.search.diacritics import index_diacritics
from bot.search.part_search import search
from bot.search.proximity import TermFinder, best_window
from bot.settings import AnswerSettings, Settings
from bot.text.terms import FOLD_PREFIX, QueryTerms, query_terms


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
    finder: TermFinder | None = None,
) -> list[tuple[int, float]]:
    """The first ``rerank_depth`` candidates re-scored; the others follow unchanged.

    A score grows by its size times (1 + window_weight * window share) * (1 + name_weight *
    name share) * (1 + title_weight * title share) - 1, where the window share is the
    question's weight found within the passage's best window, the name share that of the
    question's names (``bot.text.terms.name_syllables``) found in the passage or its article's
    title, and the title share the question's weight found in that title.
    """
    depth = options.rerank_depth
    weights = weighed.weights
    total = sum(weights.values())
    names = frozenset(t for t in weighed.names if weights[t] > 0) if options.name_weight else frozenset()
    if depth <= 0 or not candidates or total <= 0 or not (options.window_weight or names or options.title_weight):
        return candidates
    name_total = sum(weights[t] for t in names)
    finder = finder or TermFinder(weights)
    titles: dict[str, set[str]] = {}  # terms found in each article's title, by article id
    rescored: list[tuple[int, float]] = []
    for passage, score in candidates[:depth]:
        factor = 1.0
        in_title: set[str] = set()
        hits: list[tuple[int, str]] = []
        if names or options.title_weight:
            article = index.passage_article(passage)
            if article.id not in titles:
                titles[article.id] = finder.match(article.title).found()
            in_title = titles[article.id]
        if options.window_weight or names:
            hits = finder.match(index.passage_text(passage)).hits
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
    weighed: TermWeights
    candidates: tuple[tuple[int, float], ...]  # (passage row, score), best first
    touched: int  # passages holding at least one question term
    coverage: float  # of the best passage (0 when there is none)
    answered: bool
    finder: TermFinder  # finds the question's terms in texts (remembers the passages it has read)


def question_terms(text: str, settings: Settings, index: PassageIndex | None = None) -> QueryTerms:
    """The weighted terms the bot searches for a (prepared) question, as configured.

    A question typed without diacritics is searched with its accent-free terms and, given an
    index and a ``restored_weight``, with the terms of its diacritics restored from that index
    at that weight (``bot.search.diacritics``).
    """
    options = settings.answer
    query = query_terms(
        text, settings.terms, settings.stopwords, options.fold_weight, options.bigram_weight, options.word_weight
    )
    if query.accented or index is None or not options.restored_weight or not settings.terms.folded:
        return query
    restored = index_diacritics(index).restore(text)
    if restored == text:
        return query
    guess = query_terms(restored, settings.terms, settings.stopwords, 0.0, options.bigram_weight, options.word_weight)
    exact = [(t, w * options.restored_weight) for t, w in zip(guess.terms, guess.weights) if w and t[0] != FOLD_PREFIX]
    return replace(
        query,
        terms=query.terms + tuple(t for t, _ in exact),
        weights=query.weights + tuple(w for _, w in exact),
        names=query.names | (guess.names & {t for t, _ in exact}),
    )


def rank_passages(index: PassageIndex, text: str, settings: Settings, depth: int) -> Ranking:
    """Score every passage holding a term of the (prepared) question; keep the ``depth`` best."""
    options: AnswerSettings = settings.answer
    index.release_pages()  # what earlier questions mapped in, when past the memory bound
    query = question_terms(text, settings, index)
    pool = max(depth, options.rerank_depth)
    found, touched = search(index, list(query.terms), list(query.weights), pool)
    weighed = term_weights(index, query)
    finder = TermFinder(weighed.weights)
    candidates = tuple(rerank(index, weighed, found, options, finder)[:depth])
    best = coverage(index, weighed, candidates[0][0]) if candidates else 0.0
    answered = bool(candidates) and best >= options.min_coverage
    return Ranking(query, weighed, candidates, touched, best, answered, finder)
