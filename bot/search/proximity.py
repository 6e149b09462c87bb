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
from dataclasses import dataclass
from functools import lru_cache

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
    """Where a question's terms stand in one text: its tokens' start offsets and the hits
    (token number, term), in order."""

    starts: list[int]
    hits: list[tuple[int, str]]

    def found(self) -> set[str]:
        """The distinct question terms found anywhere in the text."""
        return {term for _, term in self.hits}

    def within(self, start: int, end: int) -> list[tuple[int, str]]:
        """(offset in the text, term) of the hits in ``text[start:end]``: a bigram only when both
        its words are there."""
        starts = self.starts
        found: list[tuple[int, str]] = []
        for i, term in self.hits:
            at = starts[i]
            if start <= at < end and (" " not in term or starts[i + 1] < end):
                found.append((at, term))
        return found


class TermFinder:
    """Finds a question's terms (the keys of ``weights``) in token lists; it remembers what
    each token it has seen matches, and each text it has matched, so the passages of one
    question share that work."""

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

    def match(self, text: str) -> TextMatch:
        """Where the question's terms stand in ``text`` (remembered for this question)."""
        found = self._matches.get(text)
        if found is None:
            lowered = text.lower()
            if len(lowered) == len(text):
                pieces = list(_TOKEN_RE.finditer(lowered))
                tokens = [m.group(0) for m in pieces]
                starts = [m.start() for m in pieces]
            else:  # a character whose lower case is longer: offsets from the text as written
                pieces = list(_TOKEN_RE.finditer(text))
                tokens = [m.group(0).lower() for m in pieces]
                starts = [m.start() for m in pieces]
            found = self._matches[text] = TextMatch(starts, self.hits(tokens))
        return found

    def hits(self, tokens: list[str]) -> list[tuple[int, str]]:
        """(position, term) for every question term found in the tokens."""
        seen, wanted = self._seen, self._wanted
        for token in set(tokens).difference(seen):
            forms = _forms(token)  # what the token matches, or None when it matches nothing
            seen[token] = forms if forms[0] in wanted or forms[1] in wanted else None
        weights = self.weights
        hits: list[tuple[int, str]] = []
        last = len(tokens) - 1
        for i in [i for i, token in enumerate(tokens) if seen[token]]:
            exact, folded = seen[tokens[i]]  # type: ignore[misc]
            if exact in weights:
                hits.append((i, exact))
            if folded in weights:
                hits.append((i, folded))
            following = seen[tokens[i + 1]] if i < last else None
            if following:
                pair = f"{exact} {following[0]}"
                if pair in weights:
                    hits.append((i, pair))
                pair = f"{folded} {following[1][len(FOLD_PREFIX) :]}"
                if pair in weights:
                    hits.append((i, pair))
        return hits

    def found(self, tokens: list[str]) -> set[str]:
        """The distinct question terms found anywhere in the tokens."""
        return {term for _, term in self.hits(tokens)}


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
