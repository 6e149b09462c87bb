"""An index of several parts (main + deltas, removed articles) scores as one built in full."""

from __future__ import annotations

import random
from collections import Counter

import numpy as np
import pytest
from rank_bm25 import BM25Okapi

from bot.index.builder import mark_removed
from bot.index.parts import Part, PassageIndex, global_idf
from bot.index.postings import build_arrays, with_range_bounds
from bot.index.segmenter import pack_article
from bot.search.bm25 import BM25Params
from bot.search.part_search import search

PARAMS = BM25Params()


def _articles(rng: random.Random, n: int, vocab: int, start: int = 0) -> list:
    """Token articles of one to three passages; a few words common enough to get negative idf."""
    words = [f"w{i}" for i in range(vocab)]
    items = []
    for number in range(start, start + n):
        passages = [
            [rng.choice(words[:3]) for _ in range(rng.randint(0, 4))]
            + [rng.choice(words) for _ in range(rng.randint(1, 25))]
            for _ in range(rng.randint(1, 3))
        ]
        items.append(
            pack_article(
                str(number),
                [" ".join(p) for p in passages],
                [list(Counter(p).items()) for p in passages],
                [len(p) for p in passages],
            )
        )
    return items


def _part(name: str, items: list) -> Part:
    arrays, texts, per_article = build_arrays(items, PARAMS.epsilon)
    arrays = with_range_bounds(arrays)
    articles, first = [], 0
    for item, count in zip(items, per_article):
        articles.append({"id": item.key, "key": item.key, "first_passage": first, "passages": count})
        first += count
    return Part(name, arrays, texts, articles)


def _index(parts: list[Part]) -> PassageIndex:
    n_live = sum(p.n_passages for p in parts) - sum(len(p.dead_passages()) for p in parts)
    return PassageIndex(parts, global_idf(parts, n_live, PARAMS.epsilon), {}, PARAMS)


def _queries(rng: random.Random, vocab: int, n: int = 40) -> list[tuple[list[str], list[float]]]:
    out = []
    for _ in range(n):
        terms = [f"w{rng.randrange(vocab + 5)}" for _ in range(rng.randint(1, 6))]
        out.append((terms, [rng.choice([1.0, 1.0, 0.5, 0.3]) for _ in terms]))
    return out


@pytest.mark.parametrize("seed", range(4))
def test_deltas_score_bit_for_bit_as_a_full_build(seed: int) -> None:
    rng = random.Random(seed)
    vocab = rng.choice([30, 200])
    items = _articles(rng, 120, vocab)
    cuts = sorted(rng.sample(range(1, len(items)), 3))
    chunks = [items[a:b] for a, b in zip([0] + cuts, cuts + [len(items)])]
    incremental = _index([_part(f"p{i}", chunk) for i, chunk in enumerate(chunks)])
    full = _index([_part("m", items)])
    assert np.array_equal(incremental.norms, full.norms)
    for terms, weights in _queries(rng, vocab):
        for k in (1, 5, 30):
            got, _ = search(incremental, terms, weights, k)
            want, _ = search(full, terms, weights, k)
            assert got == want  # same passages, scores equal to the bit


@pytest.mark.parametrize("seed", range(4))
def test_removed_articles_score_as_rank_bm25_over_the_live_corpus(seed: int) -> None:
    rng = random.Random(100 + seed)
    vocab = rng.choice([30, 200])
    items = _articles(rng, 90, vocab)
    extra = _articles(rng, 20, vocab, start=90)
    main, delta = _part("m", items), _part("d", extra)
    gone_main = sorted(rng.sample(range(len(items)), 8))
    gone_delta = sorted(rng.sample(range(len(extra)), 3))
    main = mark_removed(main, gone_main, [items[n] for n in gone_main])
    delta = mark_removed(delta, gone_delta, [extra[n] for n in gone_delta])
    index = _index([main, delta])
    live = [a for n, a in enumerate(items) if n not in gone_main] + [
        a for n, a in enumerate(extra) if n not in gone_delta
    ]
    rebuilt = _index([_part("m", live)])
    assert index.n_live == rebuilt.n_passages
    tokens = []
    for item in live:  # rank-bm25 over the live passages
        at = 0
        for count in item.n_terms.tolist():
            pairs = zip(item.hashes[at : at + count].tolist(), item.counts[at : at + count].tolist())
            tokens.append([h for h, c in pairs for _ in range(c)])
            at += count
    bm25 = BM25Okapi(tokens, k1=PARAMS.k1, b=PARAMS.b, epsilon=PARAMS.epsilon)
    from bot.index.keys import term_hash

    dead = {p for p in range(index.n_passages) if not index.live[p]}
    assert dead
    for terms, weights in _queries(rng, vocab):
        got, _ = search(index, terms, weights, 10)
        want, _ = search(rebuilt, terms, weights, 10)
        assert not dead & {p for p, _ in got}  # a removed passage is never returned
        assert [s for _, s in got] == pytest.approx([s for _, s in want], rel=1e-12, abs=1e-12)
        reference = np.zeros(len(tokens))
        for term, weight in zip(terms, weights):
            reference += bm25.get_scores([term_hash(term)]) * weight
        positive = sorted(reference[reference > 0], reverse=True)[:10]
        assert [s for _, s in got] == pytest.approx(positive, rel=1e-12, abs=1e-12)
        # the same passages (those tied with the last one may differ: passage numbers break ties)
        assert _above_last(index, got) == _above_last(rebuilt, want)


def _above_last(index: PassageIndex, found: list[tuple[int, float]]) -> list[tuple[float, str]]:
    last = found[-1][1] if found else 0.0
    return sorted((round(s, 9), index.passage_text(p)) for p, s in found if s > last * (1 + 1e-9))


def test_a_removed_passage_is_never_returned_even_when_it_scores_best() -> None:
    rng = random.Random(5)
    items = _articles(rng, 30, 50)
    special = pack_article("x", ["zz zz zz"], [[("zz", 3)]], [3])
    part = _part("m", items + [special])
    index = _index([part])
    assert search(index, ["zz"], [1.0], 5)[0][0][0] == index.n_passages - 1
    removed = _index([mark_removed(part, [len(items)], [special])])
    assert search(removed, ["zz"], [1.0], 5) == ([], 0)
    assert removed.df(np.uint64(__import__("bot.index.keys").index.keys.term_hash("zz"))) == 0
    assert [a.id for a in removed.articles] == [a.id for a in index.articles[:-1]]
