"""A larger index made of copies of a real one (the synthetic scale-up of the benchmark).

Passage i of the scaled index is passage i mod N of the real index, so its terms are real
terms; the posting lists are built directly from the real index's arrays (no pyvi), which
gives exactly the index that building the copied passages would give.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from bot.index.parts import PassageIndex
from bot.search.bm25 import okapi_idf


def scale_up(
    index: PassageIndex, n_target: int, epsilon: float
) -> tuple[dict[str, np.ndarray], bytes, list[dict[str, Any]]]:
    """Arrays, passage texts and article metadata of ``n_target`` passages copied from ``index``."""
    a = index.arrays
    n0 = index.n_passages
    copies = math.ceil(n_target / n0)
    ptr = np.asarray(a["term_ptr"])
    df0 = np.diff(ptr)
    docs0 = np.asarray(a["post_doc"])
    tf0 = np.asarray(a["post_tf"])
    limit = n_target - (copies - 1) * n0  # passages taken from the last copy
    in_last = docs0 < limit
    df_last = np.add.reduceat(in_last.astype(np.int64), ptr[:-1]) if len(df0) else df0
    df = df0 * (copies - 1) + df_last
    new_ptr = np.zeros(len(df) + 1, dtype=np.int64)
    np.cumsum(df, out=new_ptr[1:])
    term_of = np.repeat(np.arange(len(df0)), df0)
    local = np.arange(len(docs0)) - ptr[term_of]
    base = new_ptr[term_of] + local
    step = df0[term_of]
    del local
    post_doc = np.empty(int(new_ptr[-1]), dtype=np.int32)
    post_tf = np.empty(int(new_ptr[-1]), dtype=np.uint16)
    for c in range(copies):
        dest = base + c * step
        if c == copies - 1:
            post_doc[dest[in_last]] = docs0[in_last] + c * n0
            post_tf[dest[in_last]] = tf0[in_last]
        else:
            post_doc[dest] = docs0 + c * n0
            post_tf[dest] = tf0
    del term_of, base, step
    keep = df > 0  # a prefix of the real index lacks some terms
    df = df[keep]
    new_ptr = np.zeros(len(df) + 1, dtype=np.int64)
    np.cumsum(df, out=new_ptr[1:])
    order = np.asarray(a["term_order"])[keep]
    appearance = np.argsort(order)
    idf = np.empty(len(df), dtype=np.float64)
    idf[appearance] = okapi_idf(df[appearance], n_target, epsilon)
    take = np.arange(n_target) % n0
    offsets0 = np.asarray(a["passage_offsets"])
    lengths = np.diff(offsets0)[take]
    offsets = np.zeros(n_target + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    blob = bytes(index.texts_blob)
    texts = blob * (copies - 1) + blob[: int(offsets0[limit])]
    articles = []
    for c in range(copies):
        for number in range(len(index.articles)):
            stored = index.articles.stored(number)
            meta = stored.metadata
            first = stored.first_passage + c * n0
            if first >= n_target:
                continue
            articles.append(
                dict(
                    meta,
                    id=meta["id"] if c == 0 else f"{meta['id']}~{c}",
                    first_passage=first,
                    passages=min(stored.passages, n_target - first),
                )
            )
    arrays = {
        "term_hash": np.asarray(a["term_hash"])[keep],
        "term_ptr": new_ptr,
        "term_idf": idf,
        "term_order": np.argsort(appearance),
        "term_tfmax": np.asarray(a["term_tfmax"])[keep],  # a bound: the prefix's own maximum may be lower
        "post_doc": post_doc,
        "post_tf": post_tf,
        "doc_len": np.asarray(a["doc_len"])[take],
        "passage_offsets": offsets,
    }
    return arrays, texts, articles
