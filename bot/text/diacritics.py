"""Restoring the diacritics of a question typed without them, from a corpus's own statistics.

Each accent-free syllable ('nhieu') may stand for several real ones ('nhiều', 'nhiêu',
'nhiễu'); the corpus says which of them exist and how often two stand side by side. A
syllable-bigram model decoded with Viterbi picks the likeliest sequence ('bao nhieu' -> 'bao
nhiêu', 'dang vien' -> 'đảng viên'). Pure functions: the counts come in as callables, so the
same code runs on any index (``bot.search.ranking`` passes the index's passage counts).
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Callable, Sequence
from itertools import product

from bot.text.normalize import canonical_syllable, canonical_tones

# the letters a diacritic can change, and what they can become
_LETTER_FORMS = {"a": "aăâ", "e": "eê", "o": "oôơ", "u": "uư", "d": "dđ"}
_VOWELS = frozenset("aăâeêioôơuưy")
_TONE_MARKS = ("", "\u0301", "\u0300", "\u0309", "\u0303", "\u0323")  # none, sắc, huyền, hỏi, ngã, nặng
_WORD_RE = re.compile(r"\w+")
_MAX_SYLLABLE = 7  # 'nghiêng' is the longest Vietnamese syllable

SyllableCount = Callable[[str], int]
PairCount = Callable[[str, str], int]


def spellings(folded: str) -> list[str]:
    """Every way of writing an accent-free lower-case syllable with Vietnamese diacritics, in the
    index's spelling (one tone place, one i/y spelling), itself included; [] for a non-syllable."""
    if not folded.isascii() or not folded.isalpha() or len(folded) > _MAX_SYLLABLE:
        return []
    options = [_LETTER_FORMS.get(ch, ch) if i == 0 or ch != "d" else ch for i, ch in enumerate(folded)]
    found: dict[str, None] = {}
    for letters in product(*options):
        vowels = [i for i, ch in enumerate(letters) if ch in _VOWELS]
        if not vowels:
            found[canonical_syllable("".join(letters))] = None
            continue
        for mark in _TONE_MARKS:
            for place in vowels if mark else vowels[:1]:
                word = "".join(ch + mark if i == place else ch for i, ch in enumerate(letters))
                found[canonical_syllable(canonical_tones(unicodedata.normalize("NFC", word)))] = None
    return list(found)


def restore_syllables(
    syllables: Sequence[str],
    candidates: Callable[[str], Sequence[str]],
    count: SyllableCount,
    pair_count: PairCount,
    total: int,
    smoothing: float = 2.0,
) -> list[str]:
    """The likeliest accented form of each accent-free syllable of a run (Viterbi over a bigram
    model): ``candidates(s)`` are the forms the corpus holds, ``count`` and ``pair_count`` their
    passage counts alone and side by side, ``total`` the number of passages. A syllable without
    candidates is kept as it is and breaks the chain.

    P(b | a) = (n(a b) + smoothing * n(b) / total) / (n(a) + smoothing).
    """
    restored: list[str] = []
    # best[form] = (log probability of the best path ending in form, that path)
    best: dict[str, tuple[float, list[str]]] = {}
    for syllable in syllables:
        forms = list(candidates(syllable)) if syllable else []
        if not forms:
            if best:
                restored.extend(max(best.values(), key=lambda v: v[0])[1])
            restored.append(syllable)
            best = {}
            continue
        prior = {form: max(count(form), 0) / max(total, 1) for form in forms}
        if not best:
            best = {form: (math.log(prior[form] + 1e-12), [form]) for form in forms}
            continue
        following: dict[str, tuple[float, list[str]]] = {}
        for form in forms:
            options = []
            for previous, (logp, path) in best.items():
                p = (pair_count(previous, form) + smoothing * prior[form]) / (max(count(previous), 0) + smoothing)
                options.append((logp + math.log(p + 1e-12), path))
            logp, path = max(options, key=lambda v: v[0])
            following[form] = (logp, [*path, form])
        best = following
    if best:
        restored.extend(max(best.values(), key=lambda v: v[0])[1])
    return restored


def restore_text(text: str, restore: Callable[[list[str]], list[str]]) -> str:
    """The text with each run of accent-free words replaced by ``restore``'s forms, keeping
    capitals ('Ha Noi' -> 'Hà Nội'); words in capitals only (UBND, TPHCM) stay as typed.

    A run is a stretch of accent-free words separated by spaces only: punctuation, numbers and
    words with diacritics break it.
    """
    pieces: list[str] = []
    position = 0
    run: list[re.Match[str]] = []

    def flush() -> None:
        nonlocal position
        typed = [m.group(0) for m in run]
        kept = [len(w) > 1 and w.isupper() for w in typed]
        forms = restore(["" if k else w.lower() for w, k in zip(typed, kept, strict=True)])
        for m, form, keep in zip(run, forms, kept, strict=True):
            pieces.append(text[position : m.start()])
            pieces.append(m.group(0) if keep or not form else _with_case(form, m.group(0)))
            position = m.end()
        run.clear()

    for m in _WORD_RE.finditer(text):
        plain = m.group(0).isascii() and m.group(0).isalpha()
        if run and (not plain or text[run[-1].end() : m.start()].strip(" ")):
            flush()
        if plain:
            run.append(m)
    if run:
        flush()
    pieces.append(text[position:])
    return "".join(pieces)


def _with_case(form: str, typed: str) -> str:
    if typed.isupper() and len(typed) > 1:
        return form.upper()
    return form[:1].upper() + form[1:] if typed[:1].isupper() else form


# an accent-free Vietnamese syllable: initial consonant, one to three vowels, final consonant
_SYLLABLE_RE = re.compile(r"(?:ngh|ng|nh|ch|gh|gi|kh|ph|qu|th|tr|[bcdghklmnprstvx])?[aeiouy]{1,3}(?:ch|nh|ng|[cmnpt])?")


def is_vietnamese_syllable(folded: str) -> bool:
    """Whether an accent-free lower-case word could be a Vietnamese syllable ('nguoi', 'sen'),
    not a foreign name or a code ('kishida', 'omicron', 'psg')."""
    return _SYLLABLE_RE.fullmatch(folded) is not None
