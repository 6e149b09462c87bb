"""pyvi's word segmentation, the same words as ``ViTokenizer.tokenize``, at a fraction of its Python cost.

``ViTokenizer.tokenize`` builds a dict of about fifteen features per syllable in Python,
which python-crfsuite then turns into "name:value" attributes; that costs more than the
CRF tagging itself. Here each distinct syllable's attributes are built once per process
(bytes, as crfsuite takes them) and a line's items are lists of them, in the same order
as pyvi's dicts. Features whose value is False are left out: pyvi passes them with weight
0, which adds exactly 0.0 to every label's score, so the tagger's labels are the same.
The words are then joined by the same rules as ``tokenize``.
"""

from __future__ import annotations

import os
import re
import string
import tempfile
from functools import lru_cache
from typing import Any

_MAX_CACHE = 1_000_000  # distinct syllables kept per process


@lru_cache(maxsize=1)
def _model() -> tuple[Any, Any, set[str], set[str]]:
    from pyvi.ViTokenizer import ViTokenizer  # imported lazily: it takes almost a second

    return ViTokenizer, ViTokenizer.model.tagger_, ViTokenizer.bi_grams, ViTokenizer.tri_grams


@lru_cache(maxsize=1)
def _known_attributes() -> frozenset[bytes] | None:
    """The attribute names the model has weights for (None if its dump cannot be read).

    crfsuite drops any other attribute when it reads an item, so leaving them out before
    changes nothing but the time spent passing them.
    """
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "model.txt")
        _model()[1].dump(path)
        with open(path, "rb") as handle:
            dump = handle.read()
    # "ATTRIBUTES = {\n      0: bias\n      1: word.isupper()\n ... }": names may hold a newline
    # (pyvi's "\n" syllable), so each entry runs up to the next entry's number.
    count = re.search(rb"num_attrs: (\d+)\n", dump)
    start, end = dump.find(b"\nATTRIBUTES = {"), dump.find(b"\n}\n\nTRANSITIONS = {")
    if not count or not 0 <= start < end:
        return None
    cuts = []  # (where the entry's number starts, where its name starts), numbers in sequence
    for entry in re.compile(rb"\n *(\d+): ").finditer(dump, start, end):
        if int(entry.group(1)) == len(cuts):
            cuts.append((entry.start(), entry.end()))
    if len(cuts) != int(count.group(1)):
        return None
    ends = [cut[0] for cut in cuts[1:]] + [end]
    return frozenset(dump[cut[1] : stop] for cut, stop in zip(cuts, ends))


def _keep(attributes: list[bytes]) -> list[bytes]:
    known = _known_attributes()
    return attributes if known is None else [a for a in attributes if a in known]


_SYLLABLES: dict[str, tuple[list[bytes], list[bytes], list[bytes], str]] = {}


def _attributes(token: str) -> tuple[list[bytes], list[bytes], list[bytes], str]:
    """A syllable's attributes as itself, as the previous and as the next syllable; and its lower case."""
    found = _SYLLABLES.get(token)
    if found is None:
        if len(_SYLLABLES) > _MAX_CACHE:
            _SYLLABLES.clear()
        lowered = token.lower()
        lower = lowered.encode("utf-8")
        upper, title, digit = token.isupper(), token.istitle(), token.isdigit()
        own = [b"bias", b"word.lower():" + lower]
        own += [b"word.isupper()"] * upper + [b"word.istitle()"] * title + [b"word.isdigit()"] * digit
        before = [b"-1:word.lower():" + lower] + [b"-1:word.istitle()"] * title + [b"-1:word.isupper()"] * upper
        after = [b"+1:word.lower():" + lower] + [b"+1:word.istitle()"] * title + [b"+1:word.isupper()"] * upper
        found = _SYLLABLES[token] = (_keep(own), _keep(before), _keep(after), lowered)
    return found


_BI_BEFORE, _TRI_BEFORE = [b"-1:word.bi_gram()"], [b"-2:word.tri_gram()"]
_BI_AFTER, _TRI_AFTER = [b"+1:word.bi_gram()"], [b"+2:word.tri_gram()"]


def _items(tokens: list[str], bi_grams: set[str], tri_grams: set[str]) -> list[list[bytes]]:
    """crfsuite items for a line's syllables: ``ViTokenizer.sent2features`` without the False ones.

    (The n-grams are looked up as the tokens' lower cases joined by spaces, which is the
    lower case of the tokens joined: a space ends any context ``str.lower`` looks at.)
    """
    n = len(tokens)
    get = _SYLLABLES.get
    attrs = [get(t) or _attributes(t) for t in tokens]
    lowers = [a[3] for a in attrs]
    pairs = list(map(" ".join, zip(lowers, lowers[1:])))
    bigram = [p in bi_grams for p in pairs]
    trigram = [f"{p} {c}" in tri_grams for p, c in zip(pairs, lowers[2:])]
    items = []
    for i in range(n):
        item = attrs[i][0].copy()
        if i > 0:
            item += attrs[i - 1][1]
            if bigram[i - 1]:
                item += _BI_BEFORE
            if i > 1 and trigram[i - 2]:
                item += _TRI_BEFORE
        if i < n - 1:
            item += attrs[i + 1][2]
            if bigram[i]:
                item += _BI_AFTER
            if i < n - 2 and trigram[i]:
                item += _TRI_AFTER
        items.append(item)
    return items


_PUNCTUATION = string.punctuation


def pyvi_words(line: str) -> list[str]:
    """``ViTokenizer.tokenize(line).split(" ")``: the line's words, syllables joined by '_'."""
    tokenizer, tagger, bi_grams, tri_grams = _model()
    tokens = tokenizer.sylabelize(line)[1]
    if not tokens:
        return line.split(" ")
    labels = tagger.tag(_items(tokens, bi_grams, tri_grams))
    words = []
    word = [tokens[0]]
    for i in range(1, len(labels)):
        token, previous = tokens[i], tokens[i - 1]
        if (
            labels[i] == "I_W"
            and token not in _PUNCTUATION
            and previous not in _PUNCTUATION
            and not token[0].isdigit()
            and not previous[0].isdigit()
            and not (token[0].istitle() and not previous[0].istitle())
        ):
            word.append(token)
        else:
            words.append("_".join(word))
            word = [token]
    words.append("_".join(word))
    return words
