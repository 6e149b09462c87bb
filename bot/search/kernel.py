"""The compiled core of the fast BM25 path: exact top-k by MaxScore over posting arrays.

Plain arrays in and out (see ``bm25.best_passages`` for the Python side). Every passage
that can still reach the top k is scored exactly as rank-bm25's BM25Okapi scores it:
contribution = (idf * (tf * (k1 + 1) / (tf + norm))) * weight, summed from 0.0 in query
order. Passages are visited in windows of ``WINDOW`` passage numbers:

block bounds (from the index's range data or the postings) order the windows and skip blocks;
MaxScore splits the terms into essential ones, whose postings are accumulated term at a time,
and non-essential ones, looked up (galloping search) only for passages that can still enter;
the top k sit in a heap ordered by (score, lower passage number first on ties). The steps
are described in docs/performance.md ("Speed and scale").

A threshold found beforehand (``seed``: the exact scores of the rarest terms' passages)
prunes from the start. Pruning bounds carry a small relative margin, so rounding never
drops a passage that belongs in the top k.
"""

from __future__ import annotations

import numba as nb
import numpy as np

from bot.search.bm25 import RANGE_SIZE, TF_CAP  # a range's stored tf at TF_CAP means "that or more"

WINDOW = 4096  # passages per window (a multiple of BLOCK)
BLOCK = RANGE_SIZE  # passages per block of the per-block bounds: one range of the index's range data
MARGIN = 1e-9
MINOR_BOUNDS_FROM = 256  # touched passages in a window from which the other terms' block bounds are worth computing


@nb.njit(cache=True, nogil=True, inline="always")
def _contribution(idf: float, weight: float, tf: float, norm: float, k1: float) -> float:
    return (idf * (tf * (k1 + 1.0) / (tf + norm))) * weight


@nb.njit(cache=True, nogil=True, inline="always")
def _padded(value: float) -> float:
    return value * (1.0 + MARGIN) + 1e-12 if value > 0.0 else 0.0


@nb.njit(cache=True, nogil=True)
def _advance(docs, pos: int, end: int, target: int) -> int:
    """First position in [pos, end) whose passage is >= target (galloping search)."""
    if pos >= end or docs[pos] >= target:
        return pos
    lo = pos
    step = 1
    hi = pos + 1
    while hi < end and docs[hi] < target:
        lo = hi
        step *= 2
        hi = pos + step
    return _lower_bound(docs, lo + 1, min(hi, end), target)


@nb.njit(cache=True, nogil=True)
def _seek(docs, lo: int, hi: int, target: int, n_docs: int) -> int:
    """First position in [lo, hi) whose passage is >= target, searched from where it would be
    if the list's passages were spread evenly (a few nearby reads instead of a binary search
    over the whole list)."""
    if lo >= hi:
        return lo
    guess = lo + int((hi - lo) * (target / n_docs))
    if guess >= hi:
        guess = hi - 1
    if docs[guess] < target:
        return _advance(docs, guess, hi, target)
    step = 1
    top = guess  # docs[top] >= target
    p = guess - 1
    while p >= lo and docs[p] >= target:
        top = p
        step *= 2
        p = guess - step
    return _lower_bound(docs, max(p, lo - 1) + 1, top, target)


@nb.njit(cache=True, nogil=True)
def _lower_bound(docs, lo: int, hi: int, target: int) -> int:
    """First position in [lo, hi) whose passage is >= target (binary search)."""
    while lo < hi:
        mid = (lo + hi) >> 1
        if docs[mid] < target:
            lo = mid + 1
        else:
            hi = mid
    return lo


@nb.njit(cache=True, nogil=True)
def _find(docs, lo: int, hi: int, target: int) -> int:
    """Position of ``target`` in docs[lo:hi] (ascending), or -1."""
    pos = _lower_bound(docs, lo, hi, target)
    if pos < hi and docs[pos] == target:
        return pos
    return -1


@nb.njit(cache=True, nogil=True, inline="always")
def _worse(s1: float, d1: int, s2: float, d2: int) -> bool:
    """Whether (s1, d1) ranks below (s2, d2): lower score, or same score and higher passage."""
    return s1 < s2 or (s1 == s2 and d1 > d2)


@nb.njit(cache=True, nogil=True, inline="always")
def _swap(heap_s, heap_d, i: int, j: int) -> None:
    heap_s[i], heap_s[j] = heap_s[j], heap_s[i]
    heap_d[i], heap_d[j] = heap_d[j], heap_d[i]


@nb.njit(cache=True, nogil=True)
def _heap_push(heap_s, heap_d, size: int, k: int, score: float, doc: int) -> int:
    """Offer (score, doc) to the min-heap of the k best; returns the new size."""
    if size < k:
        i = size
        heap_s[i] = score
        heap_d[i] = doc
        size += 1
        while i > 0:
            parent = (i - 1) >> 1
            if _worse(heap_s[i], heap_d[i], heap_s[parent], heap_d[parent]):
                _swap(heap_s, heap_d, i, parent)
                i = parent
            else:
                break
        return size
    if not _worse(heap_s[0], heap_d[0], score, doc):
        return size
    heap_s[0] = score
    heap_d[0] = doc
    i = 0
    while True:
        left = 2 * i + 1
        if left >= size:
            break
        child = left
        right = left + 1
        if right < size and _worse(heap_s[right], heap_d[right], heap_s[left], heap_d[left]):
            child = right
        if _worse(heap_s[child], heap_d[child], heap_s[i], heap_d[i]):
            _swap(heap_s, heap_d, i, child)
            i = child
        else:
            break
    return size


@nb.njit(cache=True, nogil=True)
def _exact(doc_arr, tf_arr, starts, ends, idf, weight, norms, k1: float, doc: int) -> float:
    """One passage's score, every term looked up and added in query order."""
    score = 0.0
    norm = norms[doc]
    for t in range(len(starts)):
        p = _find(doc_arr, starts[t], ends[t], doc)
        if p >= 0:
            score += _contribution(idf[t], weight[t], float(tf_arr[p]), norm, k1)
    return score


@nb.njit(cache=True, nogil=True)
def _add_range_bounds(
    into, first_block: int, count: int, t: int, scale, rslot, rtf, rdl, k1: float, c0: float, c1: float
) -> float:
    """Add term ``t``'s bound in blocks first_block .. first_block + count - 1 (from the range
    data, one range a block) to into[0 .. count - 1]; returns the highest of them."""
    slot = rslot[t]
    sc = scale[t] * (1.0 + MARGIN)
    last = min(first_block + count, rtf.shape[1])
    highest = 0.0
    for r in range(first_block, last):
        tf = rtf[slot, r]
        if tf == 0:
            continue
        if tf >= TF_CAP:
            bound = sc * (k1 + 1.0) + 1e-12
        else:
            ftf = float(tf)
            bound = sc * (ftf * (k1 + 1.0) / (ftf + c0 + c1 * float(rdl[slot, r]))) + 1e-12
        into[r - first_block] += bound
        if bound > highest:
            highest = bound
    return highest


@nb.njit(cache=True, nogil=True)
def _add_posting_bounds(
    into, first: int, doc_arr, tf_arr, pos: int, end: int, last: int, idf: float, weight: float, norms, k1: float
) -> float:
    """Add a term's best contribution in each block of passages first .. last - 1 to ``into``
    (indexed by block from ``first``), from its postings at pos .. end; returns the highest."""
    block = -1
    best = 0.0
    highest = 0.0
    while pos < end:
        doc = doc_arr[pos]
        if doc >= last:
            break
        g = (doc - first) // BLOCK
        if g != block:
            if block >= 0:
                into[block] += best
                highest = max(highest, best)
            block = g
            best = 0.0
        c = _padded(_contribution(idf, weight, float(tf_arr[pos]), norms[doc], k1))
        if c > best:
            best = c
        pos += 1
    if block >= 0:
        into[block] += best
        highest = max(highest, best)
    return highest


@nb.njit(cache=True, nogil=True)
def _minor_first(ub, df):
    """The terms in the order they become non-essential as the threshold rises: most postings
    per unit of bound first (a long list of a term that adds little is the first to be only
    looked up; a rare term that decides the ranking stays essential)."""
    cost = np.empty(len(ub))
    for t in range(len(ub)):
        cost[t] = -np.inf if ub[t] <= 0.0 else -(df[t] / ub[t])
    return np.argsort(cost, kind="mergesort")


@nb.njit(cache=True, nogil=True)
def top_passages(
    doc_arr,
    tf_arr,
    starts,
    ends,
    idf,
    weight,
    tf_max,
    rslot,
    rtf,
    rdl,
    rsize: int,
    norms,
    norm_min: float,
    k1: float,
    b: float,
    avgdl: float,
    k: int,
    seed_postings: int,
    window_lo: int = 0,
    window_hi: int = -1,
):
    """The k best passages with a positive score: (passages, scores) best first, and how many
    passages were found scoring above 0 (a lower bound of that count). Only the windows
    window_lo .. window_hi - 1 are searched (-1: to the end); the k best of the whole corpus
    are the k best of the union of its windows' searches."""
    nt = len(starts)
    scale = np.empty(nt)
    ub = np.empty(nt)
    for t in range(nt):
        scale[t] = idf[t] * weight[t]
        if tf_max[t] > 0:
            x = tf_max[t] * (k1 + 1.0) / (tf_max[t] + norm_min)
        else:
            x = k1 + 1.0
        ub[t] = _padded(scale[t] * x)
    by_bound = _minor_first(ub, ends - starts)
    prefix = np.empty(nt)
    total = 0.0
    for j in range(nt):
        total += ub[by_bound[j]]
        prefix[j] = total
    rank = np.empty(nt, dtype=np.int64)
    for j in range(nt):
        rank[by_bound[j]] = j
    heap_s = np.empty(k)
    heap_d = np.empty(k, dtype=np.int64)
    size = 0
    found = 0

    # a first threshold: exact scores of the passages of the rarest terms
    threshold = 0.0
    if seed_postings > 0 and nt > 1:
        by_df = np.argsort(ends - starts, kind="mergesort")
        seed_s = np.empty(k)
        seed_d = np.empty(k, dtype=np.int64)
        seed_size = 0
        taken = 0
        for j in range(nt):
            t = by_df[j]
            if taken + (ends[t] - starts[t]) > (seed_postings if taken else 4 * seed_postings):
                break
            for p in range(starts[t], ends[t]):
                doc = doc_arr[p]
                seen = False
                for jj in range(j):  # a passage of an earlier seed term is already in
                    u = by_df[jj]
                    if _find(doc_arr, starts[u], ends[u], doc) >= 0:
                        seen = True
                        break
                if seen:
                    continue
                s = _exact(doc_arr, tf_arr, starts, ends, idf, weight, norms, k1, doc)
                if s > 0.0:
                    seed_size = _heap_push(seed_s, seed_d, seed_size, k, s, doc)
            taken += ends[t] - starts[t]
        if seed_size == k:
            threshold = seed_s[0]

    # bounds per block of BLOCK passages (every term): range data for long lists, the postings
    # for short ones; a window's bound is its best block's
    n_docs = len(norms)
    n_windows = (n_docs + WINDOW - 1) // WINDOW
    n_blocks = WINDOW // BLOCK
    if window_hi < 0 or window_hi > n_windows:
        window_hi = n_windows
    lo_block = window_lo * n_blocks  # the searched blocks and passages
    hi_block = min(window_hi * n_blocks, (n_docs + BLOCK - 1) // BLOCK)
    lo_doc = window_lo * WINDOW
    hi_doc = min(window_hi * WINDOW, n_docs)
    c0 = k1 * (1.0 - b)  # a length norm is c0 + c1 * length (up to rounding; bounds carry a margin)
    c1 = k1 * b / avgdl if avgdl > 0 else 0.0
    ranged = np.zeros(nt, dtype=np.bool_)
    for t in range(nt):
        ranged[t] = rsize == BLOCK and rslot[t] >= 0 and rtf.shape[1] >= (n_docs + BLOCK - 1) // BLOCK
    block_total = np.zeros(n_windows * n_blocks)  # 0 outside the searched windows
    searched = block_total[lo_block:hi_block]
    for t in range(nt):
        if scale[t] <= 0.0:
            continue
        if ranged[t]:
            highest = _add_range_bounds(searched, lo_block, hi_block - lo_block, t, scale, rslot, rtf, rdl, k1, c0, c1)
        else:
            highest = _add_posting_bounds(
                searched,
                lo_doc,
                doc_arr,
                tf_arr,
                _seek(doc_arr, starts[t], ends[t], lo_doc, n_docs),
                ends[t],
                hi_doc,
                idf[t],
                weight[t],
                norms,
                k1,
            )
        ub[t] = min(ub[t], highest)  # the term's best block here: a tighter bound than tf_max gives
    by_bound = _minor_first(ub, ends - starts)
    total = 0.0
    for j in range(nt):
        total += ub[by_bound[j]]
        prefix[j] = total
    for j in range(nt):
        rank[by_bound[j]] = j
    window_bound = np.zeros(n_windows)
    for w in range(n_windows):
        best = 0.0
        for g in range(w * n_blocks, (w + 1) * n_blocks):
            if block_total[g] > best:
                best = block_total[g]
        window_bound[w] = best
    by_window = np.argsort(-window_bound, kind="mergesort")

    cursor = starts.copy()
    window_start_pos = starts.copy()
    acc = np.zeros(WINDOW)
    mark = np.zeros(WINDOW, dtype=np.bool_)
    touched = np.empty(WINDOW, dtype=np.int64)
    hit = np.zeros(nt, dtype=np.bool_)
    block_minor = np.zeros(n_blocks)  # per block of a window: bound of the non-essential terms
    dead = np.zeros(n_blocks, dtype=np.bool_)
    n_minor = 0
    while n_minor < nt and prefix[n_minor] < threshold:
        n_minor += 1
    # windows from the most promising: the threshold rises early, and the rest are skipped
    for w in by_window:
        if w < window_lo or w >= window_hi:
            continue
        if n_minor >= nt or window_bound[w] * (1.0 + MARGIN) + 1e-12 < threshold:
            break
        first = w * WINDOW
        last = first + WINDOW
        minor = n_minor  # fixed for this window: the accumulator holds the other terms
        alive_blocks = 0
        for g in range(n_blocks):
            dead[g] = block_total[w * n_blocks + g] * (1.0 + MARGIN) + 1e-12 < threshold
            if not dead[g]:
                alive_blocks += 1
        if alive_blocks == 0:
            continue
        for t in range(nt):  # a non-essential term's list is sought only if a passage needs it
            cursor[t] = _seek(doc_arr, starts[t], ends[t], first, n_docs) if rank[t] >= minor else -1
        # the essential terms' postings, term by term in query order (exact partial sums)
        n_touched = 0
        for t in range(nt):
            if rank[t] < minor:
                continue
            p = cursor[t]
            window_start_pos[t] = p
            end = ends[t]
            while p < end:
                doc = doc_arr[p]
                if doc >= last:
                    break
                slot = doc - first
                if not dead[slot // BLOCK]:
                    if not mark[slot]:
                        mark[slot] = True
                        touched[n_touched] = slot
                        n_touched += 1
                    acc[slot] += _contribution(idf[t], weight[t], float(tf_arr[p]), norms[doc], k1)
                p += 1
            cursor[t] = p
        if n_touched == 0:
            continue
        if n_touched > MINOR_BOUNDS_FROM:  # many passages to check: block bounds of the other terms first
            block_minor[:] = 0.0
            for j in range(minor):
                t = by_bound[j]
                if scale[t] <= 0.0:
                    continue
                if ranged[t]:
                    _add_range_bounds(block_minor, w * n_blocks, n_blocks, t, scale, rslot, rtf, rdl, k1, c0, c1)
                else:
                    if cursor[t] < 0:
                        cursor[t] = _seek(doc_arr, starts[t], ends[t], first, n_docs)
                    _add_posting_bounds(
                        block_minor, first, doc_arr, tf_arr, cursor[t], ends[t], last, idf[t], weight[t], norms, k1
                    )
        else:
            block_minor[:] = np.inf
        if n_touched * 8 < WINDOW:
            slots = np.sort(touched[:n_touched])
        else:
            slots = np.flatnonzero(mark)
        rest = prefix[minor - 1] if minor > 0 else 0.0
        # each touched passage: bounds, then the other terms from the most promising one
        for slot in slots:
            partial = acc[slot]
            acc[slot] = 0.0
            mark[slot] = False
            doc = first + slot
            score = partial
            if minor > 0:
                if (partial + min(rest, block_minor[slot // BLOCK])) * (1.0 + MARGIN) + 1e-12 < threshold:
                    continue
                remaining = rest
                any_minor = False
                alive = True
                for j in range(minor - 1, -1, -1):
                    t = by_bound[j]
                    remaining -= ub[t]
                    if cursor[t] < 0:
                        p = _seek(doc_arr, starts[t], ends[t], doc, n_docs)
                    else:
                        p = _advance(doc_arr, cursor[t], ends[t], doc)
                    cursor[t] = p
                    hit[t] = p < ends[t] and doc_arr[p] == doc
                    if hit[t]:
                        any_minor = True
                        score += _contribution(idf[t], weight[t], float(tf_arr[p]), norms[doc], k1)
                    if (score + max(remaining, 0.0)) * (1.0 + MARGIN) + 1e-12 < threshold:
                        alive = False
                        break
                if not alive:
                    continue
                if any_minor:  # add every term again, in query order
                    score = 0.0
                    norm = norms[doc]
                    for t in range(nt):
                        if rank[t] < minor:
                            if hit[t]:
                                score += _contribution(idf[t], weight[t], float(tf_arr[cursor[t]]), norm, k1)
                        else:
                            p = _find(doc_arr, window_start_pos[t], cursor[t], doc)
                            if p >= 0:
                                score += _contribution(idf[t], weight[t], float(tf_arr[p]), norm, k1)
            if score > 0.0:
                found += 1
                size = _heap_push(heap_s, heap_d, size, k, score, doc)
                if size == k and heap_s[0] > threshold:
                    threshold = heap_s[0]
        while n_minor < nt and prefix[n_minor] < threshold:
            n_minor += 1
    # best first
    out_d = heap_d[:size].copy()
    out_s = heap_s[:size].copy()
    for i in range(1, size):  # insertion sort of the k best: best first
        s, d = out_s[i], out_d[i]
        j = i - 1
        while j >= 0 and _worse(out_s[j], out_d[j], s, d):
            out_s[j + 1] = out_s[j]
            out_d[j + 1] = out_d[j]
            j -= 1
        out_s[j + 1] = s
        out_d[j + 1] = d
    return out_d, out_s, found
