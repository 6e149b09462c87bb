"""Retrieval over the shipped articles, with questions written for these tests (not the shared dev set)."""

import pytest

from bot.answer.compose import answer_question

QUESTIONS = [
    # question, article that answers, phrase the top passage must hold
    ("Đảng ủy Khối các cơ quan Hải Phòng kết nạp mới bao nhiêu đảng viên?", "002", "64 đảng viên"),
    ("ket nap moi bao nhieu dang vien", "002", "64 đảng viên"),
    ("Bao nhiêu tổ chức cơ sở đảng trực thuộc Đảng bộ Khối các cơ quan Hà Nội?", "004", "68 tổ chức cơ sở đảng"),
    ("Có mấy chỉ tiêu hoàn thành và vượt mức nhiệm kỳ qua?", "004", "7/8 chỉ tiêu"),
    ("Chỉ thị 18 của UBND TP", "003", "Chỉ thị 18"),
    ("khen thưởng bao nhiêu chi bộ xuất sắc", "002", "25 chi bộ"),
    ("Kết luận số 08-KL/ĐU", "002", "08-KL/ĐU"),
    (
        "Bí thư Đảng ủy Khối Các cơ quan thành phố Phạm Xuân Thanh nói gì về nhiệm kỳ 2020 - 2025?",
        "000",
        "Phạm Xuân Thanh",
    ),
    ("chỉ số PAPI giải ngân vốn xây dựng cơ bản", "001", "PAPI"),
    ("Chương trình 07 của Thành ủy", "001", "Chương trình 07"),
    ("tận tuỵ với công việc", "003", "tận tuỵ"),
    ("tan tuy voi cong viec", "003", "tận tuỵ"),
    ("Chỉ thị số 35 của Bộ Chính trị về bầu cử", "000", "Chỉ thị số 35"),
]


@pytest.mark.parametrize("question,doc,must", QUESTIONS)
def test_top_passage_answers(shipped_index, settings, question, doc, must):
    answer = answer_question(shipped_index, question, settings)
    assert answer.status == "ok"
    top = answer.results[0]
    assert top.doc_id == doc
    assert must.lower() in top.text.lower()
    assert top.title and top.date is not None


@pytest.mark.parametrize(
    "question,doc,must",
    [
        ("Ai báo cáo kết quả công tác 9 tháng đầu năm 2021?", "003", "Lê Thị Hồng Nga"),
    ],
)
def test_answer_is_in_the_top_three(shipped_index, settings, question, doc, must):
    answer = answer_question(shipped_index, question, settings)
    assert any(r.doc_id == doc and must in r.text for r in answer.results[:3])


@pytest.mark.parametrize(
    "question",
    [
        "Giá xăng RON 95 tuần này là bao nhiêu?",
        "Kết quả xổ số miền Bắc",
        "Thời tiết Đà Lạt cuối tuần",
        "Who won the football match yesterday?",
    ],
)
def test_questions_the_corpus_cannot_answer_get_no_passage(shipped_index, settings, question):
    answer = answer_question(shipped_index, question, settings)
    assert answer.status == "no_answer" and answer.results == ()


def test_exact_accents_rank_first(shipped_index, settings):
    # 'chính trị' and 'chỉnh trị' fold to the same letters; the accented form must win
    answer = answer_question(shipped_index, "chỉnh đốn Đảng", settings, top_k_=5)
    assert "chỉnh đốn" in answer.results[0].text


def test_no_near_duplicate_passages(shipped_index, settings):
    answer = answer_question(shipped_index, "Đảng ủy Khối", settings, top_k_=10)
    texts = [r.text for r in answer.results]
    assert len(texts) == len(set(texts))


def test_paging_gives_the_next_results(shipped_index, settings):
    first = answer_question(shipped_index, "nâng cao chất lượng sinh hoạt chi bộ", settings, top_k_=3)
    second = answer_question(shipped_index, "nâng cao chất lượng sinh hoạt chi bộ", settings, top_k_=3, offset=3)
    assert first.has_more
    assert [r.rank for r in second.results] == [4, 5, 6]
    assert not {r.passage_id for r in first.results} & {r.passage_id for r in second.results}


def test_matched_words_are_reported(shipped_index, settings):
    answer = answer_question(shipped_index, "Nghị quyết số 128/NQ-CP", settings)
    top = answer.results[0]
    assert "128/nq-cp" in top.matched
    start = top.text.index("128/NQ-CP")
    assert any(s <= start and start + len("128/NQ-CP") <= e for s, e in top.spans)
