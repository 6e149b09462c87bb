"""The index build's fast paths give exactly what the plain definitions give.

- ``pyvi_fast.pyvi_words`` == ``ViTokenizer.tokenize(line).split(" ")`` on varied generated lines;
- ``fold_accents`` (per-character table) == NFD without combining marks, 'đ' -> 'd';
- the build's ``Segmenter.segment`` == ``pack_article`` of ``Counter(index_terms(passage) + index_terms(title))``.
"""

from __future__ import annotations

import os
import random
import unicodedata
from collections import Counter
from dataclasses import replace

import numpy as np
import pytest
from pyvi import ViTokenizer

from bot.corpus.article import Article
from bot.index.segmenter import Segmenter, pack_article
from bot.settings import load_settings
from bot.text import pyvi_fast
from bot.text.normalize import fold_accents, normalize
from bot.text.passages import split_article
from bot.text.terms import TermOptions, index_term_counts, index_terms

QUIRKS = [
    "Nghị quyết 128/NQ-CP ngày 11/10/2021 của Chính phủ",
    "Ngày 1/8/2014, TP. Hồ Chí Minh tổ chức Đại hội lần thứ XIII. Ủy viên Bộ Chính trị dự.",
    "Kết luận 08-KL/ĐU, Chỉ thị 05-CT/TW và COVID-19 giai đoạn 2020-2025",
    "file_name_2020 và a_b_c được giữ nguyên",
    "Ha Noi tang truong kinh te nam nay dat 7,5% va GDP 1.234,56 ty dong",
    "Email: ban.bien.tap@baochinhphu.vn; web https://baochinhphu.vn/tin-tuc?id=1",
    "Mr. Smith, Dr. Lan và ThS. Minh ==> kết quả -> tốt... >> xem",
    "ĐẠI HỘI ĐẢNG BỘ TỈNH QUẢNG NINH LẦN THỨ XV",
    '"Trích dẫn" (ngoặc) [vuông] {nhọn} — gạch dài – ngắn … ba chấm',
    "Tp. Đà Nẵng, Q.1, P.Bến Nghé; 10h30 ngày 2-9",
    "   ",
    "!!!",
    "_",
    "X",
    "1",
    "Hòa bình, hoà bình, thuỷ lợi, thủy lợi, tuỵ, tụy",
    "Ông Nguyễn Văn A - Chủ tịch UBND tỉnh; bà Trần Thị B, Phó Bí thư",
    "ΟΔΟΣ Σ xΣ ΣΣ İstanbul ĐẠI HỘİ Hà Nội",  # str.lower looks at context (final sigma)
]
PUNCT = [",", ".", ":", ";", "!", "?", "(", ")", '"', "-", "/", "...", "–", "%", "==>", "_"]
EXTRA = ["2020", "128/NQ-CP", "1/8/2014", "TP.", "XIII.", "3.5", "1,000", "COVID-19", "a_b", "ĐU", "TW", "II"]


def _vocabulary() -> list[str]:
    path = os.path.join(os.path.dirname(ViTokenizer.__file__), "models", "words.txt")
    with open(path, encoding="utf-8") as handle:
        words = [w for w in handle.read().split("\n") if w.strip()]
    return random.Random(7).sample(words, 3000)


def _line(rng: random.Random, words: list[str]) -> str:
    parts = []
    for _ in range(rng.randint(1, 40)):
        roll = rng.random()
        if roll < 0.12:
            parts.append(rng.choice(PUNCT))
        elif roll < 0.2:
            parts.append(rng.choice(EXTRA))
        else:
            word = rng.choice(words)
            case = rng.random()
            word = word.title() if case < 0.25 else word.upper() if case < 0.3 else word
            parts.append(fold_accents(word) if rng.random() < 0.1 else word)
    glue = rng.choice([" ", " ", " ", ""])
    return glue.join(parts) if rng.random() < 0.9 else " ".join(parts).replace(" ", rng.choice(["  ", "\t", " _ "]))


@pytest.fixture(scope="module")
def lines() -> list[str]:
    rng = random.Random(2024)
    words = _vocabulary()
    return QUIRKS + [_line(rng, words) for _ in range(2500)]


def test_pyvi_words_equal_vitokenizer(lines: list[str]) -> None:
    assert pyvi_fast._known_attributes(), "the model's attributes were read (the filter is on)"
    for line in lines:
        assert pyvi_fast.pyvi_words(line) == ViTokenizer.tokenize(line).split(" "), line


def test_fold_accents_equals_nfd_definition(lines: list[str]) -> None:
    def reference(text: str) -> str:
        stripped = "".join(ch for ch in unicodedata.normalize("NFD", text) if not unicodedata.combining(ch))
        return stripped.replace("đ", "d").replace("Đ", "D")

    characters = [chr(c) for c in range(0x10000) if not 0xD800 <= c < 0xE000]
    assert [fold_accents(c) for c in characters] == [reference(c) for c in characters]
    samples = lines + ["e\u0302\u0301 o\u031b\u0323 A\u0301\u0323", "Ǹ ǹ Ḯ ẫ Ặ đĐ"]
    assert [fold_accents(t) for t in samples] == [reference(t) for t in samples]


def _articles(lines: list[str]) -> list[Article]:
    rng = random.Random(11)
    articles = []
    for number in range(60):
        paragraphs = [" ".join(rng.sample(lines, rng.randint(1, 6))) for _ in range(rng.randint(1, 5))]
        title = rng.choice(["", rng.choice(lines), "UBND tỉnh Quảng Ninh: " + rng.choice(lines)])
        articles.append(Article(str(number), title.strip(), "\n".join(paragraphs) or "x"))
    return articles


def _reference(article: Article, min_chars: int, max_chars: int, options: TermOptions, title: bool):
    title_terms = index_terms(normalize(article.title), options) if title and article.title else []
    texts, terms, lengths = [], [], []
    for passage in split_article(article, min_chars, max_chars):
        tokens = index_terms(normalize(passage.text), options) + title_terms
        texts.append(passage.text)
        terms.append(list(Counter(tokens).items()))
        lengths.append(len(tokens))
    return pack_article("k", texts, terms, lengths)


@pytest.mark.parametrize("variant", ["settings", "no_title", "no_folded", "plain", "tilde"])
def test_build_segmentation_equals_definition(lines: list[str], variant: str) -> None:
    settings = load_settings()
    options, title = settings.terms, settings.title_in_passages
    assert options.abbreviations and title
    if variant == "no_title":
        title = False
    elif variant == "no_folded":
        options = replace(options, folded=False)
    elif variant == "plain":
        options = TermOptions()
    elif variant == "tilde":  # an expansion's exact term that is also a folded copy ("~ha")
        options = replace(options, abbreviations=(("ubnd", "~ha ủy ban"), ("ha", "~hà nội")))
    articles = _articles(lines)
    segmenter = Segmenter(settings.min_chars, settings.max_chars, options, title)
    one_by_one = [segmenter.segment([("k", a)])[0] for a in articles]
    in_batches = [  # batches of several articles, some empty
        item
        for start, stop in ((0, 0), (0, 7), (7, 8), (8, 30), (30, 30), (30, 60))
        for item in segmenter.segment([("k", a) for a in articles[start:stop]])
    ]
    assert len(in_batches) == len(articles)
    for article, fast, batched in zip(articles, one_by_one, in_batches):
        slow = _reference(article, settings.min_chars, settings.max_chars, options, title)
        for got in (fast, batched):
            assert got.texts == slow.texts
            for field in ("hashes", "counts", "n_terms", "length"):
                mine, theirs = getattr(got, field), getattr(slow, field)
                assert mine.dtype == theirs.dtype and np.array_equal(mine, theirs), (article.id, field)


def test_term_numbers_forgotten_between_batches(lines: list[str]) -> None:
    """A worker forgets its term numbers past a size; batches after that give the same terms."""
    settings = load_settings()
    args = (settings.min_chars, settings.max_chars, settings.terms, settings.title_in_passages)
    articles = [("k", a) for a in _articles(lines)[:20]]
    before = Segmenter(*args).segment(articles)
    segmenter = Segmenter(*args, term_ids_size=10)
    segmenter.segment(articles[10:])
    numbered = segmenter.term_ids.ids
    assert len(numbered) > 10
    after = segmenter.segment(articles)
    assert segmenter.term_ids.ids is not numbered  # started again
    for a, b in zip(before, after):
        assert np.array_equal(a.hashes, b.hashes) and np.array_equal(a.counts, b.counts)


def test_index_term_counts_is_counter_of_index_terms(lines: list[str]) -> None:
    options = load_settings().terms
    for text, extra_text in zip(lines[:300], lines[300:600]):
        extra = index_terms(normalize(extra_text), options)
        got = index_term_counts(normalize(text), options, Counter(extra))
        want = Counter(index_terms(normalize(text), options) + extra)
        assert list(got.items()) == list(want.items())


def _exact_terms_reference(text: str, options: TermOptions) -> list[str]:
    """``exact_terms`` as first written: from ``segment``, word by word."""
    from bot.text.terms import expansion_terms, find_codes, segment

    terms: list[str] = []
    for run in segment(text, words=options.words):
        syllables: list[str] = []
        for word in run:
            syllables.extend(word)
            if options.words and len(word) >= max(2, options.min_word_syllables):
                terms.append("_".join(word))
        terms.extend(syllables)
        if options.bigrams:
            terms.extend(f"{a} {b}" for a, b in zip(syllables, syllables[1:]))
        terms.extend(expansion_terms(syllables, options))
    if options.codes:
        terms.extend(find_codes(text))
    return terms


def test_exact_terms_equal_their_definition(lines: list[str]) -> None:
    from bot.text.terms import exact_terms

    settings = load_settings()
    variants = [
        settings.terms,
        TermOptions(),
        replace(settings.terms, words=False, bigrams=False, codes=False),
        replace(settings.terms, min_word_syllables=2),
    ]
    for options in variants:
        for line in lines[:400]:
            text = normalize(line)
            assert exact_terms(text, options) == _exact_terms_reference(text, options), line


def test_canonical_tones_equals_its_nfd_definition() -> None:
    import re

    from bot.text.normalize import _OLD_TONE_RE, _move_tone, canonical_tones

    def reference(text: str) -> str:
        return unicodedata.normalize("NFC", _OLD_TONE_RE.sub(_move_tone, unicodedata.normalize("NFD", text)))

    rng = random.Random(5)
    alphabet = (
        list("oOaAeEuUyYqQ hn.")
        + list("àáảãạèéẻẽẹỳýỷỹỵÀÉỶậặệôơâăêòóÒ")
        + ["\u0300", "\u0301", "\u0309", "\u0303", "\u0323", "\u0302"]
    )
    samples = ["hoà", "khoẻ", "thuỷ", "tuỵ", "quà", "hòa", "Hoà Bình", "HOÀ", "oà.", "hoàn", "toạ", "xoè", "uỷ ban"]
    samples += ["".join(rng.choice(alphabet) for _ in range(rng.randint(1, 12))) for _ in range(20000)]
    for text in samples:
        for form in (text, unicodedata.normalize("NFC", text)):
            assert canonical_tones(form) == reference(form), repr(form)
    assert re.search("hòa", canonical_tones("hoà"))
    # the NFC look-ahead is as strict as the NFD one: a word character or mark decomposes to one
    ahead = re.compile(r"[\w\u0300-\u036f]")
    for code in range(0x110000):
        if not 0xD800 <= code < 0xE000 and ahead.match(chr(code)):
            assert ahead.match(unicodedata.normalize("NFD", chr(code))[0]), hex(code)
