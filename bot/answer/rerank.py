"""Answer-aware ranking: the best passages of a question judged by their best sentence.

After BM25 and the proximity re-rank (``bot.search.ranking``), each of the best
``answer_depth`` passages is scored again by the sentence that answers best (the most question
weight, plus its phrase): its score grows with the strength of a phrase of the kind the question
asks for (a number with the asked unit, a date, a name) that the question does not contain.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from bot.answer.question import QuestionAnalysis, analyze_question
from bot.answer.sentence import AnswerSentence, best_sentence
from bot.index.keys import term_hash
from bot.index.parts import PassageIndex
from bot.search.proximity import TermFinder
from bot.search.ranking import Ranking, coverage, rank_passages
from bot.settings import AnswerSettings, Settings
from bot.text.diacritics import is_vietnamese_syllable
from bot.text.normalize import fold_accents
from bot.text.terms import FOLD_PREFIX


@dataclass(frozen=True)
class AnswerRanking:
    """A question's ranking after the answer-aware re-rank, with each re-ranked passage's
    answer sentence."""

    ranking: Ranking
    analysis: QuestionAnalysis
    sentences: dict[int, AnswerSentence | None]  # by passage row
    finder: TermFinder
    total: float  # the question's known weight
    absent: tuple[str, ...] = ()  # distinctive words of the question that no passage holds


def rank_answers(index: PassageIndex, text: str, settings: Settings, depth: int) -> AnswerRanking:
    """The ``depth`` best passages of a (prepared) question, re-ranked by their answer sentences."""
    options = settings.answer
    ranking = rank_passages(index, text, settings, depth)
    analysis = analyze_question(text)
    weights = ranking.weighed.weights
    finder = ranking.finder
    total = sum(weights.values())
    sentences: dict[int, AnswerSentence | None] = {}
    reranked: list[tuple[int, float]] = []
    depth_ = options.answer_depth if options.phrase_weight else 0
    for passage, score in ranking.candidates[:depth_]:
        passage_text = index.passage_text(passage)
        best = best_sentence(passage_text, finder, total, analysis, text)
        sentences[passage] = best
        factor = 1.0
        if best is not None:
            factor *= 1 + options.phrase_weight * best.strength
        reranked.append((passage, score + abs(score) * (factor - 1)))
    if reranked:
        reranked.sort(key=lambda pair: (-pair[1], pair[0]))
        candidates = tuple(reranked) + ranking.candidates[depth_:]
        top = candidates[0][0]
        best = ranking.coverage if top == ranking.candidates[0][0] else coverage(index, ranking.weighed, top)
        ranking = replace(ranking, candidates=candidates, coverage=best)
    absent = absent_words(index, text, ranking, settings.terms.abbreviations) if options.refuse_absent_words else ()
    ranking = replace(ranking, answered=answers(index, ranking, options) and not absent)
    return AnswerRanking(ranking, analysis, sentences, finder, total, absent)


def absent_words(
    index: PassageIndex, question: str, ranking: Ranking, abbreviations: tuple[tuple[str, str], ...] = ()
) -> tuple[str, ...]:
    """The question's words, as typed, that no passage holds even accent-free and that cannot be
    Vietnamese syllables: a foreign name, a product or a code ('Kishida', 'Qdenga') the corpus
    never mentions, so nothing in it is about them. Abbreviations (known, or typed in capitals:
    'HĐQT', 'CLB') do not count: the corpus may write them out."""
    typed = re.findall(r"\w+", question)
    known = {fold_accents(short).lower() for short, _ in abbreviations}
    known |= {fold_accents(w).lower() for w in typed if len(w) > 1 and w.isupper()}
    missing: set[str] = set()
    for term in ranking.query.terms:
        word = fold_accents(term.removeprefix(FOLD_PREFIX))
        if (
            word.isalpha()
            and word not in known
            and not is_vietnamese_syllable(word)
            and index.df(term_hash(FOLD_PREFIX + word)) == 0
        ):
            missing.add(word)
    if not missing:
        return ()
    return tuple(dict.fromkeys(w for w in typed if fold_accents(w).lower() in missing))


def missing_names(index: PassageIndex, ranking: Ranking) -> float:
    """The share of the question's names (capitalised syllables, not at its start) that the best
    passage does not hold: a question about someone or somewhere the passage never names."""
    names = {t for t in ranking.query.names if " " not in t}
    if not names or not ranking.candidates:
        return 0.0
    passage = ranking.candidates[0][0]
    return sum(not index.contains(term_hash(t), passage) for t in names) / len(names)


def answers(index: PassageIndex, ranking: Ranking, options: AnswerSettings) -> bool:
    """Whether the best passage answers: it holds enough of the question's weight, and of its names."""
    return (
        bool(ranking.candidates)
        and ranking.coverage >= options.min_coverage
        and missing_names(index, ranking) <= options.max_missing_names
    )


def answer_sentence(index: PassageIndex, ranked: AnswerRanking, passage: int, question: str) -> AnswerSentence | None:
    """The answer sentence of a passage of this ranking (worked out if the re-rank did not)."""
    if passage not in ranked.sentences:
        ranked.sentences[passage] = best_sentence(
            index.passage_text(passage), ranked.finder, ranked.total, ranked.analysis, question
        )
    return ranked.sentences[passage]
