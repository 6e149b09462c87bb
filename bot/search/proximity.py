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


class TermFinder:
    """Finds a question's terms (the keys of ``weights``) in token lists; it remembers what
    each token it has seen matches, so the passages of one question share that work."""

    def __init__(self, weights: dict[str, float]):
        self.weights = weights
        # keys worth finding: the terms, and the syllables of the bigrams (keyed like syllables)
        self._wanted = set(weights)
        for term in weights:
            if " " in term:
                prefix = FOLD_PREFIX if term.startswith(FOLD_PREFIX) else ""
                self._wanted.update(prefix + s for s in term[len(prefix) :].split(" "))
        self._seen: dict[str, tuple[str, str] | None] = {}

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
