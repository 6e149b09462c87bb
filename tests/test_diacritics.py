"""Diacritics restored from a corpus's counts, and questions about names the corpus never mentions."""

from dataclasses import replace

import pytest

from bot.answer.compose import AnswerStatus, answer_question
from bot.frontends.messages import load_messages
from bot.frontends.render import render_answer
from bot.search.diacritics import index_diacritics
from bot.search.ranking import question_terms
from bot.text.diacritics import is_vietnamese_syllable, restore_syllables, restore_text, spellings


def test_spellings_cover_every_accented_form_in_the_index_spelling():
    forms = spellings("nhieu")
    assert {"nhiều", "nhiêu", "nhiễu", "nhiệu"} <= set(forms)
    assert "nhieu" in forms and len(forms) == len(set(forms))
    assert {"đảng", "đang", "dáng", "dang"} <= set(spellings("dang"))
    assert "hòa" in spellings("hoa") and "hoà" not in spellings("hoa")  # one tone place, as indexed
    assert "lí" in spellings("ly") and "lý" not in spellings("ly")  # one i/y spelling, as indexed
    assert spellings("covid19") == [] and spellings("nghiêng") == []


def test_viterbi_prefers_the_form_its_neighbour_occurs_with():
    counts = {"bao": 50, "báo": 40, "nhiêu": 10, "nhiều": 60, "bao nhiêu": 9, "báo nhiều": 0}
    forms = {"bao": ["bao", "báo"], "nhieu": ["nhiều", "nhiêu"]}

    def restore(run):
        return restore_syllables(
            run, lambda s: forms.get(s, []), lambda t: counts.get(t, 0), lambda a, b: counts.get(f"{a} {b}", 0), 100
        )

    assert restore(["bao", "nhieu"]) == ["bao", "nhiêu"]  # 'nhiều' alone is commoner, the pair decides
    assert restore(["nhieu"]) == ["nhiều"]
    assert restore(["xyz", "nhieu"]) == ["xyz", "nhiều"]  # an unknown syllable is kept and breaks the chain


def test_restore_text_keeps_capitals_punctuation_abbreviations_and_accented_words():
    table = {"ha": "hà", "noi": "nội", "co": "có", "bao": "bao", "nhieu": "nhiêu"}
    out = restore_text("Ha Noi, UBND co bao nhieu 2,5 Hà noi?", lambda run: [table.get(s, s) for s in run])
    assert out == "Hà Nội, UBND có bao nhiêu 2,5 Hà nội?"


@pytest.mark.parametrize("word", ["nguoi", "sen", "nghieng", "khuya", "dang", "truong", "oanh"])
def test_vietnamese_syllables_are_recognised(word):
    assert is_vietnamese_syllable(word)


@pytest.mark.parametrize("word", ["kishida", "omicron", "qdenga", "psg", "truss", "manet", "fumio", "abe"])
def test_foreign_words_are_not_vietnamese_syllables(word):
    assert not is_vietnamese_syllable(word)


def test_restoring_from_the_shipped_index(shipped):
    _, index = shipped
    restorer = index_diacritics(index)
    assert restorer.restore("Dang bo Khoi ket nap dang vien") == "Đảng bộ Khối kết nạp đảng viên"
    assert restorer.restore("Chu tich HDND TP Ho Chi Minh") == "Chủ tịch HDND TP Hồ Chí Minh"
    assert index_diacritics(index) is restorer  # counts remembered per index


@pytest.mark.parametrize(
    ("question", "absent"),
    [
        ("Thủ tướng Kishida Fumio thăm Việt Nam khi nào?", ("Kishida", "Fumio")),
        ("vac xin Qdenga duoc phe duyet khi nao", ("Qdenga",)),
    ],
)
def test_questions_about_names_the_corpus_never_mentions_are_refused_naming_them(shipped, question, absent):
    settings, index = shipped
    answer = answer_question(index, question, settings)
    assert answer.status is AnswerStatus.NO_ANSWER and answer.absent == absent
    reply = render_answer(answer, load_messages(settings.messages_file), "vi", as_html=False)
    assert "Kishida" in reply or "Qdenga" in reply


def test_known_abbreviations_and_vietnamese_words_are_never_absent(shipped):
    settings, index = shipped
    for question in ["HĐND TPHCM bầu ai làm chủ tịch?", "ket nap bao nhieu dang vien", "ĐH Đảng bộ Khối bầu ai?"]:
        answer = answer_question(index, question, settings)
        assert answer.status is AnswerStatus.OK and not answer.absent, question


def test_a_question_without_diacritics_is_also_searched_restored_when_weighted(shipped):
    settings, index = shipped
    weighted = replace(settings, answer=replace(settings.answer, restored_weight=0.5))
    plain = question_terms("ket nap dang vien", settings, index)
    restored = question_terms("ket nap dang vien", weighted, index)
    assert "đảng viên" not in plain.terms and not plain.accented
    extra = dict(zip(restored.terms, restored.weights))
    bigram = settings.answer.bigram_weight
    assert extra["đảng viên"] == pytest.approx(0.5 * bigram) and extra["~dang vien"] == pytest.approx(bigram)
    assert restored.terms[: len(plain.terms)] == plain.terms


def test_an_english_question_is_told_the_bot_answers_vietnamese(shipped):
    settings, index = shipped
    messages = load_messages(settings.messages_file)
    answer = answer_question(index, "What is the capital of Vietnam?", settings)
    assert answer.status is AnswerStatus.NO_ANSWER and answer.not_vietnamese
    assert messages.get("not_vietnamese", "vi") in render_answer(answer, messages, "vi")
    for question in ["ket nap bao nhieu dang vien", "Chủ tịch HĐND là ai", "UBND TPHCM"]:
        assert not answer_question(index, question, settings).not_vietnamese, question
