"""Vietnamese text normalisation: NFC, one tone-mark style, one i/y spelling, accent folding,
sentence splitting. Pure functions.
"""

from __future__ import annotations

import re
import unicodedata

# --- normalisation ---------------------------------------------------------------------

# Old-style tone placement puts the mark on the second vowel of an open "oa", "oe", "uy"
# syllable (hoà, khoẻ, thuỷ); the canonical form here puts it on the first (hòa, khỏe, thủy).
_TONES = {
    "\u0300": "grave",
    "\u0301": "acute",
    "\u0309": "hook",
    "\u0303": "tilde",
    "\u0323": "dot",
}
_OLD_TONE_RE = re.compile(
    r"(?<![qQ])([oO])([aAeE])([\u0300\u0301\u0309\u0303\u0323])(?![\w\u0300-\u036f])"
    r"|(?<![qQ])([uU])([yY])([\u0300\u0301\u0309\u0303\u0323])(?![\w\u0300-\u036f])"
)
_INVISIBLE_RE = re.compile(r"[\u200b-\u200f\u202a-\u202e\u2060-\u2064\ufeff\u00ad]")
_CONTROL_RE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_SPACE_RE = re.compile(r"[ \t\u00a0\u2000-\u200a\u202f\u205f\u3000]+")


def _move_tone(match: re.Match) -> str:
    if match.group(1):
        first, second, tone = match.group(1), match.group(2), match.group(3)
    else:
        first, second, tone = match.group(4), match.group(5), match.group(6)
    return first + tone + second


def _old_tone_vowels(bases: str) -> str:
    """The precomposed characters whose NFD starts with one of ``bases`` and then a tone mark."""
    return "".join(
        ch
        for ch in map(chr, range(0xC0, 0x2000))
        if len(nfd := unicodedata.normalize("NFD", ch)) > 1 and nfd[0] in bases and nfd[1] in _TONES
    )


# What ``_OLD_TONE_RE`` finds in NFD text, looked for in NFC text (a necessary condition, cheap
# to test: a character that is a word character or a mark decomposes to one starting with one).
_OLD_TONE_HINT_RE = re.compile(
    f"(?:[oO][{_old_tone_vowels('aAeE')}]|[uU][{_old_tone_vowels('yY')}])(?![\\w\u0300-\u036f])"
)


def canonical_tones(text: str) -> str:
    """Put tone marks in one place: 'hoà' -> 'hòa', 'thuỷ' -> 'thủy', 'tuỵ' -> 'tụy'."""
    if unicodedata.is_normalized("NFC", text) and not _OLD_TONE_HINT_RE.search(text):
        return text  # nothing to move: the NFD round trip would give the text back
    decomposed = unicodedata.normalize("NFD", text)
    moved = _OLD_TONE_RE.sub(_move_tone, decomposed)
    return unicodedata.normalize("NFC", moved)


def normalize(text: str) -> str:
    """NFC, one tone-mark style, no control or zero-width characters, single spaces.

    Newlines are kept (they separate paragraphs); '_' becomes a space because pyvi
    uses it to join the syllables of a word.
    """
    text = unicodedata.normalize("NFC", text)
    text = _INVISIBLE_RE.sub("", text)
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = _CONTROL_RE.sub(" ", text)
    text = text.replace("_", " ")
    text = _SPACE_RE.sub(" ", text)
    return canonical_tones(text)


# "tỉ"/"tỷ", "lí"/"lý", "kì"/"kỳ", "Mĩ"/"Mỹ": after an initial consonant, a lone i or y is the
# same vowel written two ways; both are indexed as i. ("quy", "uy", "ay" and a leading "y" keep y.)
_I_Y_RE = re.compile(r"^(b|ch|c|d|đ|gh|g|h|kh|k|l|m|ngh|ng|nh|n|ph|p|r|s|th|tr|t|v|x)([yýỳỷỹỵ])$")
_Y_TO_I = str.maketrans("yýỳỷỹỵ", "iíìỉĩị")


def canonical_syllable(syllable: str) -> str:
    """A lower-case syllable in one spelling: 'tỷ' -> 'tỉ', 'lý' -> 'lí'; others unchanged."""
    match = _I_Y_RE.match(syllable)
    return match.group(1) + match.group(2).translate(_Y_TO_I) if match else syllable


class _FoldTable(dict):
    """``str.translate`` table, filled as characters come: each character's NFD form without
    combining marks ('ệ' -> 'e', 'Đ' -> 'D'). NFD decomposes character by character and only
    reorders combining marks, so folding each character alone folds the whole text the same."""

    def __missing__(self, code: int) -> str:
        decomposed = unicodedata.normalize("NFD", chr(code))
        folded = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
        self[code] = folded = folded.replace("đ", "d").replace("Đ", "D")
        return folded


_FOLD_TABLE = _FoldTable()


def fold_accents(text: str) -> str:
    """Remove Vietnamese diacritics: 'Đảng viên' -> 'Dang vien' ('đ' folds to 'd' too)."""
    return text if text.isascii() else text.translate(_FOLD_TABLE)


def has_diacritics(text: str) -> bool:
    """True when the text carries any Vietnamese diacritic (or 'đ')."""
    return fold_accents(text) != unicodedata.normalize("NFC", text)


def split_sentences(text: str) -> list[str]:
    """Split a paragraph at sentence ends ('.', '!', '?', '…' followed by a capital or quote)."""
    parts = re.split(r"(?<=[.!?…])\s+(?=[\"“(\[A-ZÀ-ỸĐ0-9])", text.strip())
    return [p for p in parts if p]
