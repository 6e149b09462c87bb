"""Question analysis, answering sentences and phrases: pure functions on text written for these tests."""

import pytest

from bot.answer.question import Expected, QuestionKind, analyze_question
from bot.answer.sentence import answer_phrase, best_sentence, sentences_of
from bot.search.proximity import TermFinder


@pytest.mark.parametrize(
    ("question", "kind", "expected"),
    [
        ("Ai là Chủ tịch UBND tỉnh Quảng Ninh?", QuestionKind.WHO, Expected.PERSON),
        ("ai la chu tich ubnd tinh quang ninh", QuestionKind.WHO, Expected.PERSON),
        ("Hội nghị khai mạc vào ngày nào?", QuestionKind.WHEN, Expected.DATE),
        ("hoi nghi khai mac khi nao", QuestionKind.WHEN, Expected.DATE),
        ("Trận đấu diễn ra lúc mấy giờ?", QuestionKind.WHEN, Expected.DATE),
        ("Công ty lãi bao nhiêu trong quý I?", QuestionKind.HOW_MANY, Expected.NUMBER),
        ("Đại hội diễn ra trong mấy ngày?", QuestionKind.HOW_MANY, Expected.NUMBER),
        ("dai hoi dien ra trong may ngay", QuestionKind.HOW_MANY, Expected.NUMBER),
        ("Ông Lee nắm bao nhiêu cổ phần Samsung?", QuestionKind.HOW_MANY, Expected.NUMBER),
        ("Vụ tai nạn xảy ra ở đâu?", QuestionKind.WHERE, Expected.PLACE),
        ("Tỉnh nào có nhiều ca mắc nhất?", QuestionKind.WHERE, Expected.PLACE),
        ("CLB nào vô địch V-League 2020?", QuestionKind.WHICH, Expected.ORGANISATION),
        ("Vì sao giá xăng tăng?", QuestionKind.WHY_HOW, Expected.NONE),
        ("vi sao gia xang tang", QuestionKind.WHY_HOW, Expected.NONE),
        ("Doanh nghiệp có được gia hạn nộp thuế không?", QuestionKind.YES_NO, Expected.NONE),
        ("Nghị quyết 128 là gì?", QuestionKind.WHAT, Expected.NONE),
        ("cầu Rồng", QuestionKind.OTHER, Expected.NONE),
    ],
)
def test_question_kind(question, kind, expected):
    analysis = analyze_question(question)
    assert (analysis.kind, analysis.expected) == (kind, expected)


def test_how_many_without_diacritics_needs_a_counted_noun():
    # "may" is also "máy" (machine): only before a counted noun is it "mấy"
    assert analyze_question("may bay ha canh luc nao").kind is QuestionKind.WHEN
    assert analyze_question("nha may xi mang o tinh nao").kind is QuestionKind.WHERE
    assert analyze_question("tram dien co may may phat").kind is not QuestionKind.HOW_MANY


def test_unit_of_a_how_many_question():
    assert analyze_question("Đảng bộ kết nạp bao nhiêu đảng viên?").unit == "dang vien"
    assert analyze_question("Chiếc điện thoại bán với giá bao nhiêu?").unit == "money"


PASSAGE = (
    "Sáng 12/3, Đảng bộ phường Tân An tổng kết công tác năm. Trong năm, Đảng bộ kết nạp mới 18 đảng viên, "
    "chuyển sinh hoạt cho 42 đảng viên và khen thưởng 5 chi bộ.\n"
    "Phát biểu tại hội nghị, Bí thư Quận ủy Trần Minh Khoa đề nghị tiếp tục nâng cao chất lượng sinh hoạt chi bộ."
)


def finder_for(words: str) -> TermFinder:
    return TermFinder({w: 1.0 for w in words.split()})


def test_number_phrase_is_the_one_the_question_counts():
    for question, words, phrase in [
        ("Đảng bộ kết nạp mới bao nhiêu đảng viên?", "kết nạp đảng viên", "18 đảng viên"),
        ("Bao nhiêu đảng viên được chuyển sinh hoạt?", "chuyển sinh hoạt đảng viên", "42 đảng viên"),
        ("Khen thưởng bao nhiêu chi bộ?", "khen thưởng chi bộ", "5 chi bộ"),
    ]:
        sentence = sentences_of(PASSAGE)[1][1]
        found = answer_phrase(sentence, analyze_question(question), question, finder_for(words))
        assert found is not None and found[0] == phrase, question


def test_best_sentence_holds_the_answer_and_its_phrase():
    question = "Ai là Bí thư Quận ủy?"
    words = "bí thư quận ủy"
    best = best_sentence(PASSAGE, finder_for(words), 4.0, analyze_question(question), question)
    assert best is not None
    assert best.phrase == "Trần Minh Khoa"
    assert PASSAGE[best.start :].startswith(best.sentence)


def test_person_is_cut_from_a_place_before_it():
    sentence = "Dự hội nghị có Bí thư Thành ủy Hà Nội Vương Đình Huệ."
    found = answer_phrase(sentence, analyze_question("Ai là Bí thư Thành ủy Hà Nội?"), "Ai là Bí thư Thành ủy Hà Nội?")
    assert found is not None and found[0] == "Vương Đình Huệ"


def test_date_phrase_and_a_phrase_the_question_already_holds():
    analysis = analyze_question("Hội nghị khai mạc ngày nào?")
    assert (
        answer_phrase("Hội nghị khai mạc sáng 12/3 tại Hà Nội.", analysis, "Hội nghị khai mạc ngày nào?")[0]
        == "sáng 12/3"
    )
    # the question's own date is not an answer
    assert answer_phrase("Hội nghị ngày 12/3 bàn về vốn.", analysis, "Hội nghị ngày 12/3 khai mạc ngày nào?") is None
