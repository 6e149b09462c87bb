"""The passage index: built from the corpus, saved to disk atomically, loaded memory-mapped.

On disk an index folder holds versions and a pointer to the current one::

    index_dir/CURRENT              name of the complete version in use
    index_dir/v-<time>-<fp>/       manifest.json + numpy arrays + passage texts
    index_dir/segments.sqlite      cache of segmented articles (pyvi is the cost of a build)

A build writes a new version folder in full, then replaces CURRENT in one rename, so an
interrupted build leaves the previous index in use. Every file's size and CRC32 are in
the manifest; a damaged index is detected on load and rebuilt.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import gc
import hashlib
import json
import logging
import mmap
import os
import shutil
import sqlite3
import struct
import time
import zlib
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Iterator

import numpy as np

from bot.search.bm25 import RANGE_SIZE, BM25Params, okapi_idf, range_bounds
from bot.settings import Settings
from bot.corpus.article import Article, Corpus, LoadProblem
from bot.corpus.loading import corpus_fingerprint, load_corpus
from bot.index.article_table import ArticleTable, encode_articles, passage_counts
from bot.index.parts import READ_SPANS, PassageIndex, Part, global_idf
from bot.text.passages import split_article
from bot.text.terms import FOLD_PREFIX, TEXT_VERSION, TermOptions, exact_terms, index_term_counts
from bot.text.normalize import fold_accents, normalize

log = logging.getLogger(__name__)

FORMAT_VERSION = 7  # of the index folder (6: parts, tombstones, per-version idf; 7: articles as JSON lines)
CACHE_FORMAT = 2  # of segments.sqlite entries
RANGE_MIN_DF = 2048  # terms in at least this many passages (and 1/64 of them) get range bounds


class IndexError_(RuntimeError):
    """The index on disk is missing, damaged or of another format."""


def term_hash(term: str) -> int:
    """A stable 64-bit key for a term (the index stores keys, not strings)."""
    return int.from_bytes(hashlib.blake2b(term.encode("utf-8"), digest_size=8).digest(), "little")


# --- segmenting articles ----------------------------------------------------------------


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


def _segment_settings(settings: Settings) -> dict[str, Any]:
    return {
        "format": CACHE_FORMAT,
        "min": settings.min_chars,
        "max": settings.max_chars,
        "terms": vars(settings.terms),
        "text": TEXT_VERSION,
        "title": settings.title_in_passages,
    }


def article_key(article: Article, settings: Settings) -> str:
    """A hash of what an article's segmentation depends on: its text, title and settings."""
    digest = hashlib.sha256()
    digest.update(json.dumps(_segment_settings(settings), sort_keys=True).encode())
    digest.update(b"\0" + article.title.encode() + b"\0" + article.text.encode())
    return digest.hexdigest()


def segment_article(
    article: Article, min_chars: int, max_chars: int, options: TermOptions, title_in_passages: bool
) -> tuple[list[str], list[list[tuple[str, int]]], list[int]]:
    """Split an article into passages and count each passage's terms."""
    passages = split_article(article, min_chars, max_chars)
    title_terms = index_term_counts(normalize(article.title), options) if title_in_passages and article.title else None
    texts, terms, lengths = [], [], []
    for passage in passages:
        counts = index_term_counts(normalize(passage.text), options, title_terms)  # as Counter(index_terms(...))
        texts.append(passage.text)
        terms.append(list(counts.items()))
        lengths.append(sum(counts.values()))
    return texts, terms, lengths


_HASH_MEMO: dict[str, int] = {}
HASH_MEMO_SIZE = 500_000  # bigger memos cost more in cache misses than they save


def _memo_hash(term: str) -> int:
    """``term_hash`` remembered per process (a corpus repeats its terms endlessly)."""
    value = _HASH_MEMO.get(term)
    if value is None:
        if len(_HASH_MEMO) > HASH_MEMO_SIZE:
            _HASH_MEMO.clear()
        value = _HASH_MEMO[term] = term_hash(term)
    return value


def pack_article(
    key: str, texts: list[str], terms: list[list[tuple[str, int]]], lengths: list[int]
) -> SegmentedArticle:
    """A segmented article's terms as arrays of hash keys and counts."""
    flat = [pair for passage in terms for pair in passage]
    hashes = np.fromiter((_memo_hash(t) for t, _ in flat), dtype=np.uint64, count=len(flat))
    counts = np.fromiter((c for _, c in flat), dtype=np.uint32, count=len(flat))
    n_terms = np.array([len(p) for p in terms], dtype=np.int32)
    return SegmentedArticle(key, texts, hashes, counts, n_terms, np.asarray(lengths, dtype=np.int32))


def _segment_batch(
    batch: list[tuple[str, Article]], min_chars: int, max_chars: int, options: TermOptions, title: bool
) -> list[SegmentedArticle]:
    """``pack_article(key, *segment_article(...))`` of each article, the terms counted with numpy.

    Each passage's terms are ``Counter(index_terms(passage) + index_terms(title))``: its
    exact terms, their folded copies, the title's exact terms, their folded copies, counted
    in order of first appearance. Here the exact terms of the whole batch are numbered
    (``_TermIds``) and that stream is counted per passage at once.
    """
    global _TERM_IDS
    ids = _TERM_IDS = _TERM_IDS.start_batch()
    flat: list[str] = []  # exact terms: per article, its title's then each passage's
    texts: list[list[str]] = []
    segments: list[tuple[int, int, int, int]] = []  # per passage: (start, size) of its terms, of its title's
    for _, article in batch:
        title_at = len(flat)
        if title and article.title:
            flat.extend(exact_terms(normalize(article.title), options))
        title_size = len(flat) - title_at
        passages = [p.text for p in split_article(article, min_chars, max_chars)]
        for text in passages:
            start = len(flat)
            flat.extend(exact_terms(normalize(text), options))
            segments.append((start, len(flat) - start, title_at, title_size))
        texts.append(passages)
    exact = ids.of(flat)
    hashes, counts, n_terms, lengths = _count_terms(exact, np.array(segments, dtype=np.int64).reshape(-1, 4), ids, options.folded)
    out, passage, posting = [], 0, 0
    for (key, _), passages in zip(batch, texts):
        n = len(passages)
        size = int(n_terms[passage : passage + n].sum())
        out.append(SegmentedArticle(
            key, passages, hashes[posting : posting + size], counts[posting : posting + size],
            n_terms[passage : passage + n], lengths[passage : passage + n],
        ))
        passage, posting = passage + n, posting + size
    return out


class _TermIds:
    """Numbers for terms, per process: each term's hash key and each exact term's folded copy.

    Forgotten at the start of a batch once past ``TERM_IDS_SIZE`` terms (bigger memos cost
    more in cache misses than they save).
    """

    def __init__(self) -> None:
        self.ids: dict[str, int] = {}  # numbers stay below 2**32 (``_count_terms`` packs them)
        self.hashes = np.zeros(0, dtype=np.uint64)
        self.folded = np.zeros(0, dtype=np.int64)  # an exact term's folded copy's number (-1: none)
        self._new: list[tuple[int, int]] = []  # (hash, folded copy) of terms numbered since the last sync

    def start_batch(self) -> _TermIds:
        """Itself, or a new numbering when this one has grown too big."""
        return self if len(self.ids) <= TERM_IDS_SIZE else _TermIds()

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


_TERM_IDS = _TermIds()
TERM_IDS_SIZE = 1_000_000


def _count_terms(
    exact: np.ndarray, segments: np.ndarray, ids: _TermIds, folded: bool
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


class SegmentCache:
    """Segmented articles by content key, in SQLite (each write is its own transaction)."""

    def __init__(self, path: Path):
        self.path = path
        self.db = sqlite3.connect(str(path), timeout=60)
        self.db.execute("CREATE TABLE IF NOT EXISTS seg (key TEXT PRIMARY KEY, data BLOB)")

    def get_many(self, keys: Iterable[str]) -> dict[str, SegmentedArticle]:
        found: dict[str, SegmentedArticle] = {}
        keys = list(keys)
        for start in range(0, len(keys), 500):
            chunk = keys[start : start + 500]
            marks = ",".join("?" * len(chunk))
            for key, blob in self.db.execute(f"SELECT key, data FROM seg WHERE key IN ({marks})", chunk):
                try:
                    found[key] = SegmentedArticle.from_bytes(key, blob)
                except (zlib.error, ValueError, KeyError, TypeError, struct.error):
                    log.warning("segment cache entry %s is damaged; it will be redone", key[:12])
        return found

    def put_many(self, items: list[SegmentedArticle]) -> None:
        rows = [(item.key, item.to_bytes()) for item in items]
        with self.db:
            self.db.executemany("INSERT OR REPLACE INTO seg VALUES (?, ?)", rows)

    def keep_only(self, keys: set[str]) -> None:
        """Forget articles no longer in the corpus."""
        stale = [k for (k,) in self.db.execute("SELECT key FROM seg") if k not in keys]
        with self.db:
            self.db.executemany("DELETE FROM seg WHERE key = ?", [(k,) for k in stale])

    def close(self) -> None:
        self.db.close()


def segment_articles(
    articles: list[Article], settings: Settings, cache: SegmentCache | None, workers: int | None = None,
    progress: bool = False, keys: list[str] | None = None,
) -> tuple[list[SegmentedArticle], int]:
    """Each article segmented, from the cache when unchanged. Returns (results, how many were new).

    ``keys``: the articles' ``article_key``s, when already known."""
    keys = keys if keys is not None else [article_key(a, settings) for a in articles]
    cached = cache.get_many(keys) if cache else {}
    todo = [(k, a) for k, a in zip(keys, articles) if k not in cached]
    done: dict[str, SegmentedArticle] = dict(cached)
    if todo:
        args = (settings.min_chars, settings.max_chars, settings.terms, settings.title_in_passages)
        workers = workers or min(os.cpu_count() or 1, 4)
        total_chars = sum(len(a.text) for _, a in todo)
        batches = _batches(todo, max(1, min(100, len(todo) // (workers * 4) or 1)))  # small: no long tail
        bar = _progress(total_chars, progress)
        if workers > 1 and total_chars > 2_000_000:
            with ProcessPoolExecutor(max_workers=workers) as pool:
                futures = [pool.submit(_segment_batch, b, *args) for b in batches]
                for batch, future in zip(batches, futures):
                    results = future.result()
                    _store(results, done, cache)
                    bar.update(sum(len(a.text) for _, a in batch))
        else:
            for batch in batches:
                results = _segment_batch(batch, *args)
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

    return tqdm(
        total=total, unit="ch", unit_scale=True, desc="segmenting", disable=not enabled, leave=False
    )


# --- the index in memory (see bot/parts.py) ---------------------------------------------


def build_arrays(
    segmented: list[SegmentedArticle], epsilon: float
) -> tuple[dict[str, np.ndarray], bytes, list[int]]:
    """Postings, lengths and texts from segmented articles, with numpy only (no per-term Python).

    Terms are ordered by hash key; idf is computed over the terms in order of first
    appearance in the corpus (passage order, then order inside the passage), as rank-bm25 does.
    """
    per_article = [len(item.texts) for item in segmented]
    n_docs = sum(per_article)
    hashes = _concat([item.hashes for item in segmented], np.uint64)
    tfs = _concat([item.counts for item in segmented], np.uint32)
    n_terms = _concat([item.n_terms for item in segmented], np.int32)
    doc_len = _concat([item.length for item in segmented], np.int32)
    passage_article = np.repeat(np.arange(len(segmented), dtype=np.int32), per_article)
    passage_position = (
        np.arange(n_docs, dtype=np.int64) - np.repeat(np.cumsum(per_article) - per_article, per_article)
    ).astype(np.int32)
    with ThreadPoolExecutor(1) as pool:  # numpy sorts and gathers without holding the GIL
        postings = pool.submit(postings_from_stream, hashes, tfs, n_terms, epsilon)
        texts = [text.encode("utf-8") for item in segmented for text in item.texts]
        offsets = np.zeros(len(texts) + 1, dtype=np.int64)
        np.cumsum([len(t) for t in texts], out=offsets[1:])
        joined = b"".join(texts)
        del texts
        arrays = postings.result()
    arrays.update(
        doc_len=doc_len,
        passage_article=passage_article,
        passage_position=passage_position,
        passage_offsets=offsets,
    )
    return arrays, joined, per_article


def with_range_bounds(arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """``arrays`` plus the range bounds (``bm25.range_bounds``) of the terms with long lists."""
    doc_len = np.asarray(arrays["doc_len"])
    ptr = np.asarray(arrays["term_ptr"])
    rows = np.flatnonzero(np.diff(ptr) >= max(RANGE_MIN_DF, len(doc_len) // 64)).astype(np.int64)
    n_ranges = -(-len(doc_len) // RANGE_SIZE)
    tf_hi = np.zeros((len(rows), n_ranges), dtype=np.uint8)
    dl_lo = np.zeros((len(rows), n_ranges), dtype=np.uint16)
    docs, tfs = arrays["post_doc"], arrays["post_tf"]
    for slot, row in enumerate(rows):
        a, b = int(ptr[row]), int(ptr[row + 1])
        tf_hi[slot], dl_lo[slot] = range_bounds(np.asarray(docs[a:b]), np.asarray(tfs[a:b]), doc_len)
    return dict(arrays, range_rows=rows, range_tf=tf_hi, range_dl=dl_lo)


def _concat(parts: list[np.ndarray], dtype: Any) -> np.ndarray:
    return np.concatenate(parts).astype(dtype, copy=False) if parts else np.zeros(0, dtype=dtype)


def stable_hash_order(hashes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``order = np.argsort(hashes, kind="stable")`` and ``hashes[order]``, several times faster.

    Each key packs a hash's high bits and its position, so one plain sort of unique uint64
    keys (vectorised in numpy) orders by (high bits, position). Distinct hashes that share
    their high bits are rare (a few among millions of terms): only their groups are sorted
    again by the whole hash, stably.
    """
    hashes = np.asarray(hashes, dtype=np.uint64)
    n = len(hashes)
    shift = np.uint64(max(1, (n - 1).bit_length()))  # n < 2**63: a position fits in the low bits
    positions = np.arange(n, dtype=np.uint64)
    keys = hashes >> shift
    keys <<= shift
    keys |= positions
    keys.sort()
    keys &= (np.uint64(1) << shift) - np.uint64(1)
    order = keys.view(np.int64)  # the positions, in (high bits, position) order
    sorted_hashes = np.take(hashes, order, out=positions)  # (the positions' memory, used again)
    unsorted = np.flatnonzero(sorted_hashes[1:] < sorted_hashes[:-1])
    if len(unsorted):
        high = sorted_hashes >> shift
        for group in np.unique(high[unsorted]).tolist():
            a, b = np.searchsorted(high, np.array([group, group + 1], dtype=np.uint64))  # not via float64
            again = np.argsort(sorted_hashes[a:b], kind="stable")
            order[a:b] = order[a:b][again]
            sorted_hashes[a:b] = sorted_hashes[a:b][again]
    return order, sorted_hashes


def postings_from_stream(
    hashes: np.ndarray, tfs: np.ndarray, n_terms: np.ndarray, epsilon: float
) -> dict[str, np.ndarray]:
    """Term rows (sorted hash keys), posting lists and idf from each passage's (term, count) stream."""
    n_docs = len(n_terms)
    docs = np.repeat(np.arange(n_docs, dtype=np.int32), n_terms)
    order, sorted_hashes = stable_hash_order(hashes)  # stable: passages stay ascending within a term
    if len(order):
        starts = np.flatnonzero(np.r_[True, sorted_hashes[1:] != sorted_hashes[:-1]])
    else:
        starts = np.zeros(0, dtype=np.int64)
    term_ptr = np.append(starts, len(order)).astype(np.int64)
    df = np.diff(term_ptr)
    first_seen = order[starts]  # stable sort: each term's first position in the stream
    appearance = np.argsort(first_seen, kind="stable")
    idf = np.empty(len(starts), dtype=np.float64)
    idf[appearance] = okapi_idf(df[appearance], n_docs, epsilon)
    term_order = np.empty(len(starts), dtype=np.int64)
    term_order[appearance] = np.arange(len(starts))
    post_tf = tfs[order]
    post_tf = np.minimum(post_tf, 65535, out=post_tf).astype(np.uint16)
    return {
        "term_hash": sorted_hashes[starts],
        "term_ptr": term_ptr,
        "term_idf": idf,
        "term_order": term_order,  # rank of each term in order of first appearance
        "term_tfmax": (
            np.maximum.reduceat(post_tf, starts) if len(starts) else np.zeros(0, dtype=np.uint16)
        ),  # highest tf of each term (bounds its score)
        "post_doc": docs[order],
        "post_tf": post_tf,
    }


# --- saving and loading -----------------------------------------------------------------


def _crc32_file(path: Path) -> int:
    crc = 0
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 22), b""):
            crc = zlib.crc32(block, crc)
    return crc


SAMPLE_BLOCKS = 64
SAMPLE_BLOCK = 1 << 16
FULL_CHECK_BELOW = 32 << 20


def _sample_crc32(path: Path) -> int:
    """CRC32 of 64 blocks of 64 KiB spread evenly over the file (and its last block).

    Files under 32 MiB are checked in full instead (see ``load_index``).
    """
    size = path.stat().st_size
    crc = 0
    with open(path, "rb") as handle:
        step = max(SAMPLE_BLOCK, size // SAMPLE_BLOCKS)
        for start in [*range(0, size, step), max(0, size - SAMPLE_BLOCK)]:
            handle.seek(start)
            crc = zlib.crc32(handle.read(SAMPLE_BLOCK), crc)
    return crc


def _map_file(path: Path, preload: bool = False, populate: bool = False) -> mmap.mmap:
    """A file mapped read-only (a slice is plain bytes: a passage's text costs one copy).

    With ``preload`` the kernel is asked to read the whole file into the page cache now
    (asynchronously): later reads do not wait for the disk, and nothing counts in this
    process's memory until it is read. With ``populate`` its pages are mapped in at once.
    """
    flags = mmap.MAP_SHARED | (mmap.MAP_POPULATE if populate and hasattr(mmap, "MAP_POPULATE") else 0)
    with open(path, "rb") as handle:
        if preload and hasattr(os, "posix_fadvise"):
            os.posix_fadvise(handle.fileno(), 0, 0, os.POSIX_FADV_WILLNEED)
        return mmap.mmap(handle.fileno(), 0, flags=flags, prot=mmap.PROT_READ)


class FileBytes:
    """A file's bytes, read on demand with ``os.pread`` (by slices): the passage texts and
    article lines. A question reads a few dozen of them; read through a memory map instead,
    each would map in a whole page cache folio (up to 2 MB), which counts in the process's
    resident memory (hundreds of MB a question at 1M passages)."""

    def __init__(self, path: Path, preload: bool = False) -> None:
        self._fd = os.open(path, os.O_RDONLY)
        self._size = os.fstat(self._fd).st_size
        if preload and hasattr(os, "posix_fadvise"):
            os.posix_fadvise(self._fd, 0, 0, os.POSIX_FADV_WILLNEED)

    def __len__(self) -> int:
        return self._size

    def __getitem__(self, where: slice) -> bytes:
        start, stop, step = where.indices(self._size)
        if step != 1:
            raise ValueError("only contiguous slices")
        return os.pread(self._fd, stop - start, start) if stop > start else b""

    def __bytes__(self) -> bytes:
        return self[:]

    def __del__(self) -> None:
        with contextlib.suppress(OSError, AttributeError):
            os.close(self._fd)


PRELOAD_WAIT_S = 1.0  # at most this long a load waits for the posting files to be read (see _wait_cached)
MADV_POPULATE_READ = getattr(mmap, "MADV_POPULATE_READ", 22)  # Linux 5.14+


def _wait_cached(mappings: list[tuple[mmap.mmap, int, int]], seconds: float) -> float:
    """Wait, up to ``seconds``, until the kernel has read the mapped files into its page cache;
    returns the share of their bytes known to be there.

    A ``preload`` asks for every file at once and does not wait; questions asked while the
    disk is still reading (a cold start: after a reboot, or once the system evicted the
    files) take several times longer, at 1M passages for 10 s and more. Here each 16 MB of a
    file is mapped in (``MADV_POPULATE_READ`` waits for the disk; a cached file takes
    microseconds) and unmapped at once (``MADV_DONTNEED``: the pages stay cached, the
    process's memory does not grow). Past the deadline the rest is left to the read-ahead.
    """
    deadline = time.monotonic() + seconds
    total = sum(len(mapped) for mapped, _, _ in mappings) or 1
    done, chunk = 0, 16 << 20
    for mapped, _, _ in mappings:
        for at in range(0, len(mapped), chunk):
            if time.monotonic() > deadline:
                return done / total
            size = min(chunk, len(mapped) - at)
            try:
                mapped.madvise(MADV_POPULATE_READ, at, size)
                mapped.madvise(mmap.MADV_DONTNEED, at, size)
            except (OSError, ValueError, AttributeError):  # an older kernel, or not Linux
                return done / total
            done += size
    return done / total


def _read_file(path: Path, preload: bool) -> FileBytes | mmap.mmap:
    """A file read by slices: with ``os.pread`` where there is one, else memory-mapped."""
    return FileBytes(path, preload) if hasattr(os, "pread") else _map_file(path, preload)


def _load_array(
    path: Path, preload: bool, populate: bool = False
) -> tuple[np.ndarray, tuple[mmap.mmap, int, int] | None]:
    """A saved array, memory-mapped read-only, and (its mapping, where its data starts, bytes
    an item); None for an empty array."""
    with open(path, "rb") as handle:
        major, _ = np.lib.format.read_magic(handle)
        read_header = np.lib.format.read_array_header_1_0 if major == 1 else np.lib.format.read_array_header_2_0
        shape, fortran, dtype = read_header(handle)
        offset = handle.tell()
    count = int(np.prod(shape)) if shape else 1
    if count == 0 or path.stat().st_size <= offset:
        return np.zeros(shape, dtype=dtype), None
    mapped = _map_file(path, preload, populate)
    array = np.frombuffer(mapped, dtype=dtype, count=count, offset=offset)
    return array.reshape(shape, order="F" if fortran else "C"), (mapped, offset, dtype.itemsize)


def fsync_dir(path: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(str(path), os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _write_file(path: Path, data: bytes) -> None:
    with open(path, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())


PART_ARRAYS = (
    "term_hash",
    "term_ptr",
    "term_order",
    "term_tfmax",
    "post_doc",
    "post_tf",
    "doc_len",
    "passage_offsets",
    "range_rows",
    "range_tf",
    "range_dl",
    "article_rows",  # where each article's JSON line is, its passages and id hash (``article_table``)
)


# small arrays every question reads at random (the term look-up, lengths, where texts are):
# with ``preload`` mapped in at load and never released (1M passages: about 70 MB)
RESIDENT_ARRAYS = frozenset({"term_hash", "term_ptr", "term_tfmax", "doc_len", "passage_offsets", "range_rows", "article_rows"})


def part_files(name: str) -> list[str]:
    """The files of a part in a version folder (shared between versions by hard links)."""
    return [f"{name}.{key}.npy" for key in PART_ARRAYS] + [f"{name}.passages.txt", f"{name}.articles.jsonl"]


def new_part_name(kind: str) -> str:
    return f"{kind}{time.strftime('%Y%m%d%H%M%S')}{os.urandom(3).hex()}"


def _file_info(path: Path) -> dict[str, int]:
    return {"size": path.stat().st_size, "crc32": _crc32_file(path), "sample_crc32": _sample_crc32(path)}


def _save_array(path: Path, array: np.ndarray) -> None:
    with open(path, "wb") as handle:
        np.save(handle, np.ascontiguousarray(array))
        handle.flush()
        os.fsync(handle.fileno())


def write_version(
    index_dir: Path, parts: list[Part], manifest: dict[str, Any], epsilon: float,
    previous: Path | None = None, previous_files: dict[str, Any] | None = None,
) -> Path:
    """Write a new version folder, then switch CURRENT to it in one rename.

    A part whose files are in the ``previous`` version folder is hard-linked from there (its
    size and checksums carried over from ``previous_files``); the others are written. The
    version's own files are the manifest, the global idf of every part's term rows and the
    removed postings per row (``dead_rows``/``dead_count``, global row numbers).
    """
    index_dir.mkdir(parents=True, exist_ok=True)
    fp = str(manifest.get("fingerprint", ""))[:8]
    name = f"v-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}-{fp}{os.urandom(3).hex()}"
    tmp = index_dir / f".tmp-{name}"
    tmp.mkdir()
    files: dict[str, dict[str, int]] = {}
    previous_files = previous_files or {}
    for part in parts:
        names = part_files(part.name)
        if previous is not None and all(n in previous_files for n in names):
            for n in names:
                os.link(previous / n, tmp / n)
                files[n] = previous_files[n]
            continue
        if "range_rows" not in part.arrays:
            part.arrays = with_range_bounds(part.arrays)
        article_lines, article_rows = encode_articles(part.articles)
        for key in PART_ARRAYS:
            _save_array(tmp / f"{part.name}.{key}.npy", article_rows if key == "article_rows" else part.arrays[key])
        _write_file(tmp / f"{part.name}.passages.txt", bytes(part.texts))
        _write_file(tmp / f"{part.name}.articles.jsonl", article_lines)
        for n in names:
            files[n] = _file_info(tmp / n)
    n_slots = sum(p.n_passages for p in parts)
    n_live = n_slots - sum(len(p.dead_passages()) for p in parts)
    row_starts = np.cumsum([0] + [p.n_terms for p in parts])
    own = {
        "idf": global_idf(parts, n_live, epsilon),
        "dead_rows": np.concatenate([p.dead_rows + r0 for p, r0 in zip(parts, row_starts)] or [np.zeros(0)]).astype(np.int64),
        "dead_count": np.concatenate([p.dead_count for p in parts] or [np.zeros(0)]).astype(np.int64),
    }
    for key, array in own.items():
        _save_array(tmp / f"{key}.npy", array)
        files[f"{key}.npy"] = _file_info(tmp / f"{key}.npy")
    manifest = dict(
        manifest, files=files, format=FORMAT_VERSION, range_size=RANGE_SIZE,
        parts=[
            {"name": p.name, "passages": p.n_passages, "terms": p.n_terms, "articles": p.count_articles(),
             "dead_articles": p.dead_articles.tolist()}
            for p in parts
        ],
        passages=n_live, articles=sum(p.count_articles() - len(p.dead_articles) for p in parts),
        terms=int(np.count_nonzero(own["idf"])),
    )
    _write_file(tmp / "manifest.json", json.dumps(manifest, ensure_ascii=False, indent=1).encode("utf-8"))
    fsync_dir(tmp)
    final = index_dir / name
    os.rename(tmp, final)
    pointer = index_dir / f".CURRENT.{os.getpid()}"
    _write_file(pointer, name.encode())
    os.replace(pointer, index_dir / "CURRENT")
    fsync_dir(index_dir)
    _remove_old_versions(index_dir, keep=name)
    return final


def save_index(
    index_dir: Path, arrays: dict[str, np.ndarray], texts: bytes, articles: list[dict[str, Any]], manifest: dict[str, Any],
    epsilon: float = 0.25,
) -> Path:
    """Write a new version of one part (the arrays of ``build_arrays``) and switch CURRENT to it."""
    part = Part(new_part_name("m"), {k: v for k, v in arrays.items() if k in PART_ARRAYS}, texts, articles)
    return write_version(index_dir, [part], manifest, epsilon)


def _remove_old_versions(index_dir: Path, keep: str) -> None:
    for path in index_dir.iterdir():
        if path.is_dir() and path.name != keep and (path.name.startswith("v-") or path.name.startswith(".tmp-")):
            if path.name.startswith(".tmp-") and _pid_alive(path.name):
                continue
            shutil.rmtree(path, ignore_errors=True)


def _pid_alive(name: str) -> bool:
    """Whether a temporary folder's writer (pid in its name) is still running."""
    try:
        pid = int(name.split("-")[4])
    except (IndexError, ValueError):
        return False
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    return True


def recorded_corpus(index_dir: Path) -> Path | None:
    """The corpus the current index was built from (from its manifest), when known."""
    version = current_version(index_dir)
    if version is None:
        return None
    try:
        corpus = read_manifest(version).get("corpus")
    except IndexError_:
        return None
    return Path(corpus) if corpus else None


def current_version(index_dir: Path) -> Path | None:
    pointer = index_dir / "CURRENT"
    if not pointer.is_file():
        return None
    name = pointer.read_text(encoding="utf-8").strip()
    return index_dir / name if name else None


def read_manifest(version: Path) -> dict[str, Any]:
    try:
        manifest = json.loads((version / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise IndexError_(f"{version}: manifest unreadable ({exc})") from None
    if manifest.get("format") != FORMAT_VERSION:
        raise IndexError_(f"{version}: index format {manifest.get('format')} is not {FORMAT_VERSION}")
    return manifest


def load_index(
    index_dir: Path, params: BM25Params, verify: bool | str = "quick", preload: bool = False,
    memory_mb: float = 0,
) -> PassageIndex:
    """Load the current index, memory-mapped. Raises IndexError_ when missing or damaged.

    ``preload`` has the kernel read the index files into the page cache at load, so the
    first questions do not wait for the disk. ``memory_mb`` bounds the index pages the
    process keeps mapped (``PassageIndex.release_pages``; 0: no bound).

    ``verify``: "quick" (default) checks every file's size, the full CRC32 of files under
    32 MiB and a CRC32 of 64 blocks spread over each bigger file (a 1M-passage index loads
    in well under a second); True or "full" checks the full CRC32 of every file; False
    checks sizes only.
    """
    version, manifest, parts, idf = load_parts(index_dir, verify, preload=preload)
    return PassageIndex(parts, idf, manifest, params, memory_mb)


def load_configured_index(settings: Settings) -> PassageIndex:
    """``load_index`` of ``settings.index_dir`` with the configured preload and memory bound."""
    return load_index(
        settings.index_dir, settings.bm25, preload=settings.preload_index, memory_mb=settings.index_memory_mb
    )


def load_parts(
    index_dir: Path, verify: bool | str = "quick", preload: bool = False
) -> tuple[Path, dict[str, Any], list[Part], np.ndarray]:
    """The current version's folder, manifest, parts and idf (see ``load_index``)."""
    version = current_version(index_dir)
    if version is None or not version.is_dir():
        raise IndexError_(f"no index in {index_dir}")
    manifest = read_manifest(version)
    for name, info in manifest.get("files", {}).items():
        path = version / name
        if not path.is_file() or path.stat().st_size != info["size"]:
            raise IndexError_(f"{path}: missing or truncated")
        full = verify is True or verify == "full" or (verify and info["size"] < FULL_CHECK_BELOW)
        if full and _crc32_file(path) != info["crc32"]:
            raise IndexError_(f"{path}: checksum mismatch (damaged)")
        if verify and not full and _sample_crc32(path) != info.get("sample_crc32"):
            raise IndexError_(f"{path}: checksum mismatch (damaged)")
    try:
        dead_rows = np.load(version / "dead_rows.npy")
        dead_count = np.load(version / "dead_count.npy")
        idf = np.load(version / "idf.npy")  # read at random by every question: in memory
        parts, r0 = [], 0
        for info in manifest["parts"]:
            name = info["name"]
            loaded = {
                key: _load_array(version / f"{name}.{key}.npy", preload, preload and key in RESIDENT_ARRAYS)
                for key in PART_ARRAYS
            }
            arrays = {key: array for key, (array, _) in loaded.items()}
            maps = {key: mapped for key, (_, mapped) in loaded.items() if mapped and key not in RESIDENT_ARRAYS}
            files = {kind: version / f"{name}.{kind}" for kind in ("passages.txt", "articles.jsonl")}
            blobs = {kind: _read_file(path, preload) if path.stat().st_size else b"" for kind, path in files.items()}
            maps.update((kind, (blob, 0, 1)) for kind, blob in blobs.items() if isinstance(blob, mmap.mmap))
            r1 = r0 + len(arrays["term_hash"])
            lo, hi = np.searchsorted(dead_rows, [r0, r1])
            part = Part(
                name, arrays, blobs["passages.txt"], ArticleTable(blobs["articles.jsonl"], arrays["article_rows"]),
                np.asarray(info["dead_articles"], dtype=np.int64), dead_rows[lo:hi] - r0, dead_count[lo:hi], maps,
            )
            if int(arrays["term_ptr"][-1]) != len(arrays["post_doc"]) or part.n_passages != info["passages"]:
                raise IndexError_(f"{version}: arrays of part {name} disagree with each other")
            if int(passage_counts(part.articles).sum()) != part.n_passages:
                raise IndexError_(f"{version}: articles of part {name} disagree with its passages")
            parts.append(part)
            r0 = r1
        if len(idf) != r0:
            raise IndexError_(f"{version}: idf disagrees with the term rows")
        if preload:
            _wait_cached([part.maps[key] for key in READ_SPANS for part in parts if key in part.maps], PRELOAD_WAIT_S)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise IndexError_(f"{version}: cannot load ({exc})") from None
    return version, manifest, parts, idf


# --- building from a corpus -------------------------------------------------------------


MAX_PARTS = 8  # more parts than this: the delta parts are merged into one
COMPACT_SHARE = 0.1  # removed or delta passages above this share of the live ones: one part again
COMPACT_MIN_PASSAGES = 2000  # ... once there are at least this many of them


@dataclass
class BuildReport:
    """What ``ensure_index`` did."""

    action: str  # "loaded", "built", "rebuilt"
    reason: str
    articles: int
    passages: int
    segmented: int
    seconds: float
    problems: list[LoadProblem]
    mode: str = "full"  # "full" (one part), "delta" (a delta part and/or removals), "compacted"
    detail: str = ""  # what the delta did: "+100 -1 articles, 3 parts"


def settings_fingerprint(settings: Settings) -> str:
    return hashlib.sha256(json.dumps(settings.index_fingerprint_part(), sort_keys=True).encode()).hexdigest()


def full_fingerprint(settings: Settings) -> str:
    """Changes when any corpus file or any index setting changes."""
    return hashlib.sha256(
        (corpus_fingerprint(settings.corpus) + settings_fingerprint(settings)).encode()
    ).hexdigest()


@contextlib.contextmanager
def _build_lock(index_dir: Path) -> Iterator[None]:
    index_dir.mkdir(parents=True, exist_ok=True)
    with open(index_dir / ".lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _article_list(metas: list[dict[str, Any]], per_article: list[int]) -> list[dict[str, Any]]:
    """Article metadata with each article's first passage and passage count (in its part)."""
    out, first = [], 0
    for meta, count in zip(metas, per_article):
        out.append(dict(meta, first_passage=first, passages=count))
        first += count
    return out


def _identity(meta: dict[str, Any]) -> str:
    """What must not change for an article to stay in its part: metadata and content key.

    Not where it was read from: a JSON Lines article whose line moved (a line removed above
    it, or a new export file) is the same article; its id and content say so.
    """
    return json.dumps(
        {k: v for k, v in meta.items() if k not in ("first_passage", "passages", "path")}, sort_keys=True
    )


def build_index(
    settings: Settings, corpus: Corpus | None = None, progress: bool = False, full: bool = False
) -> BuildReport:
    """Build the index of ``settings.corpus`` into ``settings.index_dir`` (reusing the cache).

    When the current index has the same settings, only the corpus's new or changed articles
    are segmented, into a small delta part; removed or changed ones are marked removed; the
    other parts are hard-linked into the new version. Past ``MAX_PARTS`` parts the deltas
    are merged; past ``COMPACT_SHARE`` of delta or removed passages (or with ``full``) the
    whole corpus is built into one part again.
    """
    started = time.perf_counter()
    with _build_lock(settings.index_dir):
        fingerprint = full_fingerprint(settings)
        corpus = corpus or load_corpus(settings.corpus)
        keys = [article_key(a, settings) for a in corpus.articles]
        metas = [dict(a.metadata(), key=k) for a, k in zip(corpus.articles, keys)]
        manifest = {
            "fingerprint": fingerprint,
            "settings": settings.index_fingerprint_part(),
            "problems": [str(p) for p in corpus.problems],
            "corpus": str(Path(settings.corpus).resolve()),
            "built_at": time.strftime("%Y-%m-%dT%H:%M:%S"),
        }
        base = None if full else _incremental_base(settings)
        report = None
        if base is not None:
            report = _update_from_corpus(settings, base, corpus.articles, metas, manifest, progress)
        if report is None:
            cache = SegmentCache(settings.index_dir / "segments.sqlite")
            try:
                segmented, fresh = segment_articles(corpus.articles, settings, cache, progress=progress, keys=keys)
                cache.keep_only(set(keys))
            finally:
                cache.close()
            arrays, texts, per_article = build_arrays(segmented, settings.bm25.epsilon)
            part = Part(new_part_name("m"), arrays, texts, _article_list(metas, per_article))
            write_version(settings.index_dir, [part], manifest, settings.bm25.epsilon)
            report = BuildReport(
                "built", "", len(metas), len(arrays["doc_len"]), fresh, 0.0, corpus.problems,
                "compacted" if base is not None else "full",
            )
    report.problems = corpus.problems
    report.seconds = time.perf_counter() - started
    return report


def _incremental_base(settings: Settings) -> PassageIndex | None:
    """The current index when a new version can be made of its parts (same settings)."""
    try:
        index = load_index(settings.index_dir, settings.bm25)
    except IndexError_:
        return None
    wanted = json.loads(json.dumps(settings.index_fingerprint_part()))  # as the manifest stores it
    if index.manifest.get("settings") != wanted or index.manifest.get("synthetic"):
        return None
    return index


def _update_from_corpus(
    settings: Settings, base: PassageIndex, articles: list[Article], metas: list[dict[str, Any]],
    manifest: dict[str, Any], progress: bool,
) -> BuildReport | None:
    """A new version of ``base`` for the corpus ``articles``, or None when a full build is due."""
    waiting: dict[str, list[int]] = {}
    numbers = _all_numbers(base)
    for number in numbers["live"]:
        waiting.setdefault(_identity(base._all_articles[number]), []).append(number)
    corpus_of: dict[int, int] = {}  # base article number -> corpus position
    added: list[int] = []
    for position, meta in enumerate(metas):
        found = waiting.get(_identity(meta))
        if found:
            corpus_of[found.pop(0)] = position
        else:
            added.append(position)
    removed = sorted(n for found in waiting.values() for n in found)
    return _update(
        settings, base, removed, [articles[i] for i in added], [metas[i] for i in added], manifest, progress,
        delta_articles=lambda numbers_: [articles[corpus_of[n]] for n in numbers_],
        keep=set(metas_key for metas_key in (m["key"] for m in metas)),
    )


def _all_numbers(index: PassageIndex | Version) -> dict[str, list[int]]:
    """Global article numbers of the live articles, and the first article number of each part."""
    live, starts, base = [], [], 0
    for part in index.parts:
        starts.append(base)
        dead = set(part.dead_articles.tolist())
        live.extend(base + n for n in range(part.count_articles()) if n not in dead)
        base += part.count_articles()
    return {"live": live, "starts": starts + [base]}


def append_articles(settings: Settings, articles: list[Article], progress: bool = False) -> BuildReport:
    """Add ``articles`` after those of the current index (of any kind, synthetic too) as a delta part.

    The corpus is not read: this is what a build does when the corpus only gained these
    articles (``bench`` times it on a scaled-up index without a corpus).
    """
    started = time.perf_counter()
    with _build_lock(settings.index_dir):
        _, manifest_, parts, _ = load_parts(settings.index_dir)
        base = Version(parts, manifest_, [])
        metas = [dict(a.metadata(), key=article_key(a, settings)) for a in articles]
        manifest = {k: v for k, v in base.manifest.items() if k not in ("files", "parts")}
        manifest.update(fingerprint="", built_at=time.strftime("%Y-%m-%dT%H:%M:%S"))
        report = _update(settings, base, [], articles, metas, manifest, progress, delta_articles=None, keep=None)
    if report is None:
        raise IndexError_("the index cannot take a delta part; build it in full")
    report.seconds = time.perf_counter() - started
    return report


def mark_removed(part: Part, local: list[int], segmented: list[SegmentedArticle]) -> Part | None:
    """``part`` with its articles ``local`` (part-local numbers, segmented as ``segmented``)
    marked removed: their postings are subtracted from the terms' document frequencies.
    None when the segmentation does not match the part (then only a full build is right)."""
    rows, counts = [part.dead_rows], [part.dead_count]
    for n, item in zip(local, segmented):
        if len(item.texts) != int(passage_counts(part.articles)[n]) or part.n_terms == 0:
            return None
        hashes = np.asarray(item.hashes, dtype=np.uint64)
        term_hashes = np.asarray(part.arrays["term_hash"])
        hits = np.minimum(np.searchsorted(term_hashes, hashes), part.n_terms - 1)
        if not np.array_equal(term_hashes[hits], hashes):
            return None
        rows.append(hits.astype(np.int64))
        counts.append(np.ones(len(hits), dtype=np.int64))
    all_rows, inverse = np.unique(np.concatenate(rows), return_inverse=True)
    dead_count = np.bincount(inverse, weights=np.concatenate(counts).astype(np.float64), minlength=len(all_rows))
    return dataclasses.replace(
        part, dead_rows=all_rows.astype(np.int64), dead_count=np.rint(dead_count).astype(np.int64),
        dead_articles=np.union1d(part.dead_articles, np.asarray(local, dtype=np.int64)),
    )


@dataclass
class Version:
    """What a new version is made from: the parts, the manifest and (for removals) every article."""

    parts: list[Part]
    manifest: dict[str, Any]
    _all_articles: list[dict[str, Any]]


def _update(
    settings: Settings, base: PassageIndex | Version, removed: list[int], new_articles: list[Article],
    new_metas: list[dict[str, Any]], manifest: dict[str, Any], progress: bool,
    delta_articles: Any, keep: set[str] | None,
) -> BuildReport | None:
    """Write a version of ``base`` without the ``removed`` articles (global numbers) and with the
    new ones in a delta part. ``delta_articles`` gives the corpus articles of base article
    numbers (to merge the deltas; None: never merge). None when a full build is due."""
    numbers = _all_numbers(base)
    starts = numbers["starts"]
    part_of = lambda n: int(np.searchsorted(starts, n, side="right")) - 1  # noqa: E731
    n_parts = len(base.parts) + (1 if new_articles else 0)
    merge = delta_articles is not None and n_parts > MAX_PARTS
    kept_parts = base.parts[:1] if merge else list(base.parts)
    dead_now = sum(len(p.dead_passages()) for p in base.parts[: len(kept_parts)])
    cache = SegmentCache(settings.index_dir / "segments.sqlite")
    try:
        gone = [n for n in removed if part_of(n) < len(kept_parts)]
        gone_keys = [base._all_articles[n].get("key") for n in gone]
        found = cache.get_many([k for k in gone_keys if k])
        if any(k not in found for k in gone_keys):
            return None  # a removed article's terms are unknown: full build
        dropped = set(removed)
        merged = [n for n in numbers["live"] if merge and part_of(n) > 0 and n not in dropped]
        todo = (delta_articles(merged) if merged else []) + list(new_articles)
        segmented, fresh = segment_articles(todo, settings, cache, progress=progress)
        if keep is not None:
            cache.keep_only(keep)
    finally:
        cache.close()
    new_passages = sum(len(s.texts) for s in segmented)
    delta_passages = new_passages + sum(p.n_passages for p in kept_parts[1:])
    dead_after = dead_now + sum(base._all_articles[n]["passages"] for n in gone)
    live_after = sum(p.n_passages for p in kept_parts) - dead_after + new_passages
    waste = max(delta_passages, dead_after)
    if delta_articles is not None and waste > COMPACT_SHARE * live_after and waste >= COMPACT_MIN_PASSAGES:
        return None
    parts = [dataclasses.replace(p) for p in kept_parts]
    by_part: dict[int, list[int]] = {}
    for n, key in zip(gone, gone_keys):
        by_part.setdefault(part_of(n), []).append(n)
    for number, dead in by_part.items():
        marked = mark_removed(parts[number], [n - starts[number] for n in dead], [found[base._all_articles[n]["key"]] for n in dead])
        if marked is None:
            return None
        parts[number] = marked
    if segmented:
        merged_metas = [base._all_articles[n] for n in merged]
        metas = [{k: v for k, v in m.items() if k not in ("first_passage", "passages")} for m in merged_metas]
        arrays, texts, per_article = build_arrays(segmented, settings.bm25.epsilon)
        parts.append(Part(new_part_name("d"), arrays, texts, _article_list(metas + new_metas, per_article)))
    version = current_version(settings.index_dir)
    write_version(
        settings.index_dir, parts, manifest, settings.bm25.epsilon, version, base.manifest.get("files", {})
    )
    detail = f"+{len(new_articles)} -{len(removed)} articles, {len(parts)} parts" + (", deltas merged" if merge else "")
    return BuildReport(
        "built", "", sum(p.count_articles() - len(p.dead_articles) for p in parts), live_after, fresh, 0.0, [],
        "delta", detail,
    )


def ensure_index(settings: Settings, progress: bool = False) -> tuple[PassageIndex, BuildReport]:
    """Load the index; build it when missing, stale (corpus or settings changed) or damaged."""
    started = time.perf_counter()
    if not settings.corpus.exists():
        raise FileNotFoundError(str(settings.corpus))
    reason = ""
    try:
        index = load_configured_index(settings)
        if index.manifest.get("fingerprint") == full_fingerprint(settings):
            problems = [LoadProblem(*p.split(": ", 1)) if ": " in p else LoadProblem(p, "") for p in index.manifest.get("problems", [])]
            return index, BuildReport(
                "loaded", "up to date", len(index.articles), index.n_live, 0,
                time.perf_counter() - started, problems,
            )
        reason = "the corpus or the settings changed"
    except IndexError_ as exc:
        reason = str(exc)
        if current_version(settings.index_dir) is not None:
            log.warning("index unusable, rebuilding: %s", exc)
    report = build_index(settings, progress=progress)
    report.action = "built" if reason.startswith("no index") else "rebuilt"
    report.reason = reason
    report.seconds = time.perf_counter() - started
    return load_configured_index(settings), report
