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
from dataclasses import dataclass

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
