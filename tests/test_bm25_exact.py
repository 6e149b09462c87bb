"""The fast BM25 path gives rank-bm25 BM25Okapi's scores and top-k order, bit for bit."""

from __future__ import annotations

import random

import numpy as np
import pytest
from rank_bm25 import BM25Okapi

from bot.index.keys import term_hash
from bot.index.postings import build_arrays
from bot.index.segmenter import SegmentedArticle, pack_article
from bot.search.bm25 import (
    BM25Params,
    Postings,
    _posting_arrays,
    _top_numpy,
    best_passages,
    length_norms,
    range_bounds,
    score_touched,
    top_k,
)


def _index(corpus: list[list[str]], epsilon: float = 0.25):
    """Our arrays for a token corpus (one passage per article)."""
    from collections import Counter

    items = []
    for i, tokens in enumerate(corpus):
        counts = Counter(tokens)
        items.append(pack_article(str(i), [" ".join(tokens)], [list(counts.items())], [len(tokens)]))
    arrays, _, _ = build_arrays(items, epsilon)
    return arrays


def _query_inputs(arrays, terms: list[str], rng_bound: bool = True, ranges: tuple | None = None):
    """Postings and idf of the terms; ``ranges`` = (size, params, rng): some terms get range bounds."""
    hashes = arrays["term_hash"]
    postings, idf = [], []
    for term in terms:
        key = np.uint64(term_hash(term))
        row = int(np.searchsorted(hashes, key))
        if row < len(hashes) and hashes[row] == key:
            a, b = int(arrays["term_ptr"][row]), int(arrays["term_ptr"][row + 1])
            tf_max = int(arrays["term_tfmax"][row]) if rng_bound else None
            plist = Postings(arrays["post_doc"][a:b], arrays["post_tf"][a:b], tf_max)
            if ranges and ranges[2].random() < 0.7:
                size, params, _ = ranges
                doc_len = arrays["doc_len"]
                tf_hi, dl_lo = range_bounds(plist.docs, plist.tf, doc_len, size)
                plist = Postings(plist.docs, plist.tf, tf_max, tf_hi, dl_lo, size)
            postings.append(plist)
            idf.append(float(arrays["term_idf"][row]))
        else:
            postings.append(None)
            idf.append(0.0)
    return postings, idf


def _reference(bm25: BM25Okapi, terms: list[str], weights: list[float]) -> np.ndarray:
    total = np.zeros(bm25.corpus_size)
    for term, weight in zip(terms, weights):
        total += bm25.get_scores([term]) * weight
    return total


def _random_corpus(rng: random.Random, n_docs: int, vocab: int, common: int) -> list[list[str]]:
    words = [f"w{i}" for i in range(vocab)]
    corpus = []
    for _ in range(n_docs):
        length = rng.randint(1, 40)
        doc = [rng.choice(words[:common]) if rng.random() < 0.5 else rng.choice(words) for _ in range(length)]
        corpus.append(doc)
    return corpus


@pytest.mark.parametrize("seed", range(12))
def test_scores_and_top_k_equal_rank_bm25(seed: int) -> None:
    rng = random.Random(seed)
    corpus = _random_corpus(rng, rng.choice([3, 20, 300, 2000]), rng.choice([8, 50, 400]), 4)
    params = BM25Params(epsilon=rng.choice([0.25, 0.5]))
    bm25 = BM25Okapi(corpus, k1=params.k1, b=params.b, epsilon=params.epsilon)
    arrays = _index(corpus, params.epsilon)
    norms = length_norms(arrays["doc_len"], params)
    # common terms (negative idf, floored), duplicates, unknown terms, weights
    for _ in range(15):
        n_terms = rng.randint(1, 12)
        terms = [rng.choice([f"w{rng.randrange(4)}", f"w{rng.randrange(500)}", "absent"]) for _ in range(n_terms)]
        if rng.random() < 0.5:
            terms += terms[: rng.randint(1, len(terms))]
        weights = [rng.choice([1.0, 1.0, 0.3, 0.0]) for _ in terms]
        expected = _reference(bm25, terms, weights)
        ranges = (rng.choice([1, 3, 16, 64]), params, rng) if rng.random() < 0.6 else None
        postings, idf = _query_inputs(arrays, terms, rng.random() < 0.7, ranges)
        docs, scores = score_touched(postings, idf, weights, norms, params.k1)
        assert np.array_equal(scores, expected[docs])  # bit for bit
        untouched = np.setdiff1d(np.arange(len(corpus)), docs)
        assert not expected[untouched].any()
        k = rng.choice([1, 3, 10, 40])
        positive = expected > 0
        ref_docs = np.flatnonzero(positive)
        ref_order = sorted(ref_docs, key=lambda d: (-expected[d], d))[:k]
        avgdl = int(arrays["doc_len"].sum()) / len(arrays["doc_len"])
        best, touched = best_passages(
            postings,
            idf,
            weights,
            norms,
            params.k1,
            k,
            b=params.b,
            avgdl=avgdl,
            seed_postings=rng.choice([0, 1, 50, 20_000]),
        )
        assert [d for d, _ in best] == [int(d) for d in ref_order]
        assert [s for _, s in best] == [float(expected[d]) for d in ref_order]
        assert touched <= int(positive.sum())
        assert top_k(docs[scores > 0], scores[scores > 0], k) == best


@pytest.mark.parametrize("seed", range(6))
def test_the_scorer_used_while_compiling_gives_the_same_top_k(seed: int) -> None:
    """``_top_numpy`` (answers while the compiled scorer is built on a fresh install) returns
    the compiled scorer's passages and scores, which are rank-bm25's."""
    rng = random.Random(seed)
    corpus = _random_corpus(rng, rng.choice([20, 300, 3000]), rng.choice([50, 400]), 4)
    params = BM25Params()
    bm25 = BM25Okapi(corpus, k1=params.k1, b=params.b, epsilon=params.epsilon)
    arrays = _index(corpus, params.epsilon)
    norms = length_norms(arrays["doc_len"], params)
    for _ in range(10):
        terms = [rng.choice([f"w{rng.randrange(4)}", f"w{rng.randrange(400)}"]) for _ in range(rng.randint(1, 8))]
        weights = [rng.choice([1.0, 0.3, 0.5]) for _ in terms]
        postings, idf = _query_inputs(arrays, terms)
        known = [i for i, p in enumerate(postings) if p is not None and len(p.docs)]
        if not known:
            continue
        k = rng.choice([1, 3, 10, 40])
        compiled, _ = best_passages(postings, idf, weights, norms, params.k1, k)
        source, starts, _ = _posting_arrays([postings[i] for i in known])
        chosen = np.array([idf[i] for i in known]), np.array([weights[i] for i in known])
        plain, positive = _top_numpy(source, starts, *chosen, norms, params.k1, k)
        assert plain == compiled
        expected = _reference(bm25, terms, weights)
        assert positive == int((expected > 0).sum())
        assert [s for _, s in plain] == [float(expected[d]) for d, _ in plain]


def test_negative_idf_terms_are_floored_like_rank_bm25() -> None:
    corpus = [["a", "b"], ["a", "c"], ["a", "d"], ["a", "b", "e"]]
    bm25 = BM25Okapi(corpus)
    arrays = _index(corpus)
    for term in "abcde":
        row = int(np.searchsorted(arrays["term_hash"], np.uint64(term_hash(term))))
        assert float(arrays["term_idf"][row]) == bm25.idf[term]
    assert bm25.idf["a"] > 0  # floored from a negative value


def test_cache_round_trip() -> None:
    item = pack_article("k", ["một", "hai"], [[("a", 2), ("b", 1)], [("c", 1)]], [3, 1])
    back = SegmentedArticle.from_bytes("k", item.to_bytes())
    assert back.texts == item.texts
    for name in ("hashes", "counts", "n_terms", "length"):
        assert np.array_equal(getattr(back, name), getattr(item, name))
    with pytest.raises(ValueError):
        SegmentedArticle.from_bytes("k", item.to_bytes()[:-3])


@pytest.mark.parametrize("seed", range(3))
def test_top_k_over_many_windows_with_tied_copies(seed: int) -> None:
    """Passages in several windows of the compiled scorer, each passage present four times
    (equal scores everywhere): the top k and their order are still rank-bm25's, also when
    the two halves of the passages are searched in two threads and merged."""
    rng = random.Random(100 + seed)
    base = _random_corpus(rng, 3000, 300, 6)
    corpus = base * 4  # 12,000 passages: three windows of 4,096
    params = BM25Params()
    bm25 = BM25Okapi(corpus, k1=params.k1, b=params.b, epsilon=params.epsilon)
    arrays = _index(corpus, params.epsilon)
    norms = length_norms(arrays["doc_len"], params)
    avgdl = int(arrays["doc_len"].sum()) / len(arrays["doc_len"])
    for _ in range(12):
        terms = [f"w{rng.randrange(rng.choice([6, 40, 300]))}" for _ in range(rng.randint(1, 25))]
        weights = [rng.choice([1.0, 0.5, 0.3]) for _ in terms]
        expected = _reference(bm25, terms, weights)
        postings, idf = _query_inputs(arrays, terms, True, (64, params, rng))
        k = rng.choice([1, 3, 10, 30])
        ref = sorted(np.flatnonzero(expected > 0), key=lambda d: (-expected[d], d))[:k]
        for split_from in (0, len(corpus) + 1):  # halves in two threads, then all in one
            best, _ = best_passages(
                postings,
                idf,
                weights,
                norms,
                params.k1,
                k,
                b=params.b,
                avgdl=avgdl,
                seed_postings=rng.choice([0, 256]),
                split_from=split_from,
            )
            assert [d for d, _ in best] == [int(d) for d in ref]
            assert [s for _, s in best] == [float(expected[d]) for d in ref]


def test_seek_finds_the_first_posting_at_or_after_a_passage() -> None:
    """The scorer's window start search (from an evenly-spread guess) agrees with a binary search,
    on lists that are dense, sparse, bunched at one end, and inside a longer array."""
    from bot.search.kernel import _seek

    rng = np.random.default_rng(4)
    for trial in range(2000):
        n_docs = int(rng.integers(1, 5000))
        df = int(rng.integers(1, min(n_docs, 400) + 1))
        if trial % 3 == 0:  # bunched: all postings among the first or last passages
            pool = np.arange(min(n_docs, df * 2)) if trial % 2 else np.arange(max(0, n_docs - df * 2), n_docs)
            docs = np.sort(rng.choice(pool, min(df, len(pool)), replace=False))
        else:
            docs = np.sort(rng.choice(n_docs, df, replace=False))
        before = int(rng.integers(0, 4))
        array = np.concatenate([np.full(before, n_docs), docs, np.zeros(3)]).astype(np.int32)
        lo, hi = before, before + len(docs)
        for target in rng.integers(0, n_docs + 1, 6).tolist() + [0, n_docs]:
            assert _seek(array, lo, hi, target, n_docs) == lo + int(np.searchsorted(docs, target))
