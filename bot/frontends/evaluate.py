"""Measuring answer quality on a retrieval benchmark: ranking figures and refusals.

Contexts (JSON Lines ``{"id", "title", "text"}``) are indexed as articles through the
bot's own pipeline; questions (JSON Lines with ``question`` and ``gold_context_id``) are
answered as the bot answers them. Ranking is over contexts: a context split into several
passages counts once, at the rank of its best passage. A question the bot refuses ("no
answer") still has a ranking: P@1, R@k and MRR measure the ranking of every question,
and the share of questions answered (not refused) is reported beside them.

The metric functions are pure; ``evaluate`` and ``evaluate_refusals`` run the bot.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import time
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, TypeVar

from bot.answer.compose import prepare_question
from bot.answer.rerank import rank_answers
from bot.corpus.article import Article, Corpus
from bot.corpus.loading import load_corpus
from bot.index.builder import build_index
from bot.index.parts import PassageIndex
from bot.index.segment_cache import SEGMENT_CACHE_FILE
from bot.index.storage import load_index
from bot.search.ranking import rank_passages
from bot.settings import Settings
from bot.text.normalize import fold_accents

# passages looked at per question: enough to find 10 distinct contexts
PASSAGE_DEPTH = 60


class EvalError(ValueError):
    """A benchmark file is missing or unusable; the message says which and why."""


@dataclass(frozen=True)
class EvalQuestion:
    """A benchmark question and the id of the context that answers it."""

    id: str
    question: str
    gold: str


@dataclass(frozen=True)
class Outcome:
    """What the bot did with one question."""

    rank: int | None  # 1-based rank of the gold context among the ranked contexts (refused or not)
    answered: bool  # False when the no-answer rule refused the question
    coverage: float  # of the best passage; -1 when no passage holds a question term


# --- reading benchmark files ------------------------------------------------------------


def load_contexts(path: Path) -> Corpus:
    """The contexts as articles (read like a JSON Lines corpus: a bad line is a problem
    reported with the rest, and the other contexts load); none at all is an error."""
    if not path.is_file():
        raise EvalError(f"contexts file not found: {path}")
    corpus = load_corpus(path)
    if not corpus.articles:
        reason = f": {corpus.problems[0]}" if corpus.problems else ""
        raise EvalError(f"no usable contexts in {path}{reason}")
    return corpus


def unknown_gold(questions: Sequence[EvalQuestion], articles: Sequence[Article]) -> list[EvalQuestion]:
    """Questions whose gold context is not among the contexts (they can only be misses)."""
    ids = {a.id for a in articles}
    return [q for q in questions if q.gold not in ids]


def load_questions(path: Path) -> list[EvalQuestion]:
    """Questions with their gold context ids, from JSON Lines."""
    if not path.is_file():
        raise EvalError(f"questions file not found: {path}")
    questions: list[EvalQuestion] = []
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                raise EvalError(f"{path}:{number}: not valid JSON ({exc.msg})") from None
            if (
                not isinstance(record, dict)
                or not isinstance(record.get("question"), str)
                or not record.get("gold_context_id")
            ):
                raise EvalError(f"{path}:{number}: needs 'question' and 'gold_context_id'")
            questions.append(
                EvalQuestion(str(record.get("id", number)), record["question"], str(record["gold_context_id"]))
            )
    if not questions:
        raise EvalError(f"no questions in {path}")
    return questions


# --- metrics (pure) ---------------------------------------------------------------------


def context_ranking(passage_contexts: Iterable[str]) -> list[str]:
    """Contexts in the order of their best passage (each context once)."""
    return list(dict.fromkeys(passage_contexts))


def gold_rank(ranking: Sequence[str], gold: str) -> int | None:
    """1-based rank of ``gold`` in ``ranking``, or None when absent."""
    try:
        return ranking.index(gold) + 1
    except ValueError:
        return None


def precision_at_1(ranks: Sequence[int | None]) -> float:
    """Share of questions whose first context is the gold one."""
    return recall_at(ranks, 1)


def recall_at(ranks: Sequence[int | None], k: int) -> float:
    """Share of questions with the gold context in the first ``k``."""
    return sum(1 for r in ranks if r is not None and r <= k) / len(ranks) if ranks else 0.0


def mrr_at(ranks: Sequence[int | None], k: int) -> float:
    """Mean reciprocal rank of the gold context, counting 0 beyond rank ``k``."""
    return sum(1.0 / r for r in ranks if r is not None and r <= k) / len(ranks) if ranks else 0.0


@dataclass(frozen=True)
class Report:
    """Ranking figures over a set of questions (fractions from 0 to 1)."""

    questions: int
    p_at_1: float
    r_at_5: float
    r_at_10: float
    mrr_at_10: float
    answered: float
    ms_per_question: float

    def to_json(self) -> dict[str, Any]:
        return {k: round(v, 4) if isinstance(v, float) else v for k, v in vars(self).items()}


def summarize(outcomes: Sequence[Outcome], seconds: float) -> Report:
    """The figures of a run from each question's outcome and the total answering time."""
    ranks = [o.rank for o in outcomes]
    n = len(outcomes)
    return Report(
        questions=n,
        p_at_1=precision_at_1(ranks),
        r_at_5=recall_at(ranks, 5),
        r_at_10=recall_at(ranks, 10),
        mrr_at_10=mrr_at(ranks, 10),
        answered=sum(o.answered for o in outcomes) / n if n else 0.0,
        ms_per_question=1000 * seconds / n if n else 0.0,
    )


def calibrate(answerable: Sequence[float], absent: Sequence[float], keep: float) -> tuple[float, float, float]:
    """The coverage threshold that refuses the most absent-answer questions while answering
    at least ``keep`` of the answerable ones. Returns (threshold, answered, refused)."""
    if not answerable:
        return 0.0, 0.0, 0.0
    ordered = sorted(answerable)
    allowed = int(len(ordered) * (1 - keep) + 1e-9)  # answerable questions we may refuse
    threshold = ordered[allowed]  # refusing below this loses at most ``allowed``
    answered = sum(c >= threshold for c in answerable) / len(answerable)
    refused = sum(c < threshold for c in absent) / len(absent) if absent else 0.0
    return threshold, answered, refused


# --- running the bot --------------------------------------------------------------------


def build_eval_index(articles: list[Article], settings: Settings, workdir: Path, source: Path) -> PassageIndex:
    """Index ``articles`` with the bot's pipeline into ``workdir`` and load it."""
    local = settings.with_paths(corpus=source, index_dir=workdir)
    build_index(local, corpus=Corpus(list(articles), []))
    return load_index(workdir, settings.bm25, verify=False)


def ask(
    index: PassageIndex, question: EvalQuestion, settings: Settings, strip_accents: bool, depth: int = PASSAGE_DEPTH
) -> Outcome:
    """Ask one question the way the bot does; where does its gold context come?"""
    text = fold_accents(question.question) if strip_accents else question.question
    prepared, _ = prepare_question(text, settings.answer.max_question_chars)
    ranking = rank_answers(index, prepared, settings, depth).ranking
    coverage = ranking.coverage if ranking.candidates else -1.0
    contexts = context_ranking(index.passage_article(p).id for p, _ in ranking.candidates)
    return Outcome(gold_rank(contexts, question.gold), ranking.answered, coverage)


def run_questions(
    index: PassageIndex,
    questions: Sequence[EvalQuestion],
    settings: Settings,
    strip_accents: bool = False,
    depth: int = PASSAGE_DEPTH,
) -> tuple[list[Outcome], float]:
    """Each question's outcome and the seconds spent answering them all."""
    started = time.perf_counter()
    outcomes = [ask(index, q, settings, strip_accents, depth) for q in questions]
    return outcomes, time.perf_counter() - started


class HasId(Protocol):
    id: str


Q = TypeVar("Q", bound=HasId)


def select_half(questions: list[Q], half: str | None) -> list[Q]:
    """One stable half of the questions by a hash of their id ("tune" or "report"), or all."""
    if half is None:
        return questions
    wanted = 0 if half == "tune" else 1
    return [q for q in questions if zlib.crc32(q.id.encode()) % 2 == wanted]


def evaluate(
    articles: list[Article],
    source: Path,
    questions: Sequence[EvalQuestion],
    settings: Settings,
    strip_accents: bool = False,
    depth: int = PASSAGE_DEPTH,
) -> tuple[Report, list[Outcome]]:
    """Index the contexts (``articles``, read from ``source``), answer every question, and summarise."""
    with tempfile.TemporaryDirectory(prefix="bot-eval-") as workdir:
        index = build_eval_index(articles, settings, Path(workdir), source)
        _warm_up(index, settings)
        outcomes, seconds = run_questions(index, questions, settings, strip_accents, depth)
    return summarize(outcomes, seconds), outcomes


@dataclass(frozen=True)
class RefusalReport:
    """How the bot behaves when the answer is absent, next to when it is present."""

    questions: int  # questions asked with their gold context left out
    refused: float  # share of those that got "no answer"
    answered: float  # share of answerable questions (full index) that got an answer
    folds: int
    threshold: float  # the min_coverage in use
    calibrated: tuple[float, float, float]  # (threshold, answered, refused) keeping >= keep answered
    keep: float

    def to_json(self) -> dict[str, Any]:
        threshold, answered, refused = self.calibrated
        return {
            "refusal_questions": self.questions,
            "refused": round(self.refused, 4),
            "answerable_answered": round(self.answered, 4),
            "folds": self.folds,
            "min_coverage": self.threshold,
            "calibrated_min_coverage": round(threshold, 4),
            "calibrated_answered": round(answered, 4),
            "calibrated_refused": round(refused, 4),
            "calibrated_keep": self.keep,
        }


def fold_of(position: int, folds: int) -> int:
    """The fold a context (by its position in the file) is left out of the index in."""
    return position % folds


def evaluate_refusals(
    articles: list[Article],
    source: Path,
    questions: Sequence[EvalQuestion],
    answerable: Sequence[Outcome],
    settings: Settings,
    folds: int = 5,
    strip_accents: bool = False,
    depth: int = PASSAGE_DEPTH,
    keep: float = 0.97,
) -> RefusalReport:
    """Ask each question against an index without its gold context (``folds`` indexes, each
    missing one group of contexts) and count the refusals."""
    folds = max(2, min(folds, len(articles)))
    group = {a.id: fold_of(i, folds) for i, a in enumerate(articles)}
    absent: list[float] = []  # the coverage of each question's best passage (refused or not)
    refusals = 0  # questions refused as configured
    with tempfile.TemporaryDirectory(prefix="bot-refusal-") as workdir:
        for fold in range(folds):
            kept = [a for a in articles if group[a.id] != fold]
            foldir = Path(workdir) / f"fold-{fold}"
            previous = Path(workdir) / f"fold-{fold - 1}" / SEGMENT_CACHE_FILE
            if fold and previous.is_file():  # the previous fold's segmented articles: one group is new
                foldir.mkdir()
                shutil.copy(previous, foldir / SEGMENT_CACHE_FILE)
            index = build_eval_index(kept, settings, foldir, source)
            asked = [q for q in questions if group.get(q.gold) == fold]
            outcomes, _ = run_questions(index, asked, settings, strip_accents, depth)
            absent.extend(o.coverage for o in outcomes)
            refusals += sum(not o.answered for o in outcomes)
    threshold = settings.answer.min_coverage
    answerable_cov = [o.coverage for o in answerable]
    refused = refusals / len(absent) if absent else 0.0
    answered = sum(o.answered for o in answerable) / len(answerable) if answerable else 0.0
    return RefusalReport(
        len(absent), refused, answered, folds, threshold, calibrate(answerable_cov, absent, keep), keep
    )


def _warm_up(index: PassageIndex, settings: Settings) -> None:
    """Load pyvi and touch the index before timing (start-up is not answering time)."""
    rank_passages(index, "khởi động", settings, 1)


def format_report(report: Report, label: str = "") -> str:
    """The figures as a few readable lines."""
    head = f"{label}: " if label else ""
    return (
        f"{head}{report.questions} questions\n"
        f"  P@1 {100 * report.p_at_1:.1f}  R@5 {100 * report.r_at_5:.1f}  R@10 {100 * report.r_at_10:.1f}  "
        f"MRR@10 {100 * report.mrr_at_10:.1f}\n"
        f"  answered {100 * report.answered:.1f}%  {report.ms_per_question:.2f} ms per question"
    )


def format_refusals(report: RefusalReport) -> str:
    """The refusal figures as a few readable lines."""
    threshold, answered, refused = report.calibrated
    return (
        f"refusals ({report.folds} folds, gold context left out): {report.questions} questions\n"
        f"  no answer {100 * report.refused:.1f}% with min_coverage {report.threshold:g}; "
        f"answerable questions answered {100 * report.answered:.1f}%\n"
        f"  calibrated: min_coverage {threshold:.3f} answers {100 * answered:.1f}% of answerable "
        f"and refuses {100 * refused:.1f}% of absent (keeping >= {100 * report.keep:.0f}%)"
    )
