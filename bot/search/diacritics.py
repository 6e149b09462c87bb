"""Diacritics restored from the index: which accented syllables the corpus holds and how often
two of them stand side by side (``bot.text.diacritics`` does the decoding)."""

from __future__ import annotations

import weakref
from collections.abc import Sequence

from bot.index.keys import term_hash
from bot.index.parts import PassageIndex
from bot.text.diacritics import restore_syllables, restore_text, spellings

MAX_FORMS = 8  # the most frequent accented forms of a syllable considered


class IndexDiacritics:
    """Restores a question's diacritics with one index's passage counts (remembered per index)."""

    def __init__(self, index: PassageIndex):
        self._index_ref = weakref.ref(index)  # not kept alive by this cache
        self._counts: dict[str, int] = {}
        self._forms: dict[str, list[str]] = {}

    def _index(self) -> PassageIndex:
        index = self._index_ref()
        assert index is not None, "the index was dropped"
        return index

    def count(self, term: str) -> int:
        """How many passages hold the term (remembered)."""
        found = self._counts.get(term)
        if found is None:
            found = self._counts[term] = self._index().df(term_hash(term))
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
        return restore_text(
            text,
            lambda run: restore_syllables(run, self.forms, self.count, self.pair_count, max(self._index().n_live, 1)),
        )


_BY_INDEX: dict[int, IndexDiacritics] = {}  # by id() of a live index


def index_diacritics(index: PassageIndex) -> IndexDiacritics:
    """The restorer of this index (one per loaded index, dropped with it: its counts are remembered)."""
    found = _BY_INDEX.get(id(index))
    if found is None or found._index() is not index:
        found = _BY_INDEX[id(index)] = IndexDiacritics(index)
        weakref.finalize(index, _BY_INDEX.pop, id(index), None)
    return found
