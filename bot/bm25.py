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
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Iterator

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


def term_contributions(
    tf: np.ndarray, docs: np.ndarray, idf: float, norms: np.ndarray, k1: float
) -> np.ndarray:
    """One term's BM25Okapi score in each passage of its posting list."""
    tf = tf.astype(np.float64)
    return idf * (tf * (k1 + 1) / (tf + norms[docs]))


@dataclass(frozen=True)
class Postings:
    """One term's posting list: passage numbers (ascending) and term frequencies."""

    docs: np.ndarray
    tf: np.ndarray
    tf_max: int | None = None  # highest tf in the list, when known (tightens score bounds)
    # per range of ``range_size`` passages: an upper bound of tf (k1 + 1) / (tf + norm) over
    # the term's postings in that range (0 where it has none); see ``range_bounds``
    range_x: np.ndarray | None = None
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


def range_x(tf_hi: np.ndarray, dl_lo: np.ndarray, params: BM25Params, avgdl: float) -> np.ndarray:
    """Upper bounds of tf (k1 + 1) / (tf + norm) per range, from ``range_bounds``'s arrays."""
    k1, b = params.k1, params.b
    tf = tf_hi.astype(np.float64)
    x = tf * (k1 + 1) / (tf + k1 * (1 - b + b * dl_lo.astype(np.float64) / avgdl))
    x[tf_hi >= TF_CAP] = k1 + 1
    return x


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


class Scratch:
    """Reusable per-index work arrays (one score and one mark slot per passage).

    Kept zeroed between queries: each query resets only what it wrote. One query at a
    time uses it; a concurrent query gets its own fresh arrays (see ``acquire``).
    """

    def __init__(self, n_passages: int):
        self.n = n_passages
        self.scores = np.zeros(n_passages, dtype=np.float64)
        self.mark = np.zeros(n_passages, dtype=np.bool_)
        self.norm_min: float | None = None  # smallest length norm, for score bounds
        import threading

        self._lock = threading.Lock()

    @contextmanager
    def acquire(self) -> Iterator[Scratch]:
        if self._lock.acquire(blocking=False):
            try:
                yield self
            finally:
                self._lock.release()
        else:
            yield Scratch(self.n)


def _union(parts: list[np.ndarray], scratch: Scratch) -> np.ndarray:
    """Sorted distinct passage numbers of several posting lists."""
    if len(parts) == 1:
        return np.asarray(parts[0], dtype=np.int64)
    total = sum(len(p) for p in parts)
    if total * 16 < scratch.n:  # small: sort the few numbers
        return np.unique(np.concatenate(parts)).astype(np.int64)
    for docs in parts:
        scratch.mark[docs] = True
    found = np.flatnonzero(scratch.mark)
    scratch.mark[found] = False
    return found


def _scores_at(
    candidates: np.ndarray,
    postings: list[Postings],
    idf: list[float],
    weights: list[float],
    norms: np.ndarray,
    k1: float,
    scratch: Scratch,
) -> np.ndarray:
    """Exact scores of the candidate passages, each term added in query order.

    A short posting list is added in full; a long one is searched for the candidates
    only. Either way each passage's sum runs in query-term order, as in rank-bm25.
    """
    acc = scratch.scores
    written: list[np.ndarray] = []
    n_cand = len(candidates)
    for plist, term_idf, weight in zip(postings, idf, weights):
        docs = plist.docs
        if len(docs) <= 8 * n_cand:
            tf = plist.tf
        else:
            pos = np.searchsorted(docs, candidates)
            pos[pos == len(docs)] = 0
            hit = docs[pos] == candidates
            pos = pos[hit]
            docs, tf = docs[pos], plist.tf[pos]
        contrib = term_contributions(tf, docs, term_idf, norms, k1)
        if weight != 1.0:
            contrib = contrib * weight
        acc[docs] += contrib
        written.append(docs)
    scores = acc[candidates]
    for docs in written:
        acc[docs] = 0.0
    return scores


def _partial(candidates: np.ndarray, chosen: list[int], plists: list[Postings], idf: list[float],
             weights: list[float], norms: np.ndarray, k1: float, scratch: Scratch) -> np.ndarray:
    """Sums over some terms (whose passages are all among ``candidates``), for pruning only."""
    acc = scratch.scores
    for i in chosen:
        plist = plists[i]
        contrib = term_contributions(plist.tf, plist.docs, idf[i], norms, k1)
        acc[plist.docs] += contrib * weights[i] if weights[i] != 1.0 else contrib
    found = acc[candidates]
    acc[candidates] = 0.0
    return found


def best_passages(
    postings: list[Postings | None],
    idf: list[float],
    weights: list[float],
    norms: np.ndarray,
    k1: float,
    k: int,
    scratch: Scratch | None = None,
    seed_postings: int = 4_000,
) -> tuple[list[tuple[int, float]], int]:
    """The k best passages with a positive score, exactly as ``top_k(*score_touched(...))``.

    Returns (best (passage, score) pairs, a lower bound of how many passages score above 0).
    Passages that cannot reach the k-th best score are never fully scored (MaxScore):

    1. the passages of the rarest terms are ranked by those terms; the best few are scored
       exactly, which gives a threshold (the k-th best score found so far);
    2. the terms whose summed upper bounds stay below it cannot lift a passage into the top k
       on their own: only passages holding one of the other terms are candidates, and those
       whose sum over these terms plus the others' bounds stays below the threshold drop out;
    3. the rest are scored exactly, every term in query order (rank-bm25's arithmetic).
    """
    terms = [
        (p, float(f), float(w))
        for p, f, w in zip(postings, idf, weights)
        if p is not None and len(p.docs) > 0
    ]
    if k <= 0 or not terms:
        return [], 0
    scratch = scratch or Scratch(len(norms))
    plists = [t[0] for t in terms]
    t_idf = [t[1] for t in terms]
    t_w = [t[2] for t in terms]
    df = np.array([len(p.docs) for p in plists], dtype=np.int64)
    # a term's contribution is idf * w * X, X = tf (k1 + 1) / (tf + norm) <= T (k1 + 1) / (T + min norm)
    # with T the term's highest tf (X < k1 + 1 when T is unknown)
    if scratch.norm_min is None:
        scratch.norm_min = float(np.min(norms)) if len(norms) else 0.0
    top_x = np.array(
        [(k1 + 1) * p.tf_max / (p.tf_max + scratch.norm_min) if p.tf_max else k1 + 1 for p in plists]
    )
    bound = np.maximum(np.array(t_idf) * np.array(t_w) * top_x, 0.0) * (1 + 1e-9) + 1e-12
    every = list(range(len(terms)))
    with scratch.acquire() as work:
        # 1. a threshold from the best passages of the rarest terms
        rare = [int(i) for i in np.argsort(df, kind="stable")]
        seed, total = [], 0
        for i in rare:
            if seed and total + df[i] > seed_postings and total >= 4 * k:
                break
            seed.append(i)
            total += int(df[i])
        pool = _union([plists[i].docs for i in seed], work)
        theta = 0.0
        if len(pool) > 4 * k:
            rough = _partial(pool, seed, plists, t_idf, t_w, norms, k1, work)
            pool = np.sort(pool[np.argpartition(-rough, 4 * k)[: 4 * k]])
        exact = _scores_at(pool, plists, t_idf, t_w, norms, k1, work)
        positive = exact[exact > 0]
        if len(positive) >= k:
            theta = float(np.partition(positive, len(positive) - k)[len(positive) - k])
        pruned, theta = _prune_ranges(plists, t_idf, t_w, norms, k1, theta, k, work)
        if pruned is not None:
            keep = [i for i, p in enumerate(pruned) if len(p.docs)]
            plists = [pruned[i] for i in keep]
            t_idf = [t_idf[i] for i in keep]
            t_w = [t_w[i] for i in keep]
            bound = bound[keep]
            every = list(range(len(plists)))
        # 2. which terms can bring a passage into the top k, and which passages survive
        by_bound = np.argsort(bound, kind="stable")
        droppable = int(np.searchsorted(np.cumsum(bound[by_bound]), theta, side="left")) if theta > 0 else 0
        minor = sorted(int(i) for i in by_bound[:droppable])
        essential = sorted(set(every) - set(minor))
        if sum(len(plists[i].docs) for i in essential) * 4 > len(norms):
            # most passages are candidates: add every term into the accumulator once
            candidates, scores = _dense_scores(plists, t_idf, t_w, norms, k1, work)
            positive = scores > 0
            return top_k(candidates[positive], scores[positive], k), int(positive.sum())
        candidates = _union([plists[i].docs for i in essential], work)
        if minor:
            rest = float(bound[minor].sum())
            partial = _partial(candidates, essential, plists, t_idf, t_w, norms, k1, work)
            candidates = candidates[(partial + rest) * (1 + 1e-9) + 1e-12 >= theta]
        # 3. exact scores
        scores = _scores_at(candidates, plists, t_idf, t_w, norms, k1, work)
    positive = scores > 0
    docs, scores = candidates[positive], scores[positive]
    return top_k(docs, scores, k), len(docs)


def _dense_scores(
    plists: list[Postings], idf: list[float], weights: list[float], norms: np.ndarray, k1: float, scratch: Scratch
) -> tuple[np.ndarray, np.ndarray]:
    """Exact scores of every passage holding a term (non-zero only), terms added in query order."""
    acc = scratch.scores
    for plist, term_idf, weight in zip(plists, idf, weights):
        contrib = term_contributions(plist.tf, plist.docs, term_idf, norms, k1)
        acc[plist.docs] += contrib * weight if weight != 1.0 else contrib
    found = np.flatnonzero(acc)
    scores = acc[found]
    acc[found] = 0.0
    return found, scores


def _in_ranges(plist: Postings, ranges: np.ndarray, size: int) -> Postings:
    """The postings of ``plist`` in the given ranges (ascending) of ``size`` passages."""
    lo = np.searchsorted(plist.docs, ranges * size)
    hi = np.searchsorted(plist.docs, (ranges + 1) * size)
    lengths = hi - lo
    total = int(lengths.sum())
    if total == len(plist.docs):
        return plist
    take = np.repeat(lo - (np.cumsum(lengths) - lengths), lengths) + np.arange(total)
    return Postings(plist.docs[take], plist.tf[take], plist.tf_max)


def _prune_ranges(
    plists: list[Postings], t_idf: list[float], t_w: list[float], norms: np.ndarray, k1: float, theta: float,
    k: int, scratch: Scratch, probe: int = 16,
) -> tuple[list[Postings] | None, float]:
    """The posting lists cut to the ranges of passages that may still reach the threshold.

    A range's bound sums, over the terms, the term's bound in that range (stored for long
    lists, the exact best contribution for short ones). The ``probe`` ranges with the highest
    bounds are scored exactly first, which raises the threshold ``theta`` (the k-th best score
    found). A passage in a range whose bound stays below it cannot enter the top k.
    Returns (the cut lists, or None when no term has range bounds or little is cut; theta).
    """
    size = next((p.range_size for p in plists if p.range_x is not None), 0)
    if not size:
        return None, theta
    n_ranges = -(-len(norms) // size)
    upper = np.zeros(n_ranges, dtype=np.float64)
    for plist, term_idf, weight in zip(plists, t_idf, t_w):
        scale = term_idf * weight
        if scale <= 0:
            continue
        if plist.range_x is not None and plist.range_size == size:
            upper += scale * plist.range_x
        else:
            r = plist.docs // size
            starts = np.flatnonzero(np.r_[True, r[1:] != r[:-1]])
            best = np.maximum.reduceat(term_contributions(plist.tf, plist.docs, term_idf, norms, k1), starts)
            upper[r[starts]] += best * weight
    if n_ranges > probe:
        best_ranges = np.sort(np.argpartition(-upper, probe)[:probe])
        sample = [_in_ranges(p, best_ranges, size) for p in plists]
        pool = _union([p.docs for p in sample if len(p.docs)] or [np.zeros(0, dtype=np.int64)], scratch)
        exact = _partial(pool, list(range(len(sample))), sample, t_idf, t_w, norms, k1, scratch)
        positive = exact[exact > 0]
        if len(positive) >= k:
            theta = max(theta, float(np.partition(positive, len(positive) - k)[len(positive) - k]))
    if theta <= 0:
        return None, theta
    alive = np.flatnonzero(upper * (1 + 1e-9) + 1e-12 >= theta)
    if len(alive) * 10 > n_ranges * 9:
        return None, theta  # little to gain
    return [_in_ranges(p, alive, size) for p in plists], theta
