import unicodedata

from bot.text.normalize import canonical_tones, fold_accents, has_diacritics, normalize
from bot.text.terms import TermOptions, find_codes, highlight_spans, index_terms, name_syllables, query_terms, segment


def test_nfd_input_gives_the_same_terms_as_nfc():
    text = "Đảng ủy Khối các cơ quan thành phố Hà Nội"
    nfd = unicodedata.normalize("NFD", text)
    assert nfd != text
    assert index_terms(normalize(nfd)) == index_terms(normalize(text))


def test_old_and_new_tone_placement_match():
    assert canonical_tones("hoà") == canonical_tones("hòa") == "hòa"
    assert canonical_tones("thuỷ") == "thủy"
    assert canonical_tones("tận tuỵ") == "tận tụy"
    assert canonical_tones("khoẻ") == "khỏe"
    assert canonical_tones("Uỷ ban") == "Ủy ban"
    # closed syllables and 'qu' keep their mark where it is
    assert canonical_tones("hoàn thành") == "hoàn thành"
    assert canonical_tones("quý") == "quý"
    assert set(index_terms(normalize("khoá XII"))) == set(index_terms(normalize("khóa XII")))


def test_fold_accents_folds_d_with_stroke():
    assert fold_accents("Đảng viên đoàn kết") == "Dang vien doan ket"
    assert has_diacritics("đ") and not has_diacritics("dang vien")


def test_question_without_diacritics_uses_folded_terms():
    q = query_terms("ket nap dang vien")
    assert not q.accented
    assert "~ket nap" in q.terms and "~dang vien" in q.terms
    doc = set(index_terms(normalize("Kết nạp mới 64 đảng viên")))
    assert {"~ket nap", "~dang vien"} <= doc


def test_accented_question_prefers_exact_terms():
    q = query_terms("kết nạp đảng viên")
    weights = dict(zip(q.terms, q.weights))
    assert weights["kết nạp"] == 1.0
    assert weights["~ket nap"] < 1.0


def test_document_codes_and_dates_stay_findable():
    codes = find_codes(
        "theo Nghị quyết số 128/NQ-CP, Chỉ thị số 05-CT/TƯ ngày 3/8 - 4/8/2020, nhiệm kỳ 2020-2025, 7/8 chỉ tiêu"
    )
    assert "128/nq-cp" in codes
    assert "05-ct/tw" in codes  # 'TƯ' and 'TW' are the same code
    assert "4/8/2020" in codes and "4/8" in codes and "3/8" in codes
    assert "2020-2025" in codes and "7/8" in codes
    assert "05-ct/tw" in query_terms("Chỉ thị 05-CT/TW").terms


def test_roman_numeral_full_stop_does_not_glue_words():
    runs = segment(normalize("Đại hội lần thứ XIII. Ủy viên Bộ Chính trị dự."))
    words = [w for run in runs for w in run]
    assert ["xiii"] in words
    assert ["ủy", "viên"] in words


def test_underscore_in_text_is_not_a_word_joiner():
    assert normalize("file_name_2020") == "file name 2020"
    terms = index_terms(normalize("file_name_2020"))
    assert {"file", "name", "2020"} <= set(terms)


def test_tp_with_and_without_full_stop_match():
    assert "tp" in index_terms(normalize("TP. Hồ Chí Minh"))
    assert "tp" in index_terms(normalize("TP Hồ Chí Minh"))


def test_emoji_punctuation_and_empty_input_give_no_terms():
    for text in ["", "   ", "😀🎉", "?!...", "—––"]:
        assert index_terms(normalize(text)) == []
        assert query_terms(text).terms == ()


def test_control_and_zero_width_characters_are_removed():
    assert normalize("Hà\u200bNội\x00 ") == "HàNội "
    assert "hà" in index_terms(normalize("Hà\u200b Nội"))


def test_stop_words_are_dropped_from_questions():
    q = query_terms("Ai là Bí thư?", stopwords=frozenset({"ai", "là"}))
    assert "ai" not in q.terms and "là" not in q.terms and "bí thư" in q.terms


def test_options_switch_term_kinds_off():
    plain = index_terms(normalize("đảng viên mới"), TermOptions(bigrams=False, words=False, folded=False))
    assert plain == ["đảng", "viên", "mới"]


def test_highlight_spans_ignore_case_accents_and_tone_style():
    text = "Chủ tịch HĐND TP Nguyễn Thị Lệ dự. Kết nạp đảng viên; hoà bình"
    spans = highlight_spans(text, ["chủ tịch", "ket nap", "dang vien", "hòa"])
    found = [text[s:e] for s, e in spans]
    assert "Chủ tịch" in found
    assert "Kết nạp đảng viên" in found  # adjacent words merge into one span
    assert "hoà" in found


def test_highlight_codes_literally():
    text = "Nghị quyết số 128/NQ-CP của Chính phủ"
    assert [text[s:e] for s, e in highlight_spans(text, ["128/nq-cp"])] == ["128/NQ-CP"]


def test_name_syllables_are_the_capitalised_words_not_sentence_starts():
    assert name_syllables("Nước biển ở đâu của Phần Lan mặn nhất?") == {"phần", "lan", "phan"}
    # a sentence's first word counts when the next word is capitalised too (a name)
    assert name_syllables("Hoa Kỳ có bao nhiêu bang? Gandhi sinh năm nào") == {"hoa", "kì", "ki"}
    assert name_syllables("Roosevelt làm gì") == set()
    # typed in capitals or title case: capitals say nothing
    assert name_syllables("HÀ NỘI CÓ GÌ") == set()
    assert name_syllables("Hà Nội Có Gì") == set()


def test_query_names_are_the_terms_of_those_syllables():
    names = query_terms("Rừng Vincennes ở đâu?").names
    assert names == {"rừng", "vincennes", "~rung", "~vincennes"}
    assert query_terms("rung vincennes o dau").names == frozenset()
