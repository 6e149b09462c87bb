"""Answers on the shipped corpus: the answering sentence and phrase, refusals, and the question-set eval."""

import json
import textwrap

import pytest

from bot.answer.compose import AnswerStatus, answer_question
from bot.frontends import answer_eval
from bot.frontends.evaluate import EvalError, select_half
from bot.frontends.messages import load_messages
from bot.frontends.render import render_result


@pytest.mark.parametrize("question", ["ai là gì", "của", "là của ai", "ai la gi"])
def test_questions_of_function_words_only_are_too_general(shipped, question):
    settings, index = shipped
    assert answer_question(index, question, settings).status is AnswerStatus.NO_WORDS


@pytest.mark.parametrize("question", ["cầu Rồng", "Ông Nguyễn Văn Bình nói gì về Đảng bộ Khối?"])
def test_names_the_corpus_lacks_get_no_answer(shipped, question):
    settings, index = shipped
    assert answer_question(index, question, settings).status is AnswerStatus.NO_ANSWER


def test_every_result_matches_a_content_word(shipped):
    settings, index = shipped
    for question in ["Phạm Xuân Thanh", "của Đảng bộ", "là hội nghị"]:
        for result in answer_question(index, question, settings, 10).results:
            assert result.matched, (question, result.passage_id)


@pytest.mark.parametrize(
    ("question", "phrase"),
    [
        ("Đảng ủy Khối các cơ quan Hải Phòng kết nạp mới bao nhiêu đảng viên?", "64 đảng viên"),
        ("Chủ tịch HĐND TP Hồ Chí Minh hiện là ai?", "Nguyễn Thị Lệ"),
        ("dai hoi dang bo khoi cac co quan hai phong dien ra trong may ngay", "2 ngày"),
    ],
)
def test_first_result_carries_its_answer_sentence_and_phrase(shipped, question, phrase):
    settings, index = shipped
    answer = answer_question(index, question, settings)
    first = answer.results[0]
    assert first.answer is not None and first.answer.phrase == phrase
    assert first.answer.sentence in first.text
    assert first.to_json()["answer"] == {"sentence": first.answer.sentence, "phrase": phrase}
    shown = render_result(first, load_messages(settings.messages_file), "vi", as_html=True, max_chars=600)
    assert shown.startswith("» ") and f"<b>{phrase}</b>" in shown.split("\n")[0]


SET = textwrap.dedent(
    """
    questions:
      - id: a1
        q: "Đại hội Đảng bộ Khối diễn ra trong mấy ngày?"
        doc: "000"
        answer: "2 ngày"
        kind: how_many
        diacritics: true
      - id: a2
        q: "ket nap moi bao nhieu dang vien"
        doc: "002"
        answer: "64 đảng viên"
        kind: how_many
        diacritics: false
      - id: u1
        q: "Ai vô địch SEA Games 32 môn bóng đá nam?"
        none: true
        kind: who
    """
)


def test_question_set_eval_measures_answers_and_refusals(tmp_path, shipped):
    settings, index = shipped
    path = tmp_path / "set.yaml"
    path.write_text(SET, encoding="utf-8")
    questions = answer_eval.load_question_set(path)
    report = answer_eval.run_question_set(index, questions, settings)
    assert (report.overall.answerable, report.overall.unanswerable) == (2, 1)
    assert report.overall.in_top3 == 1.0 and report.overall.refused == 1.0
    assert set(report.by_diacritics) == {"with", "without"} and report.by_kind["how_many"].answerable == 2
    assert json.loads(json.dumps(report.to_json()))["by_kind"]["who"]["unanswerable"] == 1
    # a wrong answer phrase is a miss, not a hit
    wrong = [
        q if q.id != "a1" else answer_eval.SetQuestion("a1", q.question, q.kind, True, "000", "9 ngày")
        for q in questions
    ]
    assert answer_eval.run_question_set(index, wrong, settings).overall.in_top3 == 0.5


def test_question_set_errors_name_the_entry(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("questions:\n  - q: 'Ai?'\n    kind: who\n", encoding="utf-8")
    with pytest.raises(EvalError, match="question 1 needs 'doc' and 'answer'"):
        answer_eval.load_question_set(path)


def test_shipped_news_question_set_is_well_formed():
    from pathlib import Path

    questions = answer_eval.load_question_set(Path(__file__).parent.parent / "eval" / "news_dantri_questions.yaml")
    answerable = [q for q in questions if q.answer]
    assert len(answerable) >= 150 and len({q.doc for q in answerable}) >= 60
    assert sum(q.answer is None for q in questions) >= 25
    assert len({q.id for q in questions}) == len(questions)
    assert sum(not q.accented for q in questions) >= len(questions) // 5
    assert {q.kind for q in questions} >= {"who", "when", "where", "how_many", "which", "what", "why_how", "yes_no"}
    halves = select_half(questions, "tune"), select_half(questions, "report")
    assert len(halves[0]) + len(halves[1]) == len(questions) and not {q.id for q in halves[0]} & {
        q.id for q in halves[1]
    }
