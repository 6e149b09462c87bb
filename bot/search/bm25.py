"""BM25 scoring over posting lists, identical to rank-bm25's BM25Okapi.

Plain numpy arrays in and out. Only the passages that contain a query term are scored,
and the top k are chosen among those without sorting everything.

The arithmetic follows rank-bm25 step by step so that the scores are the same to the bit:
idf = log(N - df + 0.5) - log(df + 0.5), negative idf replaced by epsilon times the mean
idf over the vocabulary (summed in order of first appearance), and for each query term in
order: score += idf * (tf * (k1 + 1) / (tf + k1 * (1 - b + b * dl / avgdl))).
"""

from __future__ import annotations

import math
import os
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np


@dataclass(frozen=True)
class BM25Params:
    k1: float = 1.5
    b: float = 0.75
    epsilon: float = 0.25


def okapi_idf(df: np.ndarray, n_docs: int, epsilon: float) -> np.ndarray:
    """BM25Okapi idf for each term, ``df`` in first-appearance order (as rank-bm25 sums it)."""
    df = np.asarray(df, dtype=np.int64)
    if df.size == 0:
        return np.zeros(0, dtype=np.float64)
    values, inverse = np.unique(df, return_inverse=True)
    logs = np.array(
        [math.log(n_docs - int(v) + 0.5) - math.log(int(v) + 0.5) for v in values],
        dtype=np.float64,
    )
    idf = logs[inverse]
    average = float(np.cumsum(idf)[-1]) / len(idf)  # sequential sum, like rank-bm25
    idf[idf < 0] = epsilon * average
    return idf


def length_norms(doc_len: np.ndarray, params: BM25Params) -> np.ndarray:
    """k1 * (1 - b + b * dl / avgdl) per passage, computed as rank-bm25 does."""
    doc_len = np.asarray(doc_len, dtype=np.int64)
    if doc_len.size == 0:
        return np.zeros(0, dtype=np.float64)
    avgdl = int(doc_len.sum()) / len(doc_len)
    return params.k1 * (1 - params.b + params.b * doc_len / avgdl)


def term_contributions(tf: np.ndarray, docs: np.ndarray, idf: float, norms: np.ndarray, k1: float) -> np.ndarray:
    """One term's BM25Okapi score in each passage of its posting list."""
    tf = tf.astype(np.float64)
    return idf * (tf * (k1 + 1) / (tf + norms[docs]))


@dataclass(frozen=True)
class PostingSource:
    """The arrays an index's posting lists are slices of (scored in place, never copied)."""

    post_doc: np.ndarray  # int32, every term's passages one list after another
    post_tf: np.ndarray  # uint16
    range_tf: np.ndarray  # uint8 (terms with range bounds) x (ranges)
    range_dl: np.ndarray  # uint16, same shape
    range_size: int


@dataclass(frozen=True)
class Postings:
    """One term's posting list: passage numbers (ascending) and term frequencies."""

    docs: np.ndarray
    tf: np.ndarray
    tf_max: int | None = None  # highest tf in the list, when known (tightens score bounds)
    # per range of ``range_size`` passages: the term's highest tf (uint8, capped) and shortest
    # passage (uint16) there, tf 0 where it has none (see ``range_bounds``)
    range_tf: np.ndarray | None = None
    range_dl: np.ndarray | None = None
    range_size: int = 0


RANGE_SIZE = 64  # passages per range of the range bounds
TF_CAP = 255  # range bounds keep tf up to this (a higher tf bounds X by k1 + 1)
DL_CAP = 65535


def range_bounds(
    docs: np.ndarray, tf: np.ndarray, doc_len: np.ndarray, size: int = RANGE_SIZE
) -> tuple[np.ndarray, np.ndarray]:
    """A term's highest tf (uint8, capped) and shortest passage (uint16) in each range of
    ``size`` passages (tf 0 where the term is absent). Independent of k1, b and avgdl."""
    n_ranges = -(-len(doc_len) // size)
    tf_hi = np.zeros(n_ranges, dtype=np.uint8)
    dl_lo = np.full(n_ranges, DL_CAP, dtype=np.uint16)
    if len(docs):
        r = np.asarray(docs) // size
        starts = np.flatnonzero(np.r_[True, r[1:] != r[:-1]])
        tf_hi[r[starts]] = np.maximum.reduceat(np.minimum(tf, TF_CAP), starts)
        dl_lo[r[starts]] = np.minimum.reduceat(np.minimum(doc_len[docs], DL_CAP), starts)
    return tf_hi, dl_lo


def score_touched(
    postings: list[Postings | None],
    idf: list[float],
    weights: list[float],
    norms: np.ndarray,
    k1: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Scores of every passage that holds at least one query term.

    Returns (passage numbers ascending, scores). Terms are added in query order, each
    term's score times its weight (weight 1 leaves it exactly as rank-bm25's).
    """
    doc_parts: list[np.ndarray] = []
    score_parts: list[np.ndarray] = []
    for plist, term_idf, weight in zip(postings, idf, weights):
        if plist is None or len(plist.docs) == 0:
            continue
        contrib = term_contributions(plist.tf, plist.docs, term_idf, norms, k1)
        if weight != 1.0:
            contrib = contrib * weight
        doc_parts.append(plist.docs)
        score_parts.append(contrib)
    if not doc_parts:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float64)
    docs = np.concatenate(doc_parts)
    contribs = np.concatenate(score_parts)
    touched, inverse = np.unique(docs, return_inverse=True)
    # bincount adds in input order, so each passage's sum runs in query-term order
    scores = np.bincount(inverse, weights=contribs, minlength=len(touched))
    return touched, scores


def top_k(docs: np.ndarray, scores: np.ndarray, k: int) -> list[tuple[int, float]]:
    """The k best (passage, score) pairs: highest score first, lower passage number on ties."""
    if k <= 0 or len(docs) == 0:
        return []
    if len(docs) > k:
        # everything scoring at least the k-th best score, so ties at the border are kept
        kth = np.partition(scores, len(scores) - k)[len(scores) - k]
        keep = scores >= kth
        docs, scores = docs[keep], scores[keep]
    order = np.lexsort((docs, -scores))[:k]
    return [(int(docs[i]), float(scores[i])) for i in order]


SEED_POSTINGS = 64  # postings of the rarest terms scored first for a starting threshold (bench: 16-64 best)
SPLIT_FROM = 1 << 18  # passages from which a search runs in two threads, each over half the passages


def best_passages(
    postings: list[Postings | None],
    idf: list[float],
    weights: list[float],
    norms: np.ndarray,
    k1: float,
    k: int,
    b: float = 0.75,
    avgdl: float = 0.0,
    norm_min: float | None = None,
    seed_postings: int = SEED_POSTINGS,
    split_from: int = SPLIT_FROM,
) -> tuple[list[tuple[int, float]], int]:
    """The k best passages with a positive score, exactly as ``top_k(*score_touched(...))``.

    Returns (best (passage, score) pairs, a lower bound of how many passages score above 0).
    Passages that cannot reach the k-th best score are never fully scored (MaxScore, with
    per-range bounds where the postings carry them; see ``bm25_kernel``). ``b`` and ``avgdl``
    are the ones ``norms`` were made with (needed for the range bounds); ``norm_min`` is
    ``norms.min()`` when the caller keeps it. From ``split_from`` passages on (and with two
    cores), each half of the passages is searched in its own thread.
    """
    terms = [(p, float(f), float(w)) for p, f, w in zip(postings, idf, weights) if p is not None and len(p.docs)]
    if k <= 0 or not terms or len(norms) == 0:
        return [], 0
    source, starts, ranges = _posting_arrays([p for p, _, _ in terms])
    rtf, rdl, rslot, rsize = ranges
    return _top(
        source,
        starts,
        (rtf, rdl, rslot, rsize),
        np.array([t[1] for t in terms]),
        np.array([t[2] for t in terms]),
        np.array([float(p.tf_max or 0) for p, _, _ in terms]),
        norms,
        k1,
        k,
        b,
        avgdl,
        norm_min,
        seed_postings,
        split_from,
    )


def best_in_source(
    source: PostingSource,
    starts: np.ndarray,
    ends: np.ndarray,
    range_slots: np.ndarray,
    idf: np.ndarray,
    weights: np.ndarray,
    tf_max: np.ndarray,
    norms: np.ndarray,
    k1: float,
    k: int,
    b: float,
    avgdl: float,
    norm_min: float | None = None,
) -> tuple[list[tuple[int, float]], int]:
    """``best_passages`` for terms given as rows of one index's arrays: each term's postings are
    source.post_doc[starts[i]:ends[i]], its range bounds row range_slots[i] (-1: none)."""
    if k <= 0 or len(starts) == 0 or len(norms) == 0:
        return [], 0
    slots = np.asarray(range_slots, dtype=np.int64)
    ranged = source.range_size > 0 and bool((slots >= 0).any())
    rtf, rdl = (source.range_tf, source.range_dl) if ranged else _NO_RANGES
    return _top(
        (_readonly(source.post_doc), _readonly(source.post_tf)),
        (np.asarray(starts, dtype=np.int64), np.asarray(ends, dtype=np.int64)),
        (
            _readonly(rtf),
            _readonly(rdl),
            slots if ranged else np.full(len(slots), -1, dtype=np.int64),
            source.range_size if ranged else 0,
        ),
        np.asarray(idf, dtype=np.float64),
        np.asarray(weights, dtype=np.float64),
        np.asarray(tf_max, dtype=np.float64),
        norms,
        k1,
        k,
        b,
        avgdl,
        norm_min,
        SEED_POSTINGS,
        SPLIT_FROM,
    )


_compiler: subprocess.Popen | None = None  # a process compiling the scorer into numba's cache
_compiler_lock = threading.Lock()


def compile_scorer(wait: bool = True) -> None:
    """Have the compiled scorer ready before the first question: loaded from numba's cache, or
    compiled (about 10-15 s, the first time after installing). ``wait=False``: when it is not
    in the cache, a separate process compiles and caches it, and questions are answered
    meanwhile by ``_top_numpy`` (the same results, slower on large indexes)."""
    global _compiler
    if not wait and not _scorer_cached():
        with _compiler_lock:
            if _compiler is None:
                _compiler = subprocess.Popen(
                    [sys.executable, "-c", "from bot.search.bm25 import compile_scorer; compile_scorer()"],
                    cwd=Path(__file__).resolve().parents[2],
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                    start_new_session=True,  # it finishes (and caches) even when this process ends first
                )
        return
    one = np.ones(1)
    source = PostingSource(np.zeros(1, dtype=np.int32), np.ones(1, dtype=np.uint16), *_NO_RANGES, 0)
    best_in_source(
        source,
        np.zeros(1, dtype=np.int64),
        np.ones(1, dtype=np.int64),
        np.full(1, -1),
        one,
        one,
        one,
        one,
        1.2,
        1,
        0.75,
        1.0,
    )


def _scorer_cached() -> bool:
    """Whether numba's cache holds the compiled scorer for the current kernel source (True
    when that cannot be told: the scorer is then loaded or compiled in the foreground)."""
    from bot.search import kernel as bm25_kernel

    try:
        return bool(bm25_kernel.top_passages._cache._cache_file._load_index())  # type: ignore[attr-defined]
    except Exception:  # noqa: BLE001 - numba's cache internals differ: assume cached
        return True


def _compiling() -> bool:
    """Whether a separate process is still compiling the scorer."""
    return _compiler is not None and _compiler.poll() is None


def _top_numpy(source, starts, idf, weights, norms, k1, k) -> tuple[list[tuple[int, float]], int]:
    """``_top`` without the compiled scorer: every posting scored (``score_touched``), the k
    best positive scores kept; the same passages and scores, and the exact count of
    passages scoring above 0."""
    post_doc, post_tf = source
    plists: list[Postings | None] = [
        Postings(post_doc[a:b], post_tf[a:b]) for a, b in zip(starts[0].tolist(), starts[1].tolist())
    ]
    docs, scores = score_touched(plists, idf.tolist(), weights.tolist(), norms, float(k1))
    positive = scores > 0
    return top_k(docs[positive], scores[positive], int(k)), int(positive.sum())


def _top(source, starts, ranges, idf, weights, tf_max, norms, k1, k, b, avgdl, norm_min, seed_postings, split_from):
    """Run the compiled scorer (``bm25_kernel.top_passages``), over two halves of the passages
    in two threads when there are ``split_from`` passages or more (it releases the GIL)."""
    from bot.search import kernel as bm25_kernel

    if _compiling():
        return _top_numpy(source, starts, idf, weights, norms, k1, k)
    rtf, rdl, rslot, rsize = ranges
    if rsize and avgdl <= 0:
        rsize = 0  # range bounds need the average length the norms were made with
    args = (
        source[0],
        source[1],
        starts[0],
        starts[1],
        idf,
        weights,
        tf_max,
        rslot,
        rtf,
        rdl,
        rsize,
        norms,
        float(np.min(norms)) if norm_min is None else norm_min,
        float(k1),
        float(b),
        float(avgdl),
        int(k),
        int(seed_postings),
    )
    windows = -(-len(norms) // bm25_kernel.WINDOW)
    if len(norms) < split_from or windows < 2 or _cores() < 2:
        docs, scores, found = bm25_kernel.top_passages(*args)
    else:
        half = windows // 2
        other = _second_thread().submit(bm25_kernel.top_passages, *args, half, windows)
        docs, scores, found = bm25_kernel.top_passages(*args, 0, half)
        docs2, scores2, found2 = other.result()
        docs, scores = np.concatenate([docs, docs2]), np.concatenate([scores, scores2])
        order = np.lexsort((docs, -scores))[:k]  # highest score first, lower passage on ties
        docs, scores, found = docs[order], scores[order], found + found2
    return [(int(d), float(s)) for d, s in zip(docs.tolist(), scores.tolist())], int(found)


@cache
def _cores() -> int:
    """CPU cores this process may run on (asked once, not on every search)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


@cache
def _second_thread() -> ThreadPoolExecutor:
    """The one extra thread that searches the second half of a large index's passages."""
    return ThreadPoolExecutor(max_workers=1, thread_name_prefix="bm25-half")


_NO_RANGES = (np.zeros((0, 0), dtype=np.uint8), np.zeros((0, 0), dtype=np.uint16))


def _posting_arrays(plists: list[Postings]):
    """((post_doc, post_tf), (starts, ends), (range_tf, range_dl, range_slot, range_size)) for
    the kernel: the lists' arrays one after another (index searches use ``best_in_source``,
    which reads the index's own arrays in place)."""
    lengths = np.array([len(p.docs) for p in plists], dtype=np.int64)
    ends = np.cumsum(lengths)
    docs = _readonly(np.concatenate([np.asarray(p.docs) for p in plists]).astype(np.int32))
    tfs = _readonly(np.concatenate([np.asarray(p.tf) for p in plists]).astype(np.uint16))
    sizes = {p.range_size for p in plists if p.range_tf is not None}
    slots = np.full(len(plists), -1, dtype=np.int64)
    rtf, rdl, size = _NO_RANGES[0], _NO_RANGES[1], 0
    if len(sizes) == 1:
        size = sizes.pop()
        ranged = [i for i, p in enumerate(plists) if p.range_tf is not None]
        rtf = np.stack([np.asarray(plists[i].range_tf, dtype=np.uint8) for i in ranged])
        rdl = np.stack([np.asarray(plists[i].range_dl, dtype=np.uint16) for i in ranged])
        slots[ranged] = np.arange(len(ranged))
    return (docs, tfs), (ends - lengths, ends), (_readonly(rtf), _readonly(rdl), slots, size)


def _readonly(array: np.ndarray) -> np.ndarray:
    """A read-only plain ndarray view (one compiled kernel serves memory maps and copies)."""
    view = np.asarray(array).view(np.ndarray)
    view.flags.writeable = False
    return view
