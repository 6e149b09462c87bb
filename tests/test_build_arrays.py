"""The build's sort of postings by term hash is numpy's stable argsort, and the arrays are
those of the plain definition (a global stable argsort of the passages' term stream)."""

from __future__ import annotations

import numpy as np
import pytest

from bot.index.postings import postings_from_stream, stable_hash_order
from bot.search.bm25 import okapi_idf


def _streams(seed: int) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    vocabulary = rng.integers(0, 2**64, size=3000, dtype=np.uint64)
    repeats = rng.choice(vocabulary, size=40_000)  # zipf-like: many repeats of some hashes
    # distinct hashes that share their high bits (any shift), interleaved: the groups sorted again
    clashes = (np.uint64(0xABCDEF) << np.uint64(40)) | rng.integers(0, 8, size=5000, dtype=np.uint64)
    small = rng.integers(0, 5, size=200, dtype=np.uint64)  # high bits all zero
    top = np.full(50, 2**64 - 1, dtype=np.uint64)
    mixed = rng.permutation(np.concatenate([repeats, clashes, small, top]))
    return [mixed, repeats, clashes, small, np.zeros(0, dtype=np.uint64), np.array([7], dtype=np.uint64)]


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_stable_hash_order_equals_stable_argsort(seed: int) -> None:
    for hashes in _streams(seed):
        order, sorted_hashes = stable_hash_order(hashes)
        want = np.argsort(hashes, kind="stable")
        assert np.array_equal(order, want)
        assert np.array_equal(sorted_hashes, hashes[want])


def _reference(hashes: np.ndarray, tfs: np.ndarray, n_terms: np.ndarray, epsilon: float) -> dict[str, np.ndarray]:
    """The arrays by their definition: a global stable argsort, idf in order of first appearance."""
    docs = np.repeat(np.arange(len(n_terms), dtype=np.int32), n_terms)
    order = np.argsort(hashes, kind="stable")
    terms, first = [], {}
    for position, key in enumerate(hashes.tolist()):
        first.setdefault(key, position)
    terms = sorted(first)
    appearance = sorted(range(len(terms)), key=lambda row: first[terms[row]])
    df = np.array([int(np.count_nonzero(hashes == np.uint64(t))) for t in terms], dtype=np.int64)
    idf = np.empty(len(terms))
    idf[appearance] = okapi_idf(df[appearance], len(n_terms), epsilon)
    ptr = np.concatenate([[0], np.cumsum(df)])
    post_tf = np.minimum(tfs[order], 65535).astype(np.uint16)
    return {
        "term_hash": np.array(terms, dtype=np.uint64),
        "term_ptr": ptr,
        "term_idf": idf,
        "term_order": np.argsort(appearance),
        "post_doc": docs[order],
        "post_tf": post_tf,
        "term_tfmax": np.array([post_tf[a:b].max() for a, b in zip(ptr[:-1], ptr[1:])], dtype=np.uint16),
    }


@pytest.mark.parametrize("seed", [4, 5])
def test_postings_equal_the_global_stable_sort(seed: int) -> None:
    rng = np.random.default_rng(seed)
    vocabulary = np.concatenate([rng.integers(0, 2**64, size=400, dtype=np.uint64), np.arange(6, dtype=np.uint64)])
    n_terms = rng.integers(0, 30, size=300).astype(np.int32)
    hashes = np.concatenate([rng.choice(vocabulary, size=n, replace=False) for n in n_terms]).astype(np.uint64)
    tfs = rng.integers(1, 70_000, size=len(hashes)).astype(np.uint32)
    got = postings_from_stream(hashes, tfs, n_terms, 0.25)
    want = _reference(hashes, tfs, n_terms, 0.25)
    for key, array in want.items():
        assert got[key].dtype == array.dtype or key == "term_ptr", key
        assert np.array_equal(got[key], array), key
