"""The best passages for weighted terms over every part of an index (BM25Okapi over the live corpus)."""

from __future__ import annotations

import numpy as np

from bot.index.keys import term_hash
from bot.index.parts import PassageIndex
from bot.search.bm25 import best_in_source, score_touched, top_k


def search(index: PassageIndex, terms: list[str], weights: list[float], k: int) -> tuple[list[tuple[int, float]], int]:
    """The k best (passage, score) pairs, highest score first and lower passage number on ties,
    and a lower bound of how many passages score above 0.

    Each part is searched with its own postings, the global idf and its slice of the global
    length norms; the parts' best lists are merged in global passage numbers. When no passage
    scores above 0 (in a corpus of a few passages BM25Okapi's idf can be <= 0 for every
    term), the passages holding a term are ranked by the same scores anyway.
    """
    keys = np.array([term_hash(t) for t in terms], dtype=np.uint64)
    weight_of = np.asarray(weights, dtype=np.float64)
    found: list[tuple[int, float]] = []
    positive = 0
    hits: list[tuple[int, np.ndarray, np.ndarray]] = []
    for number, part in enumerate(index.parts):
        rows, known = part.rows(keys)
        if not known.any():
            continue
        hits.append((number, rows, known))
        rows = rows[known]
        index.note_rows_read(number, rows)
        scoring = index.scoring[number]
        best, n = best_in_source(
            scoring.source,
            *part.spans("post_doc", rows),
            part.range_slots(rows),
            scoring.idf[rows],
            weight_of[known],
            part.arrays["term_tfmax"][rows],
            scoring.norms,
            index.params.k1,
            k,
            b=index.params.b,
            avgdl=index.avgdl,
            norm_min=scoring.norm_min,
        )
        start = int(index.passage_starts[number])
        found.extend((start + d, s) for d, s in best)
        positive += n
    if not found and hits:
        return _rank_touched(index, hits, list(weights), k)
    found.sort(key=lambda pair: (-pair[1], pair[0]))
    return found[:k], positive


def _rank_touched(
    index: PassageIndex, hits: list[tuple[int, np.ndarray, np.ndarray]], weights: list[float], k: int
) -> tuple[list[tuple[int, float]], int]:
    """Every live passage holding a term, ranked by its (possibly non-positive) score."""
    docs_parts, score_parts = [], []
    for number, found_rows, known in hits:
        scoring = index.scoring[number]
        rows = [int(r) if m else None for r, m in zip(found_rows.tolist(), known.tolist())]
        postings = [index.postings(number, r) if r is not None else None for r in rows]
        idf = [float(scoring.idf[r]) if r is not None else 0.0 for r in rows]
        docs, scores = score_touched(postings, idf, weights, scoring.norms, index.params.k1)
        live = np.isfinite(scoring.norms[docs])
        docs_parts.append(docs[live] + int(index.passage_starts[number]))
        score_parts.append(scores[live])
    docs, scores = np.concatenate(docs_parts), np.concatenate(score_parts)
    return top_k(docs, scores, k), len(docs)
