"""Vietnamese text processing shared by passages and questions.

Everything here is a pure function: text in, text or terms out.

The pipeline for indexing terms is:
normalise (NFC, one tone-mark style, no stray control or zero-width characters)
-> pyvi word segmentation on the cased text -> lower-case -> terms:
syllables, adjacent-syllable bigrams, pyvi multi-syllable words, document codes
and dates kept whole ("128/nq-cp", "4/8/2020"), and an accent-folded copy of each
(prefixed with ``~``) so that questions typed without diacritics still match.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache

from bot.text.normalize import canonical_syllable, canonical_tones, fold_accents, has_diacritics, normalize
from bot.text.pyvi_fast import pyvi_words

# --- segmentation ----------------------------------------------------------------------

# Document codes and dates: "128/NQ-CP", "05-CT/TW", "08-KL/ĐU", "4/8/2020", "2020-2025",
# "7/8", "COVID-19". Letters or digits joined by '/', '-' or '.' without spaces, with a digit
# or a '/' somewhere.
_CODE_RE = re.compile(r"(?<![\w/.-])(\w+(?:[/.-]\w+)+)(?![\w/-])")
_DATE_RE = re.compile(r"^(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})$")
_WORD_PIECE_RE = re.compile(r"\w+")
_SYLLABLE_OK_RE = re.compile(r"^\w+$")
_TOKEN_PIECE_RE = re.compile(r"([^\w]+)")
_PUNCT_RE = re.compile(r"[^\w]+")


def find_codes(text: str) -> list[str]:
    """Document codes, dates and ranges in the text, lower-cased, 'TƯ' written 'TW'."""
    codes: list[str] = []
    for match in _CODE_RE.finditer(text):
        raw = match.group(1)
        if not (any(ch.isdigit() for ch in raw) or "/" in raw):
            continue
        code = raw.lower().replace("tư", "tw")
        codes.append(code)
        date = _DATE_RE.match(code)
        if date:  # "4/8/2020" also answers "4/8"
            codes.append(f"{int(date.group(1))}/{int(date.group(2))}")
    return codes


@lru_cache(maxsize=1)
def _pyvi_tokenizer():
    from pyvi import ViTokenizer  # imported lazily: it takes almost a second

    return ViTokenizer


def segment(text: str, words: bool = True) -> list[list[str]]:
    """Split text into runs of words with pyvi; each word is a list of its syllables.

    ``words=False`` skips pyvi's word model (most of its cost) and gives each syllable as a
    one-syllable word: the same syllables and runs, for callers that only need syllables.

    Runs break at punctuation, so that bigrams never cross a comma or a full stop.
    Cased text goes to pyvi (it segments better before lower-casing); the syllables come
    back lower-cased, in one i/y spelling (``canonical_syllable``).
    """
    return [[list(word) for word in run] for run in _runs(text, words)]


def _runs(text: str, words: bool = True) -> list[list[tuple[str, ...]]]:
    """``segment`` with each word as a tuple (shared: not to be changed)."""
    runs: list[list[tuple[str, ...]]] = []
    for line in text.split("\n"):
        if not line.strip():
            continue
        run: list[tuple[str, ...]] = []
        tokens = pyvi_words(line) if words else _pyvi_tokenizer().ViTokenizer.sylabelize(line)[1]
        for token in tokens:
            for syllables in _token_words(token):
                if syllables is None:
                    if run:
                        runs.append(run)
                    run = []
                else:
                    run.append(syllables)
        if run:
            runs.append(run)
    return runs


_TOKEN_WORDS: dict[str, tuple[tuple[str, ...] | None, ...]] = {}


def _token_words(token: str) -> tuple[tuple[str, ...] | None, ...]:
    """A pyvi token's words as syllables (None for punctuation, which ends a run), remembered per process.

    pyvi glues across a Roman numeral's full stop ("XIII._Ủy_viên"): anything that is not a
    word character or the '_' joiner splits the token and ends the run.
    """
    found = _TOKEN_WORDS.get(token)
    if found is None:
        parts: list[tuple[str, ...] | None] = []
        for piece in _TOKEN_PIECE_RE.split(token):
            if not piece:
                continue
            syllables = tuple(canonical_syllable(s.lower()) for s in piece.split("_") if s)
            parts.append(None if _PUNCT_RE.fullmatch(piece) or not syllables else syllables)
        if len(_TOKEN_WORDS) > 1_000_000:
            _TOKEN_WORDS.clear()
        found = _TOKEN_WORDS[token] = tuple(parts)
    return found


# --- terms -----------------------------------------------------------------------------

FOLD_PREFIX = "~"

# Bump when a change here changes the terms of a text, so that built indexes are redone.
TEXT_VERSION = 2


@dataclass(frozen=True)
class TermOptions:
    """Which kinds of terms a text yields (see config 'text')."""

    bigrams: bool = True
    words: bool = True
    min_word_syllables: int = 3  # pyvi words this long or longer become terms (shorter ones are bigrams)
    codes: bool = True
    folded: bool = True
    # (abbreviation, its expansion), both lower-case: ("ubnd", "ủy ban nhân dân")
    abbreviations: tuple[tuple[str, str], ...] = ()


@lru_cache(maxsize=8)
def _abbreviation_map(pairs: tuple[tuple[str, str], ...]) -> dict[str, list[str]]:
    return {canonical_syllable(short): [canonical_syllable(s) for s in long.split()] for short, long in pairs}


def expansion_terms(syllables: list[str], options: TermOptions) -> list[str]:
    """Terms of the abbreviations' expansions in a run of syllables ('' marks a gap).

    Each abbreviation adds the syllables of its expansion and the bigrams that involve
    them (inside the expansion and with its neighbours), so that 'UBND tỉnh' also
    matches 'ủy ban nhân dân tỉnh', and the other way round.
    """
    table = _abbreviation_map(options.abbreviations) if options.abbreviations else {}
    if not table or not any(s in table for s in syllables):
        return []
    expanded: list[tuple[str, bool]] = []  # (syllable, inserted)
    for syllable in syllables:
        if syllable in table:
            expanded.extend((s, True) for s in table[syllable])
        else:
            expanded.append((syllable, False))
    terms = [s for s, inserted in expanded if inserted]
    if options.bigrams:
        terms.extend(
            f"{a} {b}" for (a, new_a), (b, new_b) in zip(expanded, expanded[1:]) if (new_a or new_b) and a and b
        )
    return terms


def exact_terms(text: str, options: TermOptions) -> list[str]:
    """``index_terms`` without the folded copies (which follow these, one per term, in order)."""
    terms: list[str] = []
    long_word = max(2, options.min_word_syllables)
    table = _abbreviation_map(options.abbreviations) if options.abbreviations else None
    for run in _runs(text, words=options.words):
        syllables = [s for word in run for s in word]
        if options.words:
            terms.extend(["_".join(word) for word in run if len(word) >= long_word])
        terms.extend(syllables)
        if options.bigrams:
            terms.extend(map(" ".join, zip(syllables, syllables[1:])))
        if table and not table.keys().isdisjoint(syllables):
            terms.extend(expansion_terms(syllables, options))
    if options.codes:
        terms.extend(find_codes(text))
    return terms


def index_terms(text: str, options: TermOptions = TermOptions()) -> list[str]:
    """The terms a passage is indexed under (text should already be normalised)."""
    terms = exact_terms(text, options)
    if options.folded:
        terms.extend(FOLD_PREFIX + fold_accents(t) for t in list(terms))
    return terms


def index_term_counts(
    text: str, options: TermOptions = TermOptions(), extra: Counter[str] | None = None
) -> Counter[str]:
    """``Counter(index_terms(text, options) + E)`` where ``extra == Counter(E)``, made faster.

    The counts come in the same order (first appearance): exact terms, their folded copies,
    then the extra terms not seen before. Folding is done once per distinct term.
    (The index build counts terms its own way: ``bot.index.segmenter.Segmenter.segment``.)
    """
    counts = Counter(exact_terms(text, options))
    if options.folded:
        folded: dict[str, int] = {}
        for term, count in counts.items():
            key = FOLD_PREFIX + fold_accents(term)
            folded[key] = folded.get(key, 0) + count
        counts.update(folded)
    if extra:
        counts.update(extra)
    return counts


@dataclass(frozen=True)
class QueryTerms:
    """A question's terms with their weights, and the words it was made of."""

    terms: tuple[str, ...]
    weights: tuple[float, ...]
    words: tuple[str, ...]
    accented: bool
    names: frozenset[str] = frozenset()  # the terms that are syllables of names (see name_syllables)


def query_terms(
    question: str,
    options: TermOptions = TermOptions(),
    stopwords: frozenset[str] = frozenset(),
    fold_weight: float = 0.3,
    bigram_weight: float = 1.0,
    word_weight: float = 1.0,
) -> QueryTerms:
    """Terms of a question, without stop words, each with a weight.

    A question with diacritics matches exact terms at full weight and folded ones at
    ``fold_weight`` (exact accents rank first). A question without any diacritics is
    matched on folded terms only. Bigrams weigh ``bigram_weight`` times a syllable: they
    repeat what their two syllables already match; pyvi words weigh ``word_weight``.
    """
    text = normalize(question)
    accented = has_diacritics(text)
    exact: list[str] = []
    words: list[str] = []
    for run in segment(text):
        syllables: list[str] = []
        for word in run:
            kept = [s for s in word if s not in stopwords]
            if not kept:
                syllables.append("")  # a stop word breaks bigrams around it
                continue
            syllables.extend(word)
            words.append(" ".join(word))
            if options.words and len(word) >= max(2, options.min_word_syllables):
                exact.append("_".join(word))
        exact.extend(s for s in syllables if s and s not in stopwords)
        if options.bigrams:
            exact.extend(f"{a} {b}" for a, b in zip(syllables, syllables[1:]) if a and b)
        exact.extend(expansion_terms(syllables, options))
    if options.codes:
        codes = find_codes(text)
        exact.extend(codes)
        words.extend(codes)
    base = [bigram_weight if " " in t else word_weight if "_" in t else 1.0 for t in exact]
    terms: list[str] = []
    weights: list[float] = []
    if accented or not options.folded:
        terms.extend(exact)
        weights.extend(base)
    if options.folded:
        terms.extend(FOLD_PREFIX + fold_accents(t) for t in exact)
        weights.extend(w * (fold_weight if accented else 1.0) for w in base)
    named = name_syllables(text)
    names = frozenset(t for t in terms if (fold_accents(t[len(FOLD_PREFIX) :]) if t[0] == FOLD_PREFIX else t) in named)
    return QueryTerms(tuple(terms), tuple(weights), tuple(dict.fromkeys(words)), accented, names)


# a word, or any other single visible character
_NAME_TOKEN_RE = re.compile(r"[^\W_]+|\S")
_SENTENCE_END = frozenset(".!?:;…")


def name_syllables(text: str) -> frozenset[str]:
    """Syllables of the names a text writes with capitals ('Roosevelt', 'Hoa Kỳ'), lower-case,
    in the index's spelling, each also accent-free.

    Vietnamese capitalises every syllable of a name and nothing else but a sentence's
    first word; so a capitalised word counts unless it starts a sentence, where it counts
    only when the next word is capitalised too ('Hoa Kỳ có ...', not 'Nước biển ...').
    A text typed all in capitals or title case names nothing.
    """
    tokens = _NAME_TOKEN_RE.findall(text)
    words = [(i, t) for i, t in enumerate(tokens) if t[0].isalpha()]
    capital = [t[0].isupper() for _, t in words]
    if all(capital):
        return frozenset()
    names: set[str] = set()
    for n, (i, token) in enumerate(words):
        if not capital[n]:
            continue
        starts = i == 0 or tokens[i - 1] in _SENTENCE_END
        if starts and not (n + 1 < len(words) and capital[n + 1]):
            continue
        syllable = canonical_syllable(canonical_tones(token).lower())
        names.update((syllable, fold_accents(syllable)))
    return frozenset(names)


@lru_cache(maxsize=65536)
def _piece_keys(piece: str) -> tuple[str, str]:
    """A word's key as typed (one tone style and i/y spelling, lower-case) and without accents."""
    exact = canonical_syllable(canonical_tones(unicodedata.normalize("NFC", piece)).lower())
    return exact, fold_accents(exact)


@lru_cache(maxsize=64)  # an answer highlights the same passage once per question word
def _word_pieces(text: str) -> tuple[list[tuple[int, int, str]], list[str], list[str]]:
    """The text's words with their spans, and their keys as typed and without accents."""
    pieces = [(m.start(), m.end(), m.group(0)) for m in _WORD_PIECE_RE.finditer(text)]
    keys = [_piece_keys(p[2]) for p in pieces]
    return pieces, [k[0] for k in keys], [k[1] for k in keys]


def word_spans(text: str, word: str) -> list[tuple[int, int]]:
    """Character spans in ``text`` of one word (one or more syllables), in order.

    Matching ignores case, tone-mark style and, for a word typed without diacritics, accents.
    """
    target = [canonical_syllable(canonical_tones(normalize(s)).lower()) for s in re.split(r"[\s_]+", word) if s]
    if not target:
        return []
    if any(not _SYLLABLE_OK_RE.match(s) for s in target):  # a code: find it literally
        return [(m.start(), m.end()) for m in re.finditer(re.escape(word), text, flags=re.IGNORECASE)]
    pieces, keys_exact, keys_folded = _word_pieces(text)
    keys = keys_folded if not has_diacritics(word) else keys_exact
    n = len(target)
    first = target[0]
    return [
        (pieces[i][0], pieces[i + n - 1][1])
        for i in range(len(pieces) - n + 1)
        if keys[i] == first and keys[i : i + n] == target
    ]


def merge_spans(text: str, spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Spans sorted, those that overlap or touch (only spaces between) merged."""
    merged: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if merged and (start <= merged[-1][1] or not text[merged[-1][1] : start].strip()):
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def highlight_spans(text: str, words: list[str] | tuple[str, ...]) -> list[tuple[int, int]]:
    """Character spans in ``text`` of the given words (single or multi-syllable).

    Matching ignores case, tone-mark style and, for words typed without diacritics,
    accents. Spans are sorted and do not overlap.
    """
    return merge_spans(text, [span for word in words for span in word_spans(text, word)])
