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
import fcntl
import hashlib
import json
import logging
import os
import shutil
import sqlite3
import struct
import time
import zlib
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Iterator

import numpy as np

from bot.bm25 import RANGE_SIZE, BM25Params, Postings, Scratch, length_norms, okapi_idf, range_bounds, range_x
from bot.config import Settings
from bot.corpus import Article, Corpus, LoadProblem, corpus_fingerprint, load_corpus
from bot.passages import split_article
from bot.text import FOLD_PREFIX, TEXT_VERSION, TermOptions, exact_terms, fold_accents, index_term_counts, normalize

log = logging.getLogger(__name__)

FORMAT_VERSION = 5  # of the index folder
CACHE_FORMAT = 2  # of segments.sqlite entries
_ARRAYS = (
    "term_hash",
    "term_ptr",
    "term_idf",
    "term_order",
    "term_tfmax",
    "post_doc",
    "post_tf",
    "doc_len",
    "passage_article",
    "passage_position",
    "passage_offsets",
    "range_rows",
    "range_tf",
    "range_dl",
)
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
        header = zlib.compress(json.dumps(self.texts, ensure_ascii=False).encode("utf-8"), 1)  # fast: a cache
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
    out = []
    for key, article in batch:
        if options.folded:
            out.append(_segment_hashed(key, article, min_chars, max_chars, options, title))
        else:
            texts, terms, lengths = segment_article(article, min_chars, max_chars, options, title)
            out.append(pack_article(key, texts, terms, lengths))
    return out


# The build's own path: ``pack_article(key, *segment_article(...))`` with each distinct exact
# term's hash, folded copy and that copy's hash found in one look-up (tests hold them equal).

_TERM_KEYS: dict[str, tuple[int, str, int]] = {}
TERM_KEYS_SIZE = 500_000  # bigger memos cost more in cache misses than they save


def _term_keys(term: str) -> tuple[int, str, int]:
    """(term_hash(term), its folded copy, term_hash of that copy), remembered per process."""
    found = _TERM_KEYS.get(term)
    if found is None:
        if len(_TERM_KEYS) > TERM_KEYS_SIZE:
            _TERM_KEYS.clear()
        folded = FOLD_PREFIX + fold_accents(term)
        found = _TERM_KEYS[term] = (term_hash(term), folded, _memo_hash(folded))
    return found


def _segment_hashed(
    key: str, article: Article, min_chars: int, max_chars: int, options: TermOptions, title_in_passages: bool
) -> SegmentedArticle:
    """``pack_article(key, *segment_article(...))`` for options with folded copies, faster."""
    title: list[tuple[str, int, int]] = []  # the title's terms: (term, hash, count), exact ones first
    if title_in_passages and article.title:
        title = [(t, _memo_hash(t), c) for t, c in index_term_counts(normalize(article.title), options).items()]
    texts, hashes, counts, n_terms, lengths = [], [], [], [], []
    for passage in split_article(article, min_chars, max_chars):
        exact = Counter(exact_terms(normalize(passage.text), options))
        more: list[tuple[int, int]] = []  # title terms the passage lacks, in the title's order
        title_copies: list[tuple[str, int, int]] = []
        title_exact: dict[str, int] = {}  # the title's exact terms the passage has too
        for term, hash_, count in title:  # the title's exact terms come before its folded copies
            if term in exact:
                title_exact[term] = count
            elif term.startswith(FOLD_PREFIX):
                title_copies.append((term, hash_, count))
            else:
                more.append((hash_, count))
        start = len(hashes)
        folded: dict[str, list[int]] = {}  # folded copy -> [hash, count], in order of first appearance
        for term, count in exact.items():
            hash_, copy, copy_hash = _term_keys(term)
            hashes.append(hash_)
            counts.append(count + title_exact.get(term, 0))
            slot = folded.get(copy)
            if slot is None:
                folded[copy] = [copy_hash, count]
            else:
                slot[1] += count
        for term, hash_, count in title_copies:
            slot = folded.get(term)
            if slot is None:
                more.append((hash_, count))
            else:
                slot[1] += count
        for hash_, count in folded.values():
            hashes.append(hash_)
            counts.append(count)
        for hash_, count in more:
            hashes.append(hash_)
            counts.append(count)
        texts.append(passage.text)
        n_terms.append(len(hashes) - start)
        lengths.append(sum(counts[start:]))
    return SegmentedArticle(
        key,
        texts,
        np.array(hashes, dtype=np.uint64).reshape(-1),
        np.array(counts, dtype=np.uint32).reshape(-1),
        np.array(n_terms, dtype=np.int32),
        np.array(lengths, dtype=np.int32),
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
    progress: bool = False,
) -> tuple[list[SegmentedArticle], int]:
    """Each article segmented, from the cache when unchanged. Returns (results, how many were new)."""
    keys = [article_key(a, settings) for a in articles]
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


# --- the index in memory ----------------------------------------------------------------


@dataclass
class PassageIndex:
    """A searchable index: term postings, passage texts and article metadata."""

    arrays: dict[str, np.ndarray]
    texts_blob: bytes | memoryview
    articles: list[dict[str, Any]]
    manifest: dict[str, Any]
    params: BM25Params

    def __post_init__(self) -> None:
        self.norms = length_norms(self.arrays["doc_len"], self.params)
        n = len(self.norms)
        self._avgdl = int(np.asarray(self.arrays["doc_len"]).sum()) / n if n else 0.0
        self._range_rows = np.asarray(self.arrays["range_rows"])
        self._range_size = int(self.manifest.get("range_size", RANGE_SIZE))
        self.scratch = Scratch(len(self.norms))  # reused by every query (see bm25.best_passages)

    @property
    def n_passages(self) -> int:
        return int(len(self.arrays["doc_len"]))

    def lookup(self, term: str) -> int | None:
        """The term's row, or None when no passage has it."""
        hashes = self.arrays["term_hash"]
        key = np.uint64(term_hash(term))
        row = int(np.searchsorted(hashes, key))
        if row < len(hashes) and hashes[row] == key:
            return row
        return None

    def postings(self, row: int) -> Postings:
        start, end = int(self.arrays["term_ptr"][row]), int(self.arrays["term_ptr"][row + 1])
        bounds = None
        slot = int(np.searchsorted(self._range_rows, row))
        if slot < len(self._range_rows) and self._range_rows[slot] == row:
            tf_hi, dl_lo = self.arrays["range_tf"][slot], self.arrays["range_dl"][slot]
            bounds = range_x(np.asarray(tf_hi), np.asarray(dl_lo), self.params, self._avgdl)
        return Postings(
            self.arrays["post_doc"][start:end], self.arrays["post_tf"][start:end], int(self.arrays["term_tfmax"][row]),
            bounds, self._range_size if bounds is not None else 0,
        )

    def idf(self, row: int) -> float:
        return float(self.arrays["term_idf"][row])

    def passage_text(self, passage: int) -> str:
        offsets = self.arrays["passage_offsets"]
        start, end = int(offsets[passage]), int(offsets[passage + 1])
        return bytes(self.texts_blob[start:end]).decode("utf-8")

    def passage_article(self, passage: int) -> dict[str, Any]:
        return self.articles[int(self.arrays["passage_article"][passage])]

    def passage_position(self, passage: int) -> int:
        return int(self.arrays["passage_position"][passage])

    def article_passages(self, article_number: int) -> range:
        article = self.articles[article_number]
        return range(article["first_passage"], article["first_passage"] + article["passages"])

    def find_article(self, article_id: str) -> int | None:
        for number, article in enumerate(self.articles):
            if article["id"] == article_id:
                return number
        return None


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
    texts = [text.encode("utf-8") for item in segmented for text in item.texts]
    arrays = postings_from_stream(hashes, tfs, n_terms, epsilon)
    offsets = np.zeros(len(texts) + 1, dtype=np.int64)
    np.cumsum([len(t) for t in texts], out=offsets[1:])
    arrays.update(
        doc_len=doc_len,
        passage_article=passage_article,
        passage_position=passage_position,
        passage_offsets=offsets,
    )
    return arrays, b"".join(texts), per_article


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


def postings_from_stream(
    hashes: np.ndarray, tfs: np.ndarray, n_terms: np.ndarray, epsilon: float
) -> dict[str, np.ndarray]:
    """Term rows (sorted hash keys), posting lists and idf from each passage's (term, count) stream."""
    n_docs = len(n_terms)
    docs = np.repeat(np.arange(n_docs, dtype=np.int32), n_terms)
    order = np.argsort(hashes, kind="stable")  # stable: passages stay ascending within a term
    sorted_hashes = hashes[order]
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
    post_tf = np.minimum(tfs[order], 65535).astype(np.uint16)
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


def append_arrays(
    old: dict[str, np.ndarray], old_texts: bytes | memoryview, new: list[SegmentedArticle], epsilon: float
) -> tuple[dict[str, np.ndarray], bytes, list[int]]:
    """The arrays ``build_arrays`` would give for the old articles followed by ``new``, without
    re-sorting the old postings: each term's new postings go after its old ones.
    """
    n_old = len(old["doc_len"])
    part, part_texts, per_article = build_arrays(new, epsilon)
    old_hash, new_hash = np.asarray(old["term_hash"]), part["term_hash"]
    old_ptr, new_ptr = np.asarray(old["term_ptr"]), part["term_ptr"]
    old_df, new_df = np.diff(old_ptr), np.diff(new_ptr)
    vocab = np.union1d(old_hash, new_hash)
    row_old = np.searchsorted(vocab, old_hash)
    row_new = np.searchsorted(vocab, new_hash)
    df_before = np.zeros(len(vocab), dtype=np.int64)
    df_before[row_old] = old_df
    df = df_before.copy()
    df[row_new] += new_df
    ptr = np.zeros(len(vocab) + 1, dtype=np.int64)
    np.cumsum(df, out=ptr[1:])
    post_doc = np.empty(int(ptr[-1]), dtype=np.int32)
    post_tf = np.empty(int(ptr[-1]), dtype=np.uint16)
    # old postings move in runs of terms that shift by the same amount
    shift = ptr[row_old] - old_ptr[:-1]
    cuts = np.flatnonzero(np.diff(shift)) + 1
    old_doc, old_tf = np.asarray(old["post_doc"]), np.asarray(old["post_tf"])  # plain views: cheap slices
    for first, last in zip(np.r_[0, cuts], np.r_[cuts, len(old_hash)]):
        a, b, by = int(old_ptr[first]), int(old_ptr[last]), int(shift[first])
        post_doc[a + by : b + by] = old_doc[a:b]
        post_tf[a + by : b + by] = old_tf[a:b]
    term_of = np.repeat(np.arange(len(new_hash)), new_df)
    dest = (ptr[row_new] + df_before[row_new])[term_of] + (np.arange(len(term_of)) - new_ptr[term_of])
    post_doc[dest] = part["post_doc"] + n_old
    post_tf[dest] = part["post_tf"]
    # first appearance: old terms keep their rank, new ones follow in their own order
    order = np.empty(len(vocab), dtype=np.int64)
    order[row_old] = old["term_order"]
    seen = np.zeros(len(vocab), dtype=np.bool_)
    seen[row_old] = True
    fresh = ~seen[row_new]
    order[row_new[fresh]] = len(old_hash) + np.argsort(np.argsort(part["term_order"][fresh]))
    tfmax = np.zeros(len(vocab), dtype=np.uint16)
    tfmax[row_old] = old["term_tfmax"]
    tfmax[row_new] = np.maximum(tfmax[row_new], part["term_tfmax"])
    n_docs = n_old + len(part["doc_len"])
    appearance = np.argsort(order)
    idf = np.empty(len(vocab), dtype=np.float64)
    idf[appearance] = okapi_idf(df[appearance], n_docs, epsilon)
    old_offsets = np.asarray(old["passage_offsets"])
    arrays = {
        "term_hash": vocab,
        "term_ptr": ptr,
        "term_idf": idf,
        "term_order": order,
        "term_tfmax": tfmax,
        "post_doc": post_doc,
        "post_tf": post_tf,
        "doc_len": np.concatenate([old["doc_len"], part["doc_len"]]),
        "passage_article": np.concatenate(
            [old["passage_article"], part["passage_article"] + (int(old["passage_article"][-1]) + 1 if n_old else 0)]
        ).astype(np.int32),
        "passage_position": np.concatenate([old["passage_position"], part["passage_position"]]),
        "passage_offsets": np.concatenate([old_offsets, part["passage_offsets"][1:] + old_offsets[-1]]),
    }
    return arrays, bytes(old_texts) + part_texts, per_article


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


def save_index(
    index_dir: Path, arrays: dict[str, np.ndarray], texts: bytes, articles: list[dict[str, Any]], manifest: dict[str, Any]
) -> Path:
    """Write a new version folder in full, then switch CURRENT to it in one rename."""
    if "range_rows" not in arrays or manifest.get("range_size") != RANGE_SIZE:
        arrays = with_range_bounds(arrays)
    index_dir.mkdir(parents=True, exist_ok=True)
    name = f"v-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}-{manifest['fingerprint'][:8]}{os.urandom(3).hex()}"
    tmp = index_dir / f".tmp-{name}"
    tmp.mkdir()
    files: dict[str, dict[str, int]] = {}
    for key in _ARRAYS:
        path = tmp / f"{key}.npy"
        with open(path, "wb") as handle:
            np.save(handle, np.ascontiguousarray(arrays[key]))
            handle.flush()
            os.fsync(handle.fileno())
    _write_file(tmp / "passages.txt", texts)
    _write_file(tmp / "articles.json", json.dumps(articles, ensure_ascii=False).encode("utf-8"))
    for path in sorted(tmp.iterdir()):
        files[path.name] = {
            "size": path.stat().st_size,
            "crc32": _crc32_file(path),
            "sample_crc32": _sample_crc32(path),
        }
    manifest = dict(manifest, files=files, format=FORMAT_VERSION, range_size=RANGE_SIZE)
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


def load_index(index_dir: Path, params: BM25Params, verify: bool | str = "quick") -> PassageIndex:
    """Load the current index, memory-mapped. Raises IndexError_ when missing or damaged.

    ``verify``: "quick" (default) checks every file's size, the full CRC32 of files under
    32 MiB and a CRC32 of 64 blocks spread over each bigger file (a 1M-passage index loads
    in well under a second); True or "full" checks the full CRC32 of every file; False
    checks sizes only.
    """
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
        arrays = {key: np.load(version / f"{key}.npy", mmap_mode="r") for key in _ARRAYS}
        articles = json.loads((version / "articles.json").read_text(encoding="utf-8"))
        size = (version / "passages.txt").stat().st_size
        texts: bytes | memoryview = (
            np.memmap(version / "passages.txt", dtype=np.uint8, mode="r") if size else b""
        )
    except (OSError, ValueError) as exc:
        raise IndexError_(f"{version}: cannot load ({exc})") from None
    if int(arrays["term_ptr"][-1]) != len(arrays["post_doc"]) or len(arrays["doc_len"]) != manifest["passages"]:
        raise IndexError_(f"{version}: arrays disagree with each other")
    return PassageIndex(arrays, texts, articles, manifest, params)


# --- building from a corpus -------------------------------------------------------------


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


def build_index(settings: Settings, corpus: Corpus | None = None, progress: bool = False) -> BuildReport:
    """Build the index of ``settings.corpus`` into ``settings.index_dir`` (reusing the cache)."""
    started = time.perf_counter()
    with _build_lock(settings.index_dir):
        fingerprint = full_fingerprint(settings)
        corpus = corpus or load_corpus(settings.corpus)
        keys = [article_key(a, settings) for a in corpus.articles]
        previous = _appendable(settings, keys)
        kept = len(previous.articles) if previous else 0
        cache = SegmentCache(settings.index_dir / "segments.sqlite")
        try:
            segmented, fresh = segment_articles(corpus.articles[kept:], settings, cache, progress=progress)
            cache.keep_only(set(keys))
        finally:
            cache.close()
        if previous is not None:  # only new articles at the end: extend the index
            arrays, texts, per_article = append_arrays(
                previous.arrays, previous.texts_blob, segmented, settings.bm25.epsilon
            )
            per_article = [a["passages"] for a in previous.articles] + per_article
            del previous
        else:
            arrays, texts, per_article = build_arrays(segmented, settings.bm25.epsilon)
        articles = []
        first = 0
        for article, key, count in zip(corpus.articles, keys, per_article):
            meta = article.metadata()
            meta.update(first_passage=first, passages=count, key=key)
            articles.append(meta)
            first += count
        manifest = {
            "fingerprint": fingerprint,
            "settings": settings.index_fingerprint_part(),
            "articles": len(articles),
            "passages": len(arrays["doc_len"]),
            "terms": len(arrays["term_hash"]),
            "problems": [str(p) for p in corpus.problems],
            "corpus": str(Path(settings.corpus).resolve()),
            "built_at": time.strftime("%Y-%m-%dT%H:%M:%S"),
        }
        save_index(settings.index_dir, arrays, texts, articles, manifest)
    return BuildReport(
        "built", "", len(articles), manifest["passages"], fresh, time.perf_counter() - started, corpus.problems
    )


def _appendable(settings: Settings, keys: list[str]) -> PassageIndex | None:
    """The current index when the corpus only added articles after the ones it holds."""
    try:
        index = load_index(settings.index_dir, settings.bm25)
    except IndexError_:
        return None
    old_keys = [a.get("key") for a in index.articles]
    if (
        index.manifest.get("settings") != settings.index_fingerprint_part()
        or index.manifest.get("synthetic")
        or not 0 < len(old_keys) < len(keys)
        or old_keys != keys[: len(old_keys)]
    ):
        return None
    return index


def ensure_index(settings: Settings, progress: bool = False) -> tuple[PassageIndex, BuildReport]:
    """Load the index; build it when missing, stale (corpus or settings changed) or damaged."""
    started = time.perf_counter()
    if not settings.corpus.exists():
        raise FileNotFoundError(str(settings.corpus))
    reason = ""
    try:
        index = load_index(settings.index_dir, settings.bm25)
        if index.manifest.get("fingerprint") == full_fingerprint(settings):
            problems = [LoadProblem(*p.split(": ", 1)) if ": " in p else LoadProblem(p, "") for p in index.manifest.get("problems", [])]
            return index, BuildReport(
                "loaded", "up to date", len(index.articles), index.n_passages, 0,
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
    return load_index(settings.index_dir, settings.bm25), report
