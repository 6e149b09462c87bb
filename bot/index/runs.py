"""A part's arrays built in worker processes, from sorted runs.

Two steps, both in the workers (``workers`` processes; in this process when there is one):

1. Each batch of articles is taken from the segment cache or segmented (its new rows written
   to the cache by the worker itself) and its postings are written to a temporary folder as a
   *run*: term keys, stream positions, passages and counts, sorted by term key (stably).
2. Each range of term keys is merged from every run (the runs in batch order, so equal keys
   stay in stream order): its term rows, posting lists, highest counts and range bounds.

The main process only adds offsets, concatenates the ranges and writes the files. The arrays
are those of ``postings.build_arrays`` over ``segmenter.segment_articles``, byte for byte.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import time
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bot.corpus.article import Article
from bot.index.postings import RANGE_MIN_DF, stable_hash_order
from bot.index.segment_cache import SegmentCache
from bot.index.segmenter import (
    POOL_MIN_CHARS,
    SegmentedArticle,
    Segmenter,
    _progress,
    default_workers,
    die_with_parent,
)
from bot.index.storage import remove_stale_temporaries
from bot.search.bm25 import RANGE_SIZE, range_bounds
from bot.settings import Settings

log = logging.getLogger(__name__)

RUN_FIELDS = ("hash", "pos", "doc", "tf")  # a run's files: term key, stream position, passage, count
RANGES_PER_WORKER = 4  # key ranges merged per worker (a worker holds about 1/(4 x workers) of the postings)


@dataclass(frozen=True)
class BatchRun:
    """What a worker hands back for a batch (its postings are in the run's files)."""

    segmented: int  # articles segmented (not found in the cache, which other workers fill meanwhile)
    per_article: np.ndarray  # int64: passages of each article
    doc_len: np.ndarray  # int32: terms of each passage
    texts: bytes  # the passages' texts, UTF-8, one after the other
    text_sizes: np.ndarray  # int64: bytes of each passage's text
    postings: int


@dataclass(frozen=True)
class KeyRange:
    """A range of term keys merged from every run (rows and postings local to the range)."""

    term_hash: np.ndarray  # uint64
    starts: np.ndarray  # int64: each row's first posting in the range
    first_seen: np.ndarray  # int64: each term's first position in the whole stream
    tfmax: np.ndarray  # uint16
    post_doc: np.ndarray  # int32
    post_tf: np.ndarray  # uint16
    range_rows: np.ndarray  # int64, rows local to the range
    range_tf: np.ndarray  # uint8 (rows x ranges of passages)
    range_dl: np.ndarray  # uint16


# --- in a worker --------------------------------------------------------------------------

_segmenter: Segmenter | None = None
_cache: SegmentCache | None = None
_items: list[tuple[str, Article]] = []  # the build's (key, article)s: a forked worker has them without a copy


def _start(settings: Settings, cache_path: str | None, items: list[tuple[str, Article]], parent: int = 0) -> None:
    global _segmenter, _cache, _items
    if parent:  # a worker process
        die_with_parent(parent)
    _segmenter = Segmenter.from_settings(settings)
    _cache = SegmentCache(Path(cache_path)) if cache_path else None
    _items = items


def _stop() -> None:
    global _segmenter, _cache, _items
    if _cache is not None:
        _cache.close()
    _segmenter, _cache, _items = None, None, []


def run_path(folder: str, batch: int, field: str) -> str:
    return os.path.join(folder, f"{batch:06d}.{field}.npy")


def segment_batch(folder: str, number: int, span: tuple[int, int]) -> BatchRun:
    """Batch ``number`` (the build's articles ``span``) segmented (cached articles read, new
    ones written to the cache) and its postings saved as a run sorted by term key."""
    assert _segmenter is not None, "not a build worker"
    batch = _items[span[0] : span[1]]
    done: dict[str, SegmentedArticle] = _cache.get_many([k for k, _ in batch]) if _cache else {}
    todo = [(k, a) for k, a in batch if k not in done]
    if todo:
        fresh = _segmenter.segment(todo)
        if _cache:
            _cache.put_many(fresh)
        done.update((item.key, item) for item in fresh)
    items = [done[k] for k, _ in batch]
    hashes = _concat([i.hashes for i in items], np.uint64)
    n_terms = _concat([i.n_terms for i in items], np.int32)
    order, sorted_hashes = stable_hash_order(hashes)
    tfs = _concat([i.counts for i in items], np.uint32)[order]
    docs = np.repeat(np.arange(len(n_terms), dtype=np.int32), n_terms)[order]
    fields = {
        "hash": sorted_hashes,
        "pos": order.astype(np.int64),
        "doc": docs,
        "tf": np.minimum(tfs, 65535).astype(np.uint16),
    }
    for field, array in fields.items():
        np.save(run_path(folder, number, field), array)
    texts = [t.encode("utf-8") for i in items for t in i.texts]
    return BatchRun(
        len(todo),
        np.array([len(i.texts) for i in items], dtype=np.int64),
        _concat([i.length for i in items], np.int32),
        b"".join(texts),
        np.array([len(t) for t in texts], dtype=np.int64),
        len(hashes),
    )


def merge_range(
    folder: str, offsets: list[tuple[int, int, int]], bounds: tuple[int, int | None], doc_len: np.ndarray
) -> KeyRange:
    """The term rows and postings of the keys in ``bounds`` ([low, high), high None: to the end)
    from every run; ``offsets``: each batch's first stream position, first passage and postings."""
    low, high = np.array([bounds[0]], dtype=np.uint64), bounds[1]
    pieces: dict[str, list[np.ndarray]] = {f: [] for f in RUN_FIELDS}
    for batch, (position, passage, postings) in enumerate(offsets):
        if not postings:
            continue
        keys = np.load(run_path(folder, batch, "hash"), mmap_mode="r")
        a = int(np.searchsorted(keys, low)[0])
        b = len(keys) if high is None else int(np.searchsorted(keys, np.array([high], dtype=np.uint64))[0])
        for field in RUN_FIELDS:
            run = keys if field == "hash" else np.load(run_path(folder, batch, field), mmap_mode="r")
            piece = np.array(run[a:b])
            if field == "pos":
                piece += position
            elif field == "doc":
                piece += passage
            pieces[field].append(piece)
    hashes = _concat(pieces["hash"], np.uint64)
    order = np.argsort(hashes, kind="stable")  # the runs are sorted: a merge; equal keys keep stream order
    sorted_hashes = hashes[order]
    starts = np.flatnonzero(np.r_[True, sorted_hashes[1:] != sorted_hashes[:-1]]) if len(order) else order
    post_doc = _concat(pieces["doc"], np.int32)[order]
    post_tf = _concat(pieces["tf"], np.uint16)[order]
    ptr = np.append(starts, len(order))
    rows = np.flatnonzero(np.diff(ptr) >= max(RANGE_MIN_DF, len(doc_len) // 64)).astype(np.int64)
    n_ranges = -(-len(doc_len) // RANGE_SIZE)
    tf_hi = np.zeros((len(rows), n_ranges), dtype=np.uint8)
    dl_lo = np.zeros((len(rows), n_ranges), dtype=np.uint16)
    for slot, row in enumerate(rows.tolist()):
        a, b = int(ptr[row]), int(ptr[row + 1])
        tf_hi[slot], dl_lo[slot] = range_bounds(post_doc[a:b], post_tf[a:b], doc_len)
    return KeyRange(
        sorted_hashes[starts],
        starts.astype(np.int64),
        _concat(pieces["pos"], np.int64)[order][starts],
        np.maximum.reduceat(post_tf, starts) if len(starts) else np.zeros(0, dtype=np.uint16),
        post_doc,
        post_tf,
        rows,
        tf_hi,
        dl_lo,
    )


def rank_terms(first_seen: np.ndarray) -> np.ndarray:
    """Each term's rank in order of first appearance (``first_seen``: its first stream position)."""
    ranks = np.empty(len(first_seen), dtype=np.int64)
    ranks[np.argsort(first_seen, kind="stable")] = np.arange(len(first_seen))
    return ranks


def _concat(parts: list[np.ndarray], dtype: type) -> np.ndarray:
    return np.concatenate(parts).astype(dtype, copy=False) if parts else np.zeros(0, dtype=dtype)


# --- in the main process --------------------------------------------------------------------


def key_bounds(count: int) -> list[tuple[int, int | None]]:
    """``count`` ranges of equal width over the 64-bit term keys."""
    edges = [(i << 64) // count for i in range(count)]
    return [(lo, hi) for lo, hi in zip(edges, [*edges[1:], None])]


def build_part_arrays(
    articles: list[Article],
    keys: list[str],
    settings: Settings,
    cache_path: Path | None,
    workers: int | None = None,
    progress: bool = False,
) -> tuple[dict[str, np.ndarray], bytes, list[int], int]:
    """``build_arrays(segment_articles(...))`` of ``articles`` (``keys``: their ``article_key``s),
    made in ``workers`` processes (``default_workers``); returns (arrays, texts, passages per
    article, articles segmented). The runs are written to a temporary folder next to the cache
    (``.tmp-runs-<time>-<pid>-<random>``, removed at the end or, after a kill, by the next build)."""
    workers = workers or default_workers(settings)
    if cache_path is not None:  # next to the cache, in the index folder (a killed build's runs are removed)
        remove_stale_temporaries(Path(cache_path).parent)
        stamp = f"{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}-{os.urandom(3).hex()}"
        runs = Path(cache_path).parent / f".tmp-runs-{stamp}"
        runs.mkdir()
    else:
        runs = Path(tempfile.mkdtemp(prefix="bot-runs-"))
    items = list(zip(keys, articles))
    total_chars = sum(len(a.text) for a in articles)
    pooled = workers > 1 and total_chars > POOL_MIN_CHARS
    size = max(1, min(100, len(items) // (workers * 4) or 1))  # small batches: no long tail
    batches = [(start, min(start + size, len(items))) for start in range(0, len(items), size)]
    chars = [sum(len(a.text) for a in articles[a:b]) for a, b in batches]
    bar = _progress(total_chars, progress)
    start_args = (settings, str(cache_path) if cache_path else None, items)
    try:
        if pooled:
            start_args = (*start_args, os.getpid())
            with ProcessPoolExecutor(max_workers=workers, initializer=_start, initargs=start_args) as pool:
                return _build(batches, chars, str(runs), pool, RANGES_PER_WORKER * workers, bar)
        _start(*start_args)
        try:
            return _build(batches, chars, str(runs), None, 1, bar)
        finally:
            _stop()
    finally:
        bar.close()
        shutil.rmtree(runs, ignore_errors=True)


def _build(
    batches: list[tuple[int, int]],
    chars: list[int],
    runs: str,
    pool: ProcessPoolExecutor | None,
    n_ranges: int,
    bar,
) -> tuple[dict[str, np.ndarray], bytes, list[int], int]:
    """Both steps (in ``pool``, or here): the batches' runs, then ``n_ranges`` key ranges merged."""

    def call(fn, *args) -> Future:
        if pool is not None:
            return pool.submit(fn, *args)
        future: Future = Future()
        future.set_result(fn(*args))
        return future

    started = time.perf_counter()
    done: list[BatchRun] = []
    for number, future in enumerate([call(segment_batch, runs, n, b) for n, b in enumerate(batches)]):
        done.append(future.result())
        bar.update(chars[number])
    segmented_at = time.perf_counter()
    doc_len = _concat([d.doc_len for d in done], np.int32)
    positions = np.cumsum([0] + [d.postings for d in done]).tolist()
    passages = np.cumsum([0] + [len(d.doc_len) for d in done]).tolist()
    offsets = [(p, q, d.postings) for p, q, d in zip(positions, passages, done)]
    merged = [f.result() for f in [call(merge_range, runs, offsets, b, doc_len) for b in key_bounds(n_ranges)]]
    log.info(
        "%d batches segmented in %.1f s, %d key ranges merged in %.1f s",
        len(batches),
        segmented_at - started,
        n_ranges,
        time.perf_counter() - segmented_at,
    )
    per_article = _concat([d.per_article for d in done], np.int64).tolist()
    term_order = call(rank_terms, _concat([m.first_seen for m in merged], np.int64))  # (a worker sorts)
    arrays = _join_ranges(merged, positions[-1], term_order.result())
    offsets_bytes = np.zeros(len(doc_len) + 1, dtype=np.int64)
    np.cumsum(_concat([d.text_sizes for d in done], np.int64), out=offsets_bytes[1:])
    passage_article = np.repeat(np.arange(len(per_article), dtype=np.int32), per_article)
    arrays.update(
        doc_len=doc_len,
        passage_article=passage_article,
        passage_position=(
            np.arange(len(doc_len), dtype=np.int64) - np.repeat(np.cumsum(per_article) - per_article, per_article)
        ).astype(np.int32),
        passage_offsets=offsets_bytes,
    )
    return arrays, b"".join(d.texts for d in done), per_article, sum(d.segmented for d in done)


def _join_ranges(merged: list[KeyRange], n_postings: int, term_order: np.ndarray) -> dict[str, np.ndarray]:
    """The part's term rows and postings: the key ranges one after the other, with offsets
    (no ``term_idf``: a version's idf is worked out over all its parts when it is written)."""
    post_starts = np.cumsum([0] + [len(m.post_doc) for m in merged])
    row_starts = np.cumsum([0] + [len(m.term_hash) for m in merged])
    term_ptr = np.append(_concat([m.starts + s for m, s in zip(merged, post_starts)], np.int64), n_postings)
    n_ranges = merged[0].range_tf.shape[1] if merged else 0
    return {
        "term_hash": _concat([m.term_hash for m in merged], np.uint64),
        "term_ptr": term_ptr.astype(np.int64),
        "term_order": term_order,
        "term_tfmax": _concat([m.tfmax for m in merged], np.uint16),
        "post_doc": _concat([m.post_doc for m in merged], np.int32),
        "post_tf": _concat([m.post_tf for m in merged], np.uint16),
        "range_rows": _concat([m.range_rows + r for m, r in zip(merged, row_starts)], np.int64),
        "range_tf": np.concatenate([m.range_tf for m in merged]) if merged else np.zeros((0, n_ranges), np.uint8),
        "range_dl": np.concatenate([m.range_dl for m in merged]) if merged else np.zeros((0, n_ranges), np.uint16),
    }
