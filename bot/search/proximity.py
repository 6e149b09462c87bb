"""Where a question's terms stand in a passage: the best window of nearby matches.

BM25 scores a passage by its words wherever they are; a passage that answers the
question usually holds them close together, in the sentence that paraphrases it. These
pure functions find, in a passage's text, the window of ``width`` tokens that matches the
most question weight (each term counted once); ``bot.answer`` uses it to re-rank the best
BM25 passages. Terms are keyed as in ``bot.text.terms.query_terms``: syllables and bigrams,
exact or accent-free (``~`` prefix).
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from itertools import accumulate

from bot.text.normalize import canonical_syllable, canonical_tones, fold_accents
from bot.text.terms import FOLD_PREFIX

# a word, or any other single visible character (punctuation breaks a bigram, as in the index)
_TOKEN_RE = re.compile(r"[^\W_]+|\S")


@lru_cache(maxsize=65536)
def _forms(token: str) -> tuple[str, str]:
    """A lower-case token as the index spells it (one tone style, one i/y spelling), and
    its accent-free key."""
    exact = canonical_syllable(canonical_tones(token))
    return exact, FOLD_PREFIX + fold_accents(exact)


def passage_tokens(text: str) -> list[str]:
    """The text's words and punctuation marks, lower-case, in order."""
    return _TOKEN_RE.findall(text.lower())


@dataclass(frozen=True)
class TextMatch:
    """Where a question's terms stand in one text: the hits (token number, term), in order, and
    the start offset of each token hit (and of the one after a bigram's first word)."""

    offsets: dict[int, int]
    hits: list[tuple[int, str]]

    def found(self) -> set[str]:
        """The distinct question terms found anywhere in the text."""
        return {term for _, term in self.hits}

    def within(self, start: int, end: int) -> list[tuple[int, str]]:
        """(offset in the text, term) of the hits in ``text[start:end]``: a bigram only when both
        its words are there."""
        return self.split([(start, end)])[0]

    def split(self, spans: list[tuple[int, int]]) -> list[list[tuple[int, str]]]:
        """``within`` for each of several spans (sorted, not overlapping) at once."""
        offsets = self.offsets
        starts = [start for start, _ in spans]
        found: list[list[tuple[int, str]]] = [[] for _ in spans]
        for i, term in self.hits:
            at = offsets[i]
            n = bisect_right(starts, at) - 1
            if n >= 0 and at < spans[n][1] and (" " not in term or offsets[i + 1] < spans[n][1]):
                found[n].append((at, term))
        return found


# "tỷ" is indexed "tỉ": an accent-free key ending in i after a consonant is also typed with y
_I_AFTER_CONSONANT_RE = re.compile(r"^[bcdghklmnpqrstvx]+i$")
_SPLIT_RE = re.compile(r"([^\W_]+|\S)")  # splits a text into spaces and tokens (``_TOKEN_RE``)


class TermFinder:
    """Finds a question's terms (the keys of ``weights``) in texts; it remembers what each token
    it has seen matches, and each text it has matched, so the passages of one question share
    that work."""

    def __init__(self, weights: dict[str, float]):
        self.weights = weights
        # keys worth finding: the terms, and the syllables of the bigrams (keyed like syllables)
        self._wanted = set(weights)
        for term in weights:
            if " " in term:
                prefix = FOLD_PREFIX if term.startswith(FOLD_PREFIX) else ""
                self._wanted.update(prefix + s for s in term[len(prefix) :].split(" "))
        self._seen: dict[str, tuple[str, str] | None] = {}
        self._matches: dict[str, TextMatch] = {}
        # what a wanted token looks like in lower-case accent-free text (found before its forms are checked)
        keys = {fold_accents(key.removeprefix(FOLD_PREFIX)) for key in self._wanted}
        keys |= {key[:-1] + "y" for key in keys if _I_AFTER_CONSONANT_RE.match(key)}
        self._keys = frozenset(keys)

    def match(self, text: str) -> TextMatch:
        """Where the question's terms stand in ``text`` (remembered for this question)."""
        found = self._matches.get(text)
        if found is None:
            found = self._matches[text] = self._match_found(text) or self._match_tokens(text)
        return found

    def _forms(self, token: str) -> tuple[str, str] | None:
        """What a lower-case token matches (its exact and accent-free keys), or None."""
        if token not in self._seen:
            forms = _forms(token)
            self._seen[token] = forms if forms[0] in self._wanted or forms[1] in self._wanted else None
        return self._seen[token]

    def _match_found(self, text: str) -> TextMatch | None:
        """``match`` on the text's accent-free lower case, split into tokens at C speed, looking up
        only the tokens that may be question words; None where that text is not as long as ``text``."""
        lowered = text.lower()
        folded = fold_accents(lowered)
        if len(folded) != len(text) or len(lowered) != len(text):
            return None
        parts = _SPLIT_RE.split(folded)  # [space, token, space, token, ..., space]
        keys = self._keys
        found = [i for i, token in enumerate(parts[1::2]) if token in keys]
        if not found:
            return TextMatch({}, [])
        ends = list(accumulate(map(len, parts)))  # token i starts at ends[2 * i]
        starts = {n: ends[2 * n] for n in found}
        forms = {n: self._forms(lowered[starts[n] : starts[n] + len(parts[2 * n + 1])]) for n in found}
        hits, matched = self._collect(found, forms)
        return TextMatch({n: starts[n] for n in matched}, hits)

    def _collect(
        self, numbers: list[int], forms: Mapping[int, tuple[str, str] | None]
    ) -> tuple[list[tuple[int, str]], list[int]]:
        """The hits of the tokens at ``numbers`` (ascending) that have ``forms``: each one's
        syllable terms, and the bigram with the token right after it; and the tokens that match."""
        weights = self.weights
        hits: list[tuple[int, str]] = []
        matched: list[int] = []
        before, before_forms = -2, None
        for number in numbers:
            current = forms[number]
            if before_forms and current and before == number - 1:
                for pair in (f"{before_forms[0]} {current[0]}", f"{before_forms[1]} {current[1][len(FOLD_PREFIX) :]}"):
                    if pair in weights:
                        hits.append((before, pair))
            if current:
                matched.append(number)
                hits.extend((number, key) for key in current if key in weights)
            before, before_forms = number, current
        return hits, matched

    def _match_tokens(self, text: str) -> TextMatch:
        """``match`` by reading every token of the text."""
        lowered = text.lower()
        source = lowered if len(lowered) == len(text) else text  # offsets from the text as written
        pieces = list(_TOKEN_RE.finditer(source))
        return TextMatch({i: m.start() for i, m in enumerate(pieces)}, self.hits([m.group(0).lower() for m in pieces]))

    def hits(self, tokens: list[str]) -> list[tuple[int, str]]:
        """(position, term) for every question term found in the tokens."""
        forms = [self._forms(token) for token in tokens]
        return self._collect([i for i, f in enumerate(forms) if f], dict(enumerate(forms)))[0]


def best_window(hits: list[tuple[int, str]], weights: dict[str, float], width: int) -> float:
    """The most weight of distinct terms found within ``width`` consecutive tokens."""
    counts: dict[str, int] = {}
    best = current = 0.0
    start = 0
    for position, term in hits:
        if not counts.get(term):
            current += weights[term]
        counts[term] = counts.get(term, 0) + 1
        while hits[start][0] <= position - width:
            gone = hits[start][1]
            counts[gone] -= 1
            if not counts[gone]:
                current -= weights[gone]
            start += 1
        if current > best:
            best = current
    return best
