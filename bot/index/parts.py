"""An index version in memory: an ordered list of immutable parts, tombstones and global statistics.

A part (the big main one, or a small delta added later) holds what does not depend on the
rest of the corpus: its term rows (sorted hash keys, part-local postings, first appearance),
range bounds, passage lengths and texts, and its articles. A version adds what does: the
removed articles (tombstones), how many of each term's postings they hold, and the idf of
every part's term rows over the live corpus. Passages are numbered globally, part after
part; a removed article's passages keep their numbers but get an infinite length norm, so
they score exactly 0 and are never returned.
"""

from __future__ import annotations

import mmap
import os
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from bot.corpus.article import Article
from bot.index.article_table import ArticleView, first_passages, passage_counts
from bot.index.live_files import LiveFiles
from bot.search.bm25 import RANGE_SIZE, BM25Params, Postings, PostingSource, compile_scorer, okapi_idf

RECENT_QUESTIONS = 64  # whose posting lists and range bounds may stay mapped when pages are released
KEEP_SHARE = 0.5  # of the bound above what is mapped at load, for the lists a release keeps
READ_SPANS = ("range_tf", "range_dl", "post_doc", "post_tf")  # a term row's data (``Part.spans``), smallest first

_PAGE_MB = os.sysconf("SC_PAGE_SIZE") / (1 << 20) if hasattr(os, "sysconf") else 4 / 1024


def mapped_file_mb() -> float:
    """This process's resident pages of mapped files (and shared memory), in MB (Linux; 0 elsewhere)."""
    try:
        with open("/proc/self/statm", "rb") as handle:
            return int(handle.read().split()[2]) * _PAGE_MB
    except (OSError, ValueError, IndexError):
        return 0.0


@dataclass
class Part:
    """One immutable part: ``arrays`` (see ``storage.PART_ARRAYS``), texts and its articles
    (their stored lines, ``first_passage`` local to the part)."""

    name: str
    arrays: dict[str, np.ndarray]
    texts: Any  # every passage's text, one after another (UTF-8): bytes, ``storage.FileBytes`` or a map
    articles: Sequence[dict[str, Any]]  # stored lines: a list, or an ``ArticleTable`` when loaded
    dead_articles: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))  # local numbers
    dead_rows: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))  # sorted local rows
    dead_count: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))  # removed postings per row
    # the files it is read from when loaded, that ``PassageIndex.release_pages`` may unmap:
    # name -> (mapping, where the data starts, bytes an item)
    maps: dict[str, tuple[mmap.mmap, int, int]] = field(default_factory=dict)

    def count_articles(self) -> int:
        return len(self.articles)

    @property
    def n_passages(self) -> int:
        return len(self.arrays["doc_len"])

    @property
    def n_terms(self) -> int:
        return len(self.arrays["term_hash"])

    def row(self, key: np.uint64) -> int | None:
        """The row of a term (by ``term_hash`` key), or None when no passage of the part has it."""
        rows, known = self.rows(np.array([key], dtype=np.uint64))
        return int(rows[0]) if known[0] else None

    def rows(self, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Each term's row (by ``term_hash`` keys, uint64: a Python int would make numpy compare
        every key as a float), and whether the part has it at all."""
        hashes = self.arrays["term_hash"]
        if len(hashes) == 0:
            return np.zeros(len(keys), dtype=np.int64), np.zeros(len(keys), dtype=np.bool_)
        rows = np.minimum(np.searchsorted(hashes, keys), len(hashes) - 1)
        return rows, hashes[rows] == keys

    def spans(self, name: str, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Where each term row's data lie in the array ``name`` ("post_doc", "post_tf": the
        posting lists; "range_tf", "range_dl": the range bounds rows, empty for a term without):
        first and end item positions."""
        rows = np.asarray(rows, dtype=np.int64)
        if name in ("post_doc", "post_tf"):
            ptr = self.arrays["term_ptr"]
            return np.asarray(ptr[rows], dtype=np.int64), np.asarray(ptr[rows + 1], dtype=np.int64)
        slots = self.range_slots(rows)
        width = int(self.arrays[name].shape[1]) if self.arrays[name].ndim == 2 else 0
        starts = np.maximum(slots, 0) * width
        return starts, starts + (slots >= 0) * width

    def range_slots(self, rows: np.ndarray) -> np.ndarray:
        """Each term row's row in the range bounds (``range_tf``/``range_dl``), or -1 without."""
        ranged_rows = np.asarray(self.arrays["range_rows"])
        if len(ranged_rows) == 0:
            return np.full(len(rows), -1, dtype=np.int64)
        slots = np.minimum(np.searchsorted(ranged_rows, rows), len(ranged_rows) - 1)
        return np.where(ranged_rows[slots] == rows, slots, -1)

    def live_df(self) -> np.ndarray:
        """Each row's number of postings in passages that are not removed."""
        df = np.diff(np.asarray(self.arrays["term_ptr"]))
        if len(self.dead_rows):
            df = df.copy()
            df[self.dead_rows] -= self.dead_count
        return df

    def dead_passages(self) -> np.ndarray:
        """Part-local numbers of the removed articles' passages."""
        firsts, counts = first_passages(self.articles), passage_counts(self.articles)
        spans = [np.arange(firsts[n], firsts[n] + counts[n]) for n in self.dead_articles.tolist()]
        return np.concatenate(spans).astype(np.int64) if spans else np.zeros(0, dtype=np.int64)


def _is_permutation(order: np.ndarray) -> bool:
    """Whether ``order`` holds each of 0 .. len - 1 once (then it ranks itself)."""
    n = len(order)
    if n == 0:
        return True
    if int(order.min()) < 0 or int(order.max()) >= n:
        return False
    return bool(np.all(np.bincount(order, minlength=n) == 1))


def global_idf(parts: list[Part], n_live: int, epsilon: float) -> np.ndarray:
    """BM25Okapi idf of every part's term rows (concatenated, part after part) over the live corpus.

    A term's document frequency is summed over the parts, without removed passages; the
    vocabulary is taken in order of first appearance (the main part's own order, then each
    later part's new terms in its order), as rank-bm25 sums it, and terms no live passage
    holds are left out. With no removals this is the idf a full build of the same passages gives.
    """
    gids: list[np.ndarray] = []
    dfs: list[np.ndarray] = []
    next_gid = 0
    for i, part in enumerate(parts):
        hashes = np.asarray(part.arrays["term_hash"])
        order = np.asarray(part.arrays["term_order"])
        gid = np.full(len(hashes), -1, dtype=np.int64)
        for j in range(i):  # terms already seen in an earlier part keep their rank
            todo = np.flatnonzero(gid < 0)
            if not len(todo):
                break
            earlier = np.asarray(parts[j].arrays["term_hash"])
            pos = np.minimum(np.searchsorted(earlier, hashes[todo]), max(len(earlier) - 1, 0))
            hit = earlier[pos] == hashes[todo] if len(earlier) else np.zeros(len(todo), dtype=bool)
            gid[todo[hit]] = gids[j][pos[hit]]
        new = np.flatnonzero(gid < 0)
        if len(new) == len(order) and _is_permutation(order):  # all new (the first part): ranks as they are
            gid = next_gid + order.astype(np.int64)
            next_gid += len(new)
        elif len(new):  # new terms follow in the part's order of first appearance
            ranks = np.empty(len(new), dtype=np.int64)
            ranks[np.argsort(order[new], kind="stable")] = np.arange(len(new))
            gid[new] = next_gid + ranks
            next_gid += len(new)
        gids.append(gid)
        dfs.append(part.live_df())
    all_gid = np.concatenate(gids) if gids else np.zeros(0, dtype=np.int64)
    df = np.bincount(all_gid, weights=np.concatenate(dfs).astype(np.float64), minlength=next_gid)
    df = np.rint(df).astype(np.int64)
    live = df > 0
    idf = np.zeros(next_gid, dtype=np.float64)
    idf[live] = okapi_idf(df[live], n_live, epsilon)
    return idf[all_gid]


@dataclass(frozen=True)
class PartScoring:
    """What scoring a part's passages takes from its version: the part's slice of the global
    length norms (infinite for removed passages) and of the global idf, and its postings."""

    norms: np.ndarray
    idf: np.ndarray  # of the part's term rows
    norm_min: float  # the smallest norm (bounds the scores), 0 without passages
    source: PostingSource


def articles_of(parts: list[Part]) -> ArticleView:
    """Every article of the parts (removed ones too), by global number."""
    tables = [part.articles for part in parts]
    passage_starts = np.cumsum([0] + [p.n_passages for p in parts])[:-1].astype(np.int64).tolist()
    return ArticleView(tables, passage_starts, np.arange(sum(len(t) for t in tables), dtype=np.int64))


READ_ARTICLES_KEPT = 4096  # articles kept parsed between questions (each is immutable)
READ_TEXTS_KEPT = 256  # passage texts kept between reads


@dataclass
class PassageIndex:
    """A searchable index: its parts, tombstones and global idf, with article metadata."""

    parts: list[Part]
    idf_rows: np.ndarray  # global idf of each part's rows, concatenated
    manifest: dict[str, Any]
    params: BM25Params
    memory_mb: float = 0  # mapped index pages kept resident at most (0: no limit); see ``release_pages``
    files: LiveFiles | None = None  # the version's files, held open to see changes in place (``damaged``)

    # set from the parts at construction:
    passage_starts: np.ndarray = field(
        init=False, repr=False, compare=False
    )  # each part's first global passage number, and the total
    all_articles: ArticleView = field(
        init=False, repr=False, compare=False
    )  # every article (removed ones too), by global number
    articles: ArticleView = field(init=False, repr=False, compare=False)  # the live articles
    live: np.ndarray = field(init=False, repr=False, compare=False)  # per global passage number: not removed
    n_live: int = field(init=False, repr=False, compare=False)  # live passages
    avgdl: float = field(init=False, repr=False, compare=False)  # their average length
    norms: np.ndarray = field(
        init=False, repr=False, compare=False
    )  # per global passage number: its BM25 length norm (inf: removed)
    scoring: list[PartScoring] = field(init=False, repr=False, compare=False)  # per part
    _slot_article: np.ndarray = field(
        init=False, repr=False, compare=False
    )  # per global passage: its article's global number
    _recent: deque[tuple[int, np.ndarray]] = field(
        init=False, repr=False, compare=False
    )  # rows read (``note_rows_read``)
    _floor_mb: float = field(init=False, repr=False, compare=False)  # mapped at load: what a release cannot go below
    _read_articles: dict[int, Article] = field(
        init=False, repr=False, compare=False, default_factory=dict
    )  # articles read lately, by global number (a question reads each candidate's)
    _read_texts: dict[int, str] = field(
        init=False, repr=False, compare=False, default_factory=dict
    )  # passage texts read lately (a question reads its candidates' several times)
    derived: dict[str, Any] = field(
        init=False, repr=False, compare=False, default_factory=dict
    )  # what other layers work out from this index once and keep with it (by name)

    def __post_init__(self) -> None:
        compile_scorer(wait=False)  # before the first question, not during it (compiled aside when not cached)
        self._recent = deque(maxlen=RECENT_QUESTIONS * max(1, len(self.parts)))
        self._floor_mb = min(mapped_file_mb(), self.memory_mb)  # libraries and arrays kept mapped
        sizes = [p.n_passages for p in self.parts]
        self.passage_starts = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
        row_starts = np.concatenate([[0], np.cumsum([p.n_terms for p in self.parts])]).astype(np.int64)
        tables = [part.articles for part in self.parts]
        article_starts = np.cumsum([0] + [len(t) for t in tables]).astype(np.int64)
        dead = np.concatenate(
            [start + part.dead_articles for part, start in zip(self.parts, article_starts[:-1].tolist())]
            or [np.zeros(0, dtype=np.int64)]
        ).astype(np.int64)
        counts = np.concatenate([passage_counts(t) for t in tables] or [np.zeros(0, dtype=np.int64)])
        self.all_articles = articles_of(self.parts)
        everyone = self.all_articles.numbers
        self.articles = ArticleView(tables, self.all_articles.passage_starts, np.setdiff1d(everyone, dead))
        self._slot_article = np.repeat(np.arange(len(counts), dtype=np.int32), counts)
        alive = np.ones(len(counts), dtype=np.bool_)
        alive[dead] = False
        self.live = alive[self._slot_article] if len(counts) else np.zeros(0, dtype=np.bool_)
        doc_len = (
            np.concatenate([np.asarray(p.arrays["doc_len"]) for p in self.parts]).astype(np.int64)
            if self.parts
            else np.zeros(0, dtype=np.int64)
        )
        self.n_live = int(self.live.sum())
        self.avgdl = int(doc_len[self.live].sum()) / self.n_live if self.n_live else 0.0
        k1, b = self.params.k1, self.params.b
        with np.errstate(divide="ignore", invalid="ignore"):
            norms = k1 * (1 - b + b * doc_len / self.avgdl)  # as bm25.length_norms, with the live avgdl
        norms[~self.live] = np.inf
        self.norms = norms
        self.scoring = []
        for part, start, end, r0, r1 in zip(
            self.parts,
            self.passage_starts[:-1].tolist(),
            self.passage_starts[1:].tolist(),
            row_starts[:-1].tolist(),
            row_starts[1:].tolist(),
        ):
            self.scoring.append(
                PartScoring(
                    norms[start:end],
                    self.idf_rows[r0:r1],
                    float(norms[start:end].min()) if end > start else 0.0,
                    PostingSource(
                        part.arrays["post_doc"],
                        part.arrays["post_tf"],
                        part.arrays["range_tf"],
                        part.arrays["range_dl"],
                        int(self.manifest.get("range_size", RANGE_SIZE)),
                    ),
                )
            )

    def damaged(self) -> str | None:
        """Why the index must not be read any more (a file of it changed in place), or None."""
        return self.files.changed() if self.files is not None else None

    # --- memory --------------------------------------------------------------------------

    def note_rows_read(self, part_number: int, rows: np.ndarray) -> None:
        """Record the term rows a question reads (``release_pages`` keeps the most read)."""
        self._recent.append((part_number, np.asarray(rows, dtype=np.int64)))

    def _row_bytes(self, number: int, rows: np.ndarray) -> np.ndarray:
        """Bytes of each term row's data (``READ_SPANS``) in a part."""
        part = self.parts[number]
        total = np.zeros(len(rows), dtype=np.int64)
        for name in READ_SPANS:
            if name in part.maps:
                starts, ends = part.spans(name, rows)
                total += (ends - starts) * part.maps[name][2]
        return total

    def release_pages(self, force: bool = False) -> bool:
        """Unmap the index files' pages from this process once they pass ``memory_mb``.

        Questions map in the pages of the postings and texts they read, and a mapped page
        counts in the process's resident memory until it is unmapped. Past the limit the
        pages are dropped from the mapping (``MADV_DONTNEED``), except the data of the terms
        the last ``RECENT_QUESTIONS`` questions read most often (common words' long lists,
        read again and again), up to ``KEEP_SHARE`` of what the bound leaves for the index
        above the memory mapped at load. The files stay in the page cache, so the next
        questions map them in again without reading the disk. Returns whether pages were released.
        """
        if not force and (not self.memory_mb or mapped_file_mb() <= self.memory_mb):
            return False
        keep = {} if force else self._kept_rows()
        self._unmap(keep)
        if keep and mapped_file_mb() > self.memory_mb:  # more than the bound mapped elsewhere
            self._unmap({})
        return True

    def _kept_rows(self) -> dict[int, np.ndarray]:
        """The term rows (by part) whose data a release keeps: those the recent questions read
        most often, then most recently, within ``KEEP_SHARE`` of the bound above the memory
        mapped at load."""
        budget = (self.memory_mb - self._floor_mb) * KEEP_SHARE * (1 << 20)
        uses: dict[tuple[int, int], tuple[int, int]] = {}
        for order, (number, rows) in enumerate(self._recent):
            for row in rows.tolist():
                count, _ = uses.get((number, row), (0, 0))
                uses[(number, row)] = (count + 1, order)
        ranked = sorted(uses, key=lambda key: uses[key], reverse=True)
        sizes: dict[tuple[int, int], int] = {}
        for number in {number for number, _ in ranked}:
            rows = np.array([row for n, row in ranked if n == number], dtype=np.int64)
            sizes.update(zip([(number, row) for row in rows.tolist()], self._row_bytes(number, rows).tolist()))
        keep: dict[int, list[int]] = {}
        for key in ranked:
            if sizes[key] <= budget:
                budget -= sizes[key]
                keep.setdefault(key[0], []).append(key[1])
        return {number: np.array(sorted(rows), dtype=np.int64) for number, rows in keep.items()}

    def _unmap(self, keep: dict[int, np.ndarray]) -> None:
        """Drop every mapped page of the parts' files but the data of the term rows in ``keep``
        (by part)."""
        page = mmap.PAGESIZE
        for number, part in enumerate(self.parts):
            rows = keep.get(number, np.zeros(0, dtype=np.int64))
            for name, (mapped, offset, itemsize) in part.maps.items():
                starts, ends = part.spans(name, rows) if name in READ_SPANS else (rows, rows)
                starts, ends = starts[ends > starts], ends[ends > starts]
                if not len(starts):
                    mapped.madvise(mmap.MADV_DONTNEED)
                    continue
                low = (offset + starts.astype(np.int64) * itemsize) // page * page  # kept pages, page-aligned
                high = -(-(offset + ends.astype(np.int64) * itemsize) // page) * page
                order = np.argsort(low, kind="stable")
                low, reach = low[order], np.maximum.accumulate(high[order])
                gap_ends = np.append(low, len(mapped))  # a gap runs from where the kept pages so far reach
                gap_starts = np.append(0, reach)
                for at, stop in zip(gap_starts.tolist(), gap_ends.tolist()):
                    if stop > at:
                        mapped.madvise(mmap.MADV_DONTNEED, at, stop - at)

    # --- terms ---------------------------------------------------------------------------

    def postings(self, part_number: int, row: int) -> Postings:
        """A term's postings in one part (part-local passage numbers), with its range bounds."""
        part = self.parts[part_number]
        a = part.arrays
        start, end = int(a["term_ptr"][row]), int(a["term_ptr"][row + 1])
        slot = int(part.range_slots(np.array([row]))[0])
        ranged = slot >= 0
        return Postings(
            a["post_doc"][start:end],
            a["post_tf"][start:end],
            int(a["term_tfmax"][row]),
            a["range_tf"][slot] if ranged else None,
            a["range_dl"][slot] if ranged else None,
            self.scoring[part_number].source.range_size if ranged else 0,
        )

    def df(self, key: np.uint64) -> int:
        """How many live passages hold the term (by ``term_hash`` key)."""
        total = 0
        for part in self.parts:
            row = part.row(key)
            if row is None:
                continue
            total += int(part.arrays["term_ptr"][row + 1]) - int(part.arrays["term_ptr"][row])
            slot = int(np.searchsorted(part.dead_rows, row))
            if slot < len(part.dead_rows) and part.dead_rows[slot] == row:
                total -= int(part.dead_count[slot])
        return total

    def contains(self, key: np.uint64, passage: int) -> bool:
        """Whether the passage holds the term (by ``term_hash`` key)."""
        number, local = self.locate(passage)
        part = self.parts[number]
        row = part.row(key)
        if row is None:
            return False
        docs = part.arrays["post_doc"][int(part.arrays["term_ptr"][row]) : int(part.arrays["term_ptr"][row + 1])]
        pos = int(np.searchsorted(docs, local))
        return pos < len(docs) and int(docs[pos]) == local

    # --- passages and articles -----------------------------------------------------------

    @property
    def n_passages(self) -> int:
        """Passage numbers in use (removed passages keep theirs until the next full build)."""
        return int(self.passage_starts[-1])

    def locate(self, passage: int) -> tuple[int, int]:
        """(part number, part-local passage number) of a passage."""
        number = int(np.searchsorted(self.passage_starts, passage, side="right")) - 1
        return number, passage - int(self.passage_starts[number])

    def passage_text(self, passage: int) -> str:
        found = self._read_texts.get(passage)
        if found is None:
            number, local = self.locate(passage)
            part = self.parts[number]
            offsets = part.arrays["passage_offsets"]
            start, end = int(offsets[local]), int(offsets[local + 1])
            if len(self._read_texts) >= READ_TEXTS_KEPT:
                self._read_texts.clear()
            found = self._read_texts[passage] = part.texts[start:end].decode("utf-8")
        return found

    def passage_article(self, passage: int) -> Article:
        """The article a passage belongs to (live or not)."""
        number = int(self._slot_article[passage])
        found = self._read_articles.get(number)
        if found is None:
            if len(self._read_articles) >= READ_ARTICLES_KEPT:
                self._read_articles.clear()
            found = self._read_articles[number] = self.all_articles[number]
        return found

    def passage_position(self, passage: int) -> int:
        """The passage's number within its article (0: the first)."""
        return passage - self.all_articles.passages(int(self._slot_article[passage])).start

    def article_passages(self, article_number: int) -> range:
        """The passages of a live article (by its number among ``articles``)."""
        return self.articles.passages(article_number)

    def find_article(self, article_id: str) -> int | None:
        """The number (among the live articles) of the article with this id, or None."""
        return self.articles.find(article_id)

    # --- a one-part index as plain arrays (benchmarks, tests) ------------------------------

    @property
    def arrays(self) -> dict[str, np.ndarray]:
        """The arrays of an index of one part with no removals, with ``term_idf``."""
        if len(self.parts) != 1 or len(self.parts[0].dead_articles):
            raise ValueError("the index has several parts or removed articles; build it in full first")
        return dict(self.parts[0].arrays, term_idf=self.idf_rows)

    @property
    def texts_blob(self) -> Any:
        if len(self.parts) != 1:
            raise ValueError("the index has several parts; build it in full first")
        return self.parts[0].texts
