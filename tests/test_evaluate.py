"""The evaluation command: metric functions, and the command run on a tiny benchmark."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.frontends.cli import main
from bot.frontends.evaluate import (
    EvalQuestion,
    Outcome,
    calibrate,
    context_ranking,
    gold_rank,
    load_questions,
    mrr_at,
    precision_at_1,
    recall_at,
    select_half,
    summarize,
)

# --- metrics on hand-made rankings ------------------------------------------------------


def test_context_ranking_keeps_each_context_at_its_best_passage():
    # passages of contexts a, b, a, c, b  ->  contexts a, b, c
    assert context_ranking(["a", "b", "a", "c", "b"]) == ["a", "b", "c"]
    assert context_ranking([]) == []


def test_gold_rank_is_one_based_and_none_when_absent():
    assert gold_rank(["x", "y", "z"], "x") == 1
    assert gold_rank(["x", "y", "z"], "z") == 3
    assert gold_rank(["x", "y"], "q") is None


def test_precision_recall_and_mrr():
    ranks = [1, 2, None, 5, 11]
    assert precision_at_1(ranks) == pytest.approx(1 / 5)
    assert recall_at(ranks, 5) == pytest.approx(3 / 5)
    assert recall_at(ranks, 10) == pytest.approx(3 / 5)
    assert recall_at(ranks, 11) == pytest.approx(4 / 5)
    assert mrr_at(ranks, 10) == pytest.approx((1 + 1 / 2 + 1 / 5) / 5)
    assert mrr_at(ranks, 1) == pytest.approx(1 / 5)
    assert precision_at_1([]) == 0.0 and mrr_at([], 10) == 0.0


def test_summarize_measures_the_ranking_and_reports_refusals_apart():
    # the third question was refused, but its ranking (gold context second) still counts
    outcomes = [Outcome(1, True, 0.9), Outcome(3, True, 0.5), Outcome(2, False, 0.1), Outcome(None, True, 0.4)]
    report = summarize(outcomes, seconds=0.2)
    assert report.questions == 4
    assert report.p_at_1 == pytest.approx(0.25)
    assert report.r_at_5 == pytest.approx(0.75)
    assert report.mrr_at_10 == pytest.approx((1 + 1 / 3 + 1 / 2) / 4)
    assert report.answered == pytest.approx(0.75)
    assert report.ms_per_question == pytest.approx(50.0)
    assert set(report.to_json()) == {
        "questions",
        "p_at_1",
        "r_at_5",
        "r_at_10",
        "mrr_at_10",
        "answered",
        "ms_per_question",
    }


def test_calibrate_refuses_most_absent_while_keeping_answerable():
    answerable = [0.9, 0.8, 0.7, 0.6, 0.5, 0.45, 0.4, 0.35, 0.3, 0.1]
    absent = [0.05, 0.2, 0.25, 0.32, 0.5, 0.6]
    threshold, answered, refused = calibrate(answerable, absent, keep=0.9)
    assert threshold == pytest.approx(0.3)  # one answerable question (0.1) may be refused
    assert answered == pytest.approx(0.9)
    assert refused == pytest.approx(3 / 6)
    threshold, answered, _ = calibrate(answerable, absent, keep=1.0)
    assert threshold == pytest.approx(0.1) and answered == 1.0


def test_select_half_splits_the_questions_in_two_stable_halves():
    questions = [EvalQuestion(f"q{i}", "?", "c") for i in range(200)]
    tune, report = select_half(questions, "tune"), select_half(questions, "report")
    assert len(tune) + len(report) == 200 and 60 < len(tune) < 140
    assert not {q.id for q in tune} & {q.id for q in report}
    assert select_half(questions, "tune") == tune
    assert select_half(questions, None) == questions


# --- the command on a tiny benchmark ----------------------------------------------------

CONTEXTS = [
    (
        "c1",
        "Sông Hồng",
        "Sông Hồng bắt nguồn từ tỉnh Vân Nam, Trung Quốc, chảy qua Lào Cai, Yên Bái, Phú Thọ "
        "rồi qua Hà Nội trước khi đổ ra vịnh Bắc Bộ. Phù sa của sông bồi đắp nên đồng bằng châu thổ rộng lớn.",
    ),
    (
        "c2",
        "Cà phê",
        "Việt Nam là nước xuất khẩu cà phê lớn thứ hai thế giới. Phần lớn cà phê được trồng ở "
        "Tây Nguyên, nhất là Đắk Lắk, với giống Robusta chiếm hơn chín phần mười sản lượng.",
    ),
    (
        "c3",
        "Vịnh Hạ Long",
        "Vịnh Hạ Long ở Quảng Ninh có gần hai nghìn hòn đảo đá vôi. UNESCO công nhận "
        "vịnh là di sản thiên nhiên thế giới lần đầu vào năm 1994.",
    ),
    (
        "c4",
        "Bóng đá",
        "Đội tuyển bóng đá Việt Nam vô địch AFF Cup năm 2008 và năm 2018 dưới sự dẫn dắt "
        "của huấn luyện viên Park Hang-seo ở lần thứ hai.",
    ),
    (
        "c5",
        "Phở",
        "Phở là món ăn gồm bánh phở, nước dùng hầm từ xương bò và thảo mộc như quế, hồi, "
        "gừng nướng. Phở bò Nam Định và phở Hà Nội nổi tiếng khắp cả nước.",
    ),
    (
        "c6",
        "Điện Biên Phủ",
        "Chiến dịch Điện Biên Phủ kết thúc ngày 7 tháng 5 năm 1954 với chiến thắng "
        "của Quân đội nhân dân Việt Nam do Đại tướng Võ Nguyên Giáp chỉ huy.",
    ),
]
QUESTIONS = [
    ("q1", "Sông Hồng bắt nguồn từ đâu?", "c1"),
    ("q2", "Cà phê Việt Nam được trồng nhiều nhất ở vùng nào?", "c2"),
    ("q3", "Vịnh Hạ Long được UNESCO công nhận là di sản thiên nhiên thế giới năm nào?", "c3"),
    ("q4", "Đội tuyển bóng đá Việt Nam vô địch AFF Cup năm nào?", "c4"),
    ("q5", "Nước dùng phở bò được hầm từ gì?", "c5"),
    ("q6", "Ai chỉ huy chiến dịch Điện Biên Phủ?", "c6"),
]


def _write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


@pytest.fixture()
def bench(tmp_path: Path) -> tuple[Path, Path]:
    contexts = _write_jsonl(tmp_path / "contexts.jsonl", [{"id": i, "title": t, "text": x} for i, t, x in CONTEXTS])
    questions = _write_jsonl(
        tmp_path / "questions.jsonl",
        [{"id": i, "question": q, "gold_context_id": g, "answer": "?"} for i, q, g in QUESTIONS],
    )
    return contexts, questions


def _run_json(capsys, argv: list[str]) -> dict:
    assert main(argv) == 0
    return json.loads(capsys.readouterr().out)


def test_eval_command_finds_every_gold_context(bench, capsys):
    contexts, questions = bench
    result = _run_json(capsys, ["eval", "--contexts", str(contexts), "--questions", str(questions), "--json"])
    assert result["questions"] == len(QUESTIONS)
    assert result["p_at_1"] == 1.0 and result["r_at_10"] == 1.0 and result["mrr_at_10"] == 1.0
    assert result["answered"] == 1.0
    assert result["ms_per_question"] > 0


def test_eval_command_without_diacritics(bench, capsys):
    contexts, questions = bench
    result = _run_json(
        capsys, ["eval", "--contexts", str(contexts), "--questions", str(questions), "--json", "--strip-accents"]
    )
    assert result["questions"] == len(QUESTIONS)
    assert result["p_at_1"] >= 5 / 6


def test_eval_command_counts_a_wrong_or_missing_gold_id_as_a_miss(bench, capsys, tmp_path):
    contexts, _ = bench
    wrong = _write_jsonl(
        tmp_path / "wrong.jsonl",
        [
            {"question": "Sông Hồng bắt nguồn từ đâu?", "gold_context_id": "c5"},
            {"question": "Ai chỉ huy chiến dịch Điện Biên Phủ?", "gold_context_id": "c6"},
            {"question": "Phở nấu bằng gì?", "gold_context_id": "nowhere"},
        ],
    )
    assert main(["eval", "--lang", "en", "--contexts", str(contexts), "--questions", str(wrong), "--json"]) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out)["p_at_1"] == pytest.approx(1 / 3, abs=1e-4)
    # a gold id that names no context is pointed out (a wrong but existing one cannot be)
    assert "1 of 3 questions name a gold context" in captured.err and "'nowhere'" in captured.err


def test_eval_command_prints_readable_figures(bench, capsys):
    contexts, questions = bench
    assert main(["eval", "--contexts", str(contexts), "--questions", str(questions)]) == 0
    out = capsys.readouterr().out
    assert "P@1 100.0" in out and "MRR@10 100.0" in out and "ms per question" in out


def test_refusal_mode_refuses_when_the_gold_context_is_left_out(bench, capsys):
    contexts, questions = bench
    result = _run_json(
        capsys,
        ["eval", "--contexts", str(contexts), "--questions", str(questions), "--refusal", "--folds", "3", "--json"],
    )
    assert result["refusal_questions"] == len(QUESTIONS)
    assert result["folds"] == 3
    # the six topics share no content words: without its context a question has no answer
    assert result["refused"] >= 5 / 6
    assert result["answerable_answered"] == 1.0
    assert 0 <= result["calibrated_min_coverage"] <= 1


def test_bad_benchmark_files_give_a_clear_error(bench, capsys, tmp_path):
    contexts, questions = bench
    assert main(["eval", "--contexts", str(tmp_path / "missing.jsonl"), "--questions", str(questions)]) == 2
    assert "contexts file not found" in capsys.readouterr().err
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"question": "Sông Hồng?"}\n', encoding="utf-8")
    assert main(["eval", "--contexts", str(contexts), "--questions", str(bad)]) == 2
    assert "gold_context_id" in capsys.readouterr().err


def test_load_questions_skips_blank_lines(tmp_path):
    path = tmp_path / "q.jsonl"
    path.write_text('{"id": "a", "question": "X?", "gold_context_id": "c"}\n\n', encoding="utf-8")
    assert load_questions(path) == [EvalQuestion("a", "X?", "c")]


def test_a_refused_question_keeps_its_ranking(bench, settings):
    from dataclasses import replace

    from bot.frontends.evaluate import evaluate, load_contexts

    contexts, questions = bench
    strict = replace(settings, answer=replace(settings.answer, min_coverage=1.0))  # refuses everything
    report, outcomes = evaluate(load_contexts(contexts).articles, contexts, load_questions(questions), strict)
    assert report.answered < 1.0 and not all(o.answered for o in outcomes)
    assert report.p_at_1 == 1.0  # the ranking is measured all the same


def test_a_bad_context_line_is_reported_and_the_rest_is_measured(bench, capsys, tmp_path):
    contexts, questions = bench
    broken = tmp_path / "broken.jsonl"
    lines = contexts.read_text(encoding="utf-8").splitlines()
    broken.write_text(
        "\n".join(lines[:2] + ['{"id": "c9", "title": "Hỏng", "text": '] + lines[2:]) + "\n", encoding="utf-8"
    )
    assert main(["eval", "--lang", "en", "--contexts", str(broken), "--questions", str(questions), "--json"]) == 0
    captured = capsys.readouterr()
    assert "broken.jsonl" in captured.err and "warning: skipped" in captured.err
    assert json.loads(captured.out)["p_at_1"] == 1.0


def test_contexts_with_nothing_usable_give_a_clear_error(bench, capsys, tmp_path):
    _, questions = bench
    empty = tmp_path / "empty.jsonl"
    empty.write_text('{"id": "x"\n', encoding="utf-8")
    assert main(["eval", "--contexts", str(empty), "--questions", str(questions)]) == 2
    assert "no usable contexts" in capsys.readouterr().err
