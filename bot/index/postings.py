"""The index arrays of a part: term rows (sorted hash keys), posting lists, range bounds,
passage lengths and texts, built from segmented articles with numpy only."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np

from bot.index.segmenter import SegmentedArticle
from bot.search.bm25 import RANGE_SIZE, okapi_idf, range_bounds

RANGE_MIN_DF = 2048  # terms in at least this many passages (and 1/64 of them) get range bounds


def build_arrays(segmented: list[SegmentedArticle], epsilon: float) -> tuple[dict[str, np.ndarray], bytes, list[int]]:
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
