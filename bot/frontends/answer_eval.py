"""Measuring answers on a hand-written question set over a news corpus.

A question set (YAML) lists questions with the article that answers them and the exact answer
phrase from its text, or ``none: true`` for questions the corpus cannot answer. Each question is
answered as the bot answers it (``answer_question``), and the figures say how often the answer
phrase is in the first passage, in the top 3 and in the first result's answer sentence; how
often the right article comes first; how many answerable questions are answered and how many
unanswerable ones are refused; split by kind of question and by diacritics.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from bot.answer.compose import Answer, answer_question
from bot.corpus.article import Corpus
from bot.frontends.evaluate import EvalError, build_eval_index
from bot.index.parts import PassageIndex
from bot.settings import Settings
from bot.text.normalize import normalize


@dataclass(frozen=True)
class SetQuestion:
    """A question of the set: the article and phrase that answer it, or none."""

    id: str
    question: str
    kind: str
    accented: bool
    doc: str | None = None  # None: the corpus cannot answer it
    answer: str | None = None


@dataclass(frozen=True)
class AnswerOutcome:
    question: SetQuestion
    answered: bool
    doc_first: bool
    in_first: bool
    in_top3: bool
    in_sentence: bool


def is_question_set(path: Path) -> bool:
    """A YAML file is a question set with answer phrases; JSON Lines is a retrieval benchmark."""
    return path.suffix.lower() in (".yaml", ".yml")


def load_question_set(path: Path) -> list[SetQuestion]:
    """The questions of a YAML question set; a malformed entry is an error naming it."""
    if not path.is_file():
        raise EvalError(f"questions file not found: {path}")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise EvalError(f"{path}: not a readable YAML file ({exc})") from None
    entries = data.get("questions") if isinstance(data, dict) else None
    if not isinstance(entries, list) or not entries:
        raise EvalError(f"{path}: no 'questions' list")
    questions: list[SetQuestion] = []
    for number, entry in enumerate(entries, 1):
        if not isinstance(entry, dict) or not isinstance(entry.get("q"), str):
            raise EvalError(f"{path}: question {number} needs a 'q' text")
        none = bool(entry.get("none"))
        if not none and not (entry.get("doc") and entry.get("answer")):
            raise EvalError(f"{path}: question {number} needs 'doc' and 'answer' (or 'none: true')")
        questions.append(
            SetQuestion(
                id=str(entry.get("id", number)),
                question=entry["q"],
                kind=str(entry.get("kind", "other")),
                accented=bool(entry.get("diacritics", True)),
                doc=None if none else str(entry["doc"]),
                answer=None if none else str(entry["answer"]),
            )
        )
    return questions


def _key(text: str) -> str:
    return normalize(text).lower()


def judge(question: SetQuestion, answer: Answer) -> AnswerOutcome:
    """What the bot's answer did for one question (pure)."""
    results = answer.results if answer.status == "ok" else ()
    if question.answer is None:
        return AnswerOutcome(question, bool(results), False, False, False, False)
    phrase = _key(question.answer)
    texts = [_key(r.text) for r in results]
    sentence = results[0].answer.sentence if results and results[0].answer else ""
    return AnswerOutcome(
        question,
        answered=bool(results),
        doc_first=bool(results) and results[0].doc_id == question.doc,
        in_first=bool(texts) and phrase in texts[0],
        in_top3=any(phrase in t for t in texts[:3]),
        in_sentence=phrase in _key(sentence),
    )


@dataclass(frozen=True)
class AnswerFigures:
    """Shares (0..1) over a group of questions."""

    answerable: int
    unanswerable: int
    in_first: float
    in_top3: float
    in_sentence: float
    doc_first: float
    answered: float  # of answerable questions
    refused: float  # of unanswerable questions

    def to_json(self) -> dict[str, Any]:
        return {k: round(v, 4) if isinstance(v, float) else v for k, v in vars(self).items()}


def _share(outcomes: Sequence[AnswerOutcome], test: Callable[[AnswerOutcome], bool]) -> float:
    return sum(map(test, outcomes)) / len(outcomes) if outcomes else 0.0


def figures(outcomes: Sequence[AnswerOutcome]) -> AnswerFigures:
    answerable = [o for o in outcomes if o.question.answer is not None]
    absent = [o for o in outcomes if o.question.answer is None]
    return AnswerFigures(
        answerable=len(answerable),
        unanswerable=len(absent),
        in_first=_share(answerable, lambda o: o.in_first),
        in_top3=_share(answerable, lambda o: o.in_top3),
        in_sentence=_share(answerable, lambda o: o.in_sentence),
        doc_first=_share(answerable, lambda o: o.doc_first),
        answered=_share(answerable, lambda o: o.answered),
        refused=_share(absent, lambda o: not o.answered),
    )


@dataclass(frozen=True)
class AnswerReport:
    overall: AnswerFigures
    by_kind: dict[str, AnswerFigures]
    by_diacritics: dict[str, AnswerFigures]
    ms_per_question: float

    def to_json(self) -> dict[str, Any]:
        return {
            **self.overall.to_json(),
            "by_kind": {k: f.to_json() for k, f in self.by_kind.items()},
            "by_diacritics": {k: f.to_json() for k, f in self.by_diacritics.items()},
            "ms_per_question": round(self.ms_per_question, 2),
        }


def report_of(outcomes: Sequence[AnswerOutcome], seconds: float) -> AnswerReport:
    kinds = sorted({o.question.kind for o in outcomes})
    return AnswerReport(
        figures(outcomes),
        {k: figures([o for o in outcomes if o.question.kind == k]) for k in kinds},
        {
            label: figures([o for o in outcomes if o.question.accented == accented])
            for label, accented in (("with", True), ("without", False))
        },
        1000 * seconds / len(outcomes) if outcomes else 0.0,
    )


def run_question_set(index: PassageIndex, questions: Sequence[SetQuestion], settings: Settings) -> AnswerReport:
    """Answer every question as the bot does (top 3) and judge the answers."""
    answer_question(index, "khởi động", settings, 1)  # pyvi and the scorer loaded before timing
    started = time.perf_counter()
    answers = [answer_question(index, q.question, settings, 3) for q in questions]
    seconds = time.perf_counter() - started
    return report_of([judge(q, a) for q, a in zip(questions, answers, strict=True)], seconds)


def evaluate_question_set(
    corpus: Corpus, source: Path, questions: Sequence[SetQuestion], settings: Settings
) -> AnswerReport:
    """Index the corpus with the bot's pipeline in a temporary folder and run the question set."""
    with tempfile.TemporaryDirectory(prefix="bot-answers-") as workdir:
        index = build_eval_index(corpus.articles, settings, Path(workdir), source)
        return run_question_set(index, questions, settings)


def _line(label: str, f: AnswerFigures) -> str:
    return (
        f"  {label:<14} {f.answerable:>4} {100 * f.in_first:6.1f} {100 * f.in_top3:6.1f} "
        f"{100 * f.in_sentence:6.1f} {100 * f.doc_first:6.1f} {100 * f.answered:6.1f}"
        + (f" | {f.unanswerable:>3} refused {100 * f.refused:5.1f}" if f.unanswerable else "")
    )


def format_answer_report(report: AnswerReport) -> str:
    """The figures as a small table (percentages)."""
    rows = ["  group           n  first   top3 senten.  doc@1 answer.", _line("all", report.overall)]
    rows += [_line(kind, f) for kind, f in report.by_kind.items()]
    rows += [_line(f"{label} diacr.", f) for label, f in report.by_diacritics.items()]
    rows.append(f"  {report.ms_per_question:.2f} ms per question")
    return "\n".join(rows)
