"""Diacritics restored from the index: which accented syllables the corpus holds and how often
two of them stand side by side (``bot.text.diacritics`` does the decoding)."""

from __future__ import annotations

from collections.abc import Sequence

from bot.index.keys import term_hash
from bot.index.parts import PassageIndex
from bot.text.diacritics import restore_syllables, restore_text, spellings

MAX_FORMS = 8  # the most frequent accented forms of a syllable considered


class IndexDiacritics:
    """Restores a question's diacritics with one index's passage counts (remembered per index)."""

    def __init__(self, index: PassageIndex):
        self._index = index
        self._counts: dict[str, int] = {}
        self._forms: dict[str, list[str]] = {}

    def count(self, term: str) -> int:
        """How many passages hold the term (remembered)."""
        found = self._counts.get(term)
        if found is None:
            found = self._counts[term] = self._index.df(term_hash(term))
        return found

    def pair_count(self, first: str, second: str) -> int:
        return self.count(f"{first} {second}")

    def forms(self, folded: str) -> Sequence[str]:
        """The accented forms of an accent-free syllable that the corpus holds, most frequent first."""
        found = self._forms.get(folded)
        if found is None:
            held = [(self.count(form), form) for form in spellings(folded)]
            found = [form for n, form in sorted(held, key=lambda p: -p[0]) if n > 0][:MAX_FORMS]
            self._forms[folded] = found
        return found

    def restore(self, text: str) -> str:
        """The text with its accent-free words written with the likeliest diacritics."""
        total = max(self._index.n_live, 1)
        return restore_text(text, lambda run: restore_syllables(run, self.forms, self.count, self.pair_count, total))


def index_diacritics(index: PassageIndex) -> IndexDiacritics:
    """The restorer of this index (one per loaded index, kept with it: its counts are remembered)."""
    found = index.derived.get("diacritics")
    if found is None:
        found = index.derived["diacritics"] = IndexDiacritics(index)
    return found
