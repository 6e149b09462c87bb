"""Segmenting articles into passages and term keys (pyvi is the cost of a build).

A ``Segmenter`` is made per build, and per worker process of a build: it holds the term
numbering that makes the counting fast (``TermIds``), so no memo is shared through module state.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import signal
import struct
import zlib
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from bot.corpus.article import Article
from bot.index.fingerprint import article_keys
from bot.index.keys import term_hash
from bot.settings import Settings
from bot.text.normalize import fold_accents, normalize
from bot.text.passages import split_article
from bot.text.terms import FOLD_PREFIX, TermOptions, exact_terms, index_term_counts

if TYPE_CHECKING:
    from bot.index.segment_cache import SegmentCache

TERM_IDS_SIZE = 1_000_000  # terms a numbering holds before it starts again (bigger costs more in cache misses)
PR_SET_PDEATHSIG = 1  # prctl option: a signal for this process when its parent dies
POOL_MIN_CHARS = 2_000_000  # fewer characters to segment: in this process (starting workers would cost more)


@dataclass(frozen=True)
class SegmentedArticle:
    """An article's passages and each passage's terms, as compact arrays.

    ``hashes``/``counts`` hold every passage's distinct terms (as ``term_hash`` keys) in
    order of first appearance, passage after passage; ``n_terms`` says how many belong
    to each passage and ``length`` is each passage's number of terms (with repeats).
    """

    key: str
    texts: list[str]
    hashes: np.ndarray  # uint64
    counts: np.ndarray  # uint32
    n_terms: np.ndarray  # int32, per passage
    length: np.ndarray  # int32, per passage

    def to_bytes(self) -> bytes:
        header = zlib.compress(json.dumps(self.texts, ensure_ascii=False).encode("utf-8"), 0)  # stored: a cache
        return b"".join(
            (
                struct.pack("<III", len(header), len(self.texts), len(self.hashes)),
                header,
                np.asarray(self.length, dtype="<i4").tobytes(),
                np.asarray(self.n_terms, dtype="<i4").tobytes(),
                np.asarray(self.hashes, dtype="<u8").tobytes(),
                np.asarray(self.counts, dtype="<u4").tobytes(),
            )
        )

    @classmethod
    def from_bytes(cls, key: str, blob: bytes) -> SegmentedArticle:
        n_header, n_passages, n_postings = struct.unpack_from("<III", blob)
        at = 12
        texts = json.loads(zlib.decompress(blob[at : at + n_header]))
        at += n_header
        arrays = []
        for dtype, count in (("<i4", n_passages), ("<i4", n_passages), ("<u8", n_postings), ("<u4", n_postings)):
            size = np.dtype(dtype).itemsize * count
            if at + size > len(blob):
                raise ValueError("truncated")
            arrays.append(np.frombuffer(blob, dtype=dtype, count=count, offset=at))
            at += size
        if at != len(blob) or len(texts) != n_passages or int(arrays[1].sum()) != n_postings:
            raise ValueError("inconsistent")
        length, n_terms, hashes, counts = arrays
        return cls(key, texts, hashes, counts, n_terms, length)


def segment_article(
    article: Article, min_chars: int, max_chars: int, options: TermOptions, title_in_passages: bool
) -> tuple[list[str], list[list[tuple[str, int]]], list[int]]:
    """Split an article into passages and count each passage's terms (the plain definition)."""
    passages = split_article(article, min_chars, max_chars)
    title_terms = index_term_counts(normalize(article.title), options) if title_in_passages and article.title else None
    texts, terms, lengths = [], [], []
    for passage in passages:
        counts = index_term_counts(normalize(passage.text), options, title_terms)  # as Counter(index_terms(...))
        texts.append(passage.text)
        terms.append(list(counts.items()))
        lengths.append(sum(counts.values()))
    return texts, terms, lengths


def pack_article(
    key: str, texts: list[str], terms: list[list[tuple[str, int]]], lengths: list[int]
) -> SegmentedArticle:
    """A segmented article's terms as arrays of hash keys and counts (the plain definition)."""
    flat = [pair for passage in terms for pair in passage]
    hashes = np.fromiter((term_hash(t) for t, _ in flat), dtype=np.uint64, count=len(flat))
    counts = np.fromiter((c for _, c in flat), dtype=np.uint32, count=len(flat))
    n_terms = np.array([len(p) for p in terms], dtype=np.int32)
    return SegmentedArticle(key, texts, hashes, counts, n_terms, np.asarray(lengths, dtype=np.int32))


class TermIds:
    """Numbers for terms: each term's hash key and each exact term's folded copy.

    A ``Segmenter`` starts a new numbering at the start of a batch once this one is past
    ``limit`` terms (bigger numberings cost more in cache misses than they save).
    """

    def __init__(self, limit: int = TERM_IDS_SIZE) -> None:
        self.limit = limit
        self.ids: dict[str, int] = {}  # numbers stay below 2**32 (``_count_terms`` packs them)
        self.hashes = np.zeros(0, dtype=np.uint64)
        self.folded = np.zeros(0, dtype=np.int64)  # an exact term's folded copy's number (-1: none)
        self._new: list[tuple[int, int]] = []  # (hash, folded copy) of terms numbered since the last sync

    def start_batch(self) -> TermIds:
        """Itself, or a new numbering when this one has grown too big."""
        return self if len(self.ids) <= self.limit else TermIds(self.limit)

    def of(self, terms: list[str]) -> np.ndarray:
        """The exact terms' numbers (new terms are numbered, with their folded copies)."""
        numbers = list(map(self.ids.get, terms))
        at = -1
        with contextlib.suppress(ValueError):
            while True:
                at = numbers.index(None, at + 1)
                numbers[at] = self._number(terms[at], True)
        self._sync()
        found = np.array(numbers, dtype=np.int64)
        if len(found) and self.folded[found].min() < 0:  # numbered as a folded copy before ('~' in an abbreviation)
            for at in np.flatnonzero(self.folded[found] < 0).tolist():
                copy = self._number(FOLD_PREFIX + fold_accents(terms[at]), False)
                self._sync()
                self.folded[found[at]] = copy
        return found

    def _sync(self) -> None:
        if self._new:
            hashes, copies = zip(*self._new)
            self.hashes = np.concatenate([self.hashes, np.array(hashes, dtype=np.uint64)])
            self.folded = np.concatenate([self.folded, np.array(copies, dtype=np.int64)])
            self._new = []

    def _number(self, term: str, exact: bool) -> int:
        number = self.ids.get(term)
        if number is None:
            copy = self._number(FOLD_PREFIX + fold_accents(term), False) if exact else -1
            number = self.ids[term] = len(self.ids)
            self._new.append((term_hash(term), copy))
        return number


class Segmenter:
    """Segments batches of articles as configured; remembers its term numbering between batches."""

    def __init__(
        self,
        min_chars: int,
        max_chars: int,
        options: TermOptions,
        title_in_passages: bool,
        term_ids_size: int = TERM_IDS_SIZE,
    ) -> None:
        self.min_chars = min_chars
        self.max_chars = max_chars
        self.options = options
        self.title_in_passages = title_in_passages
        self.term_ids = TermIds(term_ids_size)

    @classmethod
    def from_settings(cls, settings: Settings) -> Segmenter:
        return cls(settings.min_chars, settings.max_chars, settings.terms, settings.title_in_passages)

    def segment(self, batch: list[tuple[str, Article]]) -> list[SegmentedArticle]:
        """``pack_article(key, *segment_article(...))`` of each (key, article), the terms counted with numpy.

        Each passage's terms are ``Counter(index_terms(passage) + index_terms(title))``: its
        exact terms, their folded copies, the title's exact terms, their folded copies, counted
        in order of first appearance. Here the exact terms of the whole batch are numbered
        (``TermIds``) and that stream is counted per passage at once.
        """
        options = self.options
        ids = self.term_ids = self.term_ids.start_batch()
        flat: list[str] = []  # exact terms: per article, its title's then each passage's
        texts: list[list[str]] = []
        segments: list[tuple[int, int, int, int]] = []  # per passage: (start, size) of its terms, of its title's
        for _, article in batch:
            title_at = len(flat)
            if self.title_in_passages and article.title:
                flat.extend(exact_terms(normalize(article.title), options))
            title_size = len(flat) - title_at
            passages = [p.text for p in split_article(article, self.min_chars, self.max_chars)]
            for text in passages:
                start = len(flat)
                flat.extend(exact_terms(normalize(text), options))
                segments.append((start, len(flat) - start, title_at, title_size))
            texts.append(passages)
        exact = ids.of(flat)
        hashes, counts, n_terms, lengths = _count_terms(
            exact, np.array(segments, dtype=np.int64).reshape(-1, 4), ids, options.folded
        )
        out, passage, posting = [], 0, 0
        for (key, _), passages in zip(batch, texts):
            n = len(passages)
            size = int(n_terms[passage : passage + n].sum())
            out.append(
                SegmentedArticle(
                    key,
                    passages,
                    hashes[posting : posting + size],
                    counts[posting : posting + size],
                    n_terms[passage : passage + n],
                    lengths[passage : passage + n],
                )
            )
            passage, posting = passage + n, posting + size
        return out


def _count_terms(
    exact: np.ndarray, segments: np.ndarray, ids: TermIds, folded: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per passage, its distinct terms' hashes and counts in order of first appearance in
    (exact terms, their folded copies, the title's exact terms, their folded copies), the
    number of distinct terms and of all terms. ``segments`` rows: (start, size, title start, title size)."""
    n_passages = len(segments)
    kinds = np.array([False, True, False, True] if folded else [False, False])  # True: the folded copies
    starts = segments[:, [0, 0, 2, 2] if folded else [0, 2]].reshape(-1)
    sizes = segments[:, [1, 1, 3, 3] if folded else [1, 3]].reshape(-1)
    total = int(sizes.sum())
    ends = np.cumsum(sizes)
    source = np.repeat(starts - (ends - sizes), sizes) + np.arange(total, dtype=np.int64)
    stream = exact[source]
    if folded:
        fold = np.repeat(np.tile(kinds, n_passages), sizes)
        stream[fold] = ids.folded[stream[fold]]
    lengths = sizes.reshape(n_passages, len(kinds)).sum(axis=1)
    passage = np.repeat(np.arange(n_passages, dtype=np.int64), lengths)
    keys = (passage << 32) | stream
    order = np.argsort(keys, kind="stable")
    sorted_keys = keys[order]
    firsts = np.flatnonzero(np.r_[True, sorted_keys[1:] != sorted_keys[:-1]]) if total else np.zeros(0, dtype=np.int64)
    counts = np.diff(np.append(firsts, total))
    appearance = np.argsort(order[firsts])
    distinct = sorted_keys[firsts][appearance]
    return (
        ids.hashes[distinct & 0xFFFFFFFF],
        counts[appearance].astype(np.uint32),
        np.bincount(distinct >> 32, minlength=n_passages).astype(np.int32),
        lengths.astype(np.int32),
    )


# --- segmenting a build's articles (in worker processes when there are many) -------------


def default_workers(settings: Settings) -> int:
    """Segmenting processes of a build: ``index.workers``, or every core this process may use (0)."""
    if settings.index_workers > 0:
        return settings.index_workers
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


_worker: Segmenter | None = None  # a worker process's own segmenter (set by ``_start_worker``, there only)


def die_with_parent(parent: int) -> None:
    """Have the kernel kill this worker process when its parent (pid ``parent``, the build's main
    process) dies: a killed build leaves no worker behind, blocked on a result nobody reads.
    Linux only (``prctl(PR_SET_PDEATHSIG)``); elsewhere nothing is done."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):
        return
    if os.getppid() != parent:  # the parent died before the request was made
        os._exit(1)


def _start_worker(
    min_chars: int, max_chars: int, options: TermOptions, title_in_passages: bool, parent: int = 0
) -> None:
    global _worker
    if parent:
        die_with_parent(parent)
    _worker = Segmenter(min_chars, max_chars, options, title_in_passages)


def _segment_in_worker(batch: list[tuple[str, Article]]) -> list[SegmentedArticle]:
    assert _worker is not None, "not a segmenting worker process"
    return _worker.segment(batch)


def segment_articles(
    articles: list[Article],
    settings: Settings,
    cache: SegmentCache | None,
    workers: int | None = None,
    progress: bool = False,
    keys: list[str] | None = None,
) -> tuple[list[SegmentedArticle], int]:
    """Each article segmented, from the cache when unchanged. Returns (results, how many were new).

    ``keys``: the articles' ``article_key``s, when already known."""
    keys = keys if keys is not None else article_keys(articles, settings)
    cached = cache.get_many(keys) if cache else {}
    todo = [(k, a) for k, a in zip(keys, articles) if k not in cached]
    done: dict[str, SegmentedArticle] = dict(cached)
    if todo:
        args = (settings.min_chars, settings.max_chars, settings.terms, settings.title_in_passages, os.getpid())
        workers = workers or default_workers(settings)
        total_chars = sum(len(a.text) for _, a in todo)
        batches = _batches(todo, max(1, min(100, len(todo) // (workers * 4) or 1)))  # small: no long tail
        bar = _progress(total_chars, progress)
        if workers > 1 and total_chars > POOL_MIN_CHARS:
            with ProcessPoolExecutor(max_workers=workers, initializer=_start_worker, initargs=args) as pool:
                futures = [pool.submit(_segment_in_worker, b) for b in batches]
                for batch, future in zip(batches, futures):
                    results = future.result()
                    _store(results, done, cache)
                    bar.update(sum(len(a.text) for _, a in batch))
        else:
            segmenter = Segmenter(*args)
            for batch in batches:
                results = segmenter.segment(batch)
                _store(results, done, cache)
                bar.update(sum(len(a.text) for _, a in batch))
        bar.close()
    return [done[k] for k in keys], len(todo)


def _batches(items: list, size: int) -> list[list]:
    return [items[i : i + size] for i in range(0, len(items), size)]


def _store(results: list[SegmentedArticle], done: dict[str, SegmentedArticle], cache: SegmentCache | None) -> None:
    for item in results:
        done[item.key] = item
    if cache:
        cache.put_many(results)


def _progress(total: int, enabled: bool):
    from tqdm import tqdm

    return tqdm(total=total, unit="ch", unit_scale=True, desc="pyvi", disable=not enabled, leave=False)
