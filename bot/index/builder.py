"""Building and updating the index of a corpus: a full build into one part, or a new version
made of the current one's parts, a delta part of the new articles and tombstones for the
removed ones (``build_index``); ``ensure_index`` loads it and builds it when due.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import json
import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from bot.corpus.article import Article, Corpus, LoadProblem
from bot.corpus.loading import load_corpus
from bot.index.article_table import passage_counts
from bot.index.fingerprint import article_keys, full_fingerprint, index_settings
from bot.index.parts import Part, PassageIndex, articles_of
from bot.index.postings import build_arrays
from bot.index.runs import build_part_arrays
from bot.index.segment_cache import SEGMENT_CACHE_FILE, SegmentCache
from bot.index.segmenter import SegmentedArticle, segment_articles
from bot.index.storage import (
    IndexError_,
    current_version,
    load_configured_index,
    load_index,
    load_parts,
    new_part_name,
    remove_stale_temporaries,
    write_version,
)
from bot.settings import Settings

log = logging.getLogger(__name__)

MAX_PARTS = 8  # more parts than this: the delta parts are merged into one
COMPACT_SHARE = 0.1  # removed or delta passages above this share of the live ones: one part again
COMPACT_MIN_PASSAGES = 2000  # ... once there are at least this many of them


@dataclass
class BuildReport:
    """What ``ensure_index`` did."""

    action: str  # "loaded", "built", "rebuilt"
    reason: str
    articles: int
    passages: int
    segmented: int
    seconds: float
    problems: list[LoadProblem]
    mode: str = "full"  # "full" (one part), "delta" (a delta part and/or removals), "compacted"
    detail: str = ""  # what the delta did: "+100 -1 articles, 3 parts"


@dataclass(frozen=True)
class FullBuildDue:
    """The decision that a new version cannot be made of the current one's parts: the whole
    corpus is built into one part again."""

    reason: str


@dataclass(frozen=True)
class CorpusMatch:
    """The corpus matched against the current index, for a new version made of its parts."""

    unchanged: dict[int, Article]  # global article number in the index -> the same article of the corpus
    keys: set[str]  # every corpus article's content key (what the segment cache keeps)


def manifest_problems(problems: list[LoadProblem]) -> list[dict[str, str]]:
    """The corpus's load problems as a manifest stores them."""
    return [dataclasses.asdict(p) for p in problems]


def problems_of(manifest: dict[str, Any]) -> list[LoadProblem]:
    """The load problems a manifest records (also as ``"path: reason"`` strings, as indexes
    written before format 7's typed records hold them)."""
    problems = []
    for entry in manifest.get("problems", []):
        if isinstance(entry, dict):
            problems.append(
                LoadProblem(str(entry.get("path", "")), str(entry.get("reason", "")), bool(entry.get("loaded", False)))
            )
        else:
            path, _, reason = str(entry).partition(": ")
            problems.append(LoadProblem(path, reason))
    return problems


@contextlib.contextmanager
def _build_lock(index_dir: Path) -> Iterator[None]:
    index_dir.mkdir(parents=True, exist_ok=True)
    with open(index_dir / ".lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _article_list(metas: list[dict[str, Any]], per_article: list[int]) -> list[dict[str, Any]]:
    """Article metadata with each article's first passage and passage count (in its part)."""
    out, first = [], 0
    for meta, count in zip(metas, per_article):
        out.append(dict(meta, first_passage=first, passages=count))
        first += count
    return out


def _identity(meta: dict[str, Any]) -> str:
    """What must not change for an article to stay in its part: metadata and content key.

    Not where it was read from: a JSON Lines article whose line moved (a line removed above
    it, or a new export file) is the same article; its id and content say so.
    """
    return json.dumps({k: v for k, v in meta.items() if k not in ("first_passage", "passages", "path")}, sort_keys=True)


def build_index(
    settings: Settings, corpus: Corpus | None = None, progress: bool = False, full: bool = False
) -> BuildReport:
    """Build the index of ``settings.corpus`` into ``settings.index_dir`` (reusing the cache).

    When the current index has the same settings, only the corpus's new or changed articles
    are segmented, into a small delta part; removed or changed ones are marked removed; the
    other parts are hard-linked into the new version. Past ``MAX_PARTS`` parts the deltas
    are merged; past ``COMPACT_SHARE`` of delta or removed passages (or with ``full``) the
    whole corpus is built into one part again.
    """
    started = time.perf_counter()
    with _build_lock(settings.index_dir):
        fingerprint = full_fingerprint(settings)
        corpus = corpus or load_corpus(settings.corpus)
        keys = article_keys(corpus.articles, settings)
        metas = [dict(a.metadata(), key=k) for a, k in zip(corpus.articles, keys)]
        manifest = {
            "fingerprint": fingerprint,
            "settings": index_settings(settings),
            "problems": manifest_problems(corpus.problems),
            "corpus": str(Path(settings.corpus).resolve()),
            "built_at": time.strftime("%Y-%m-%dT%H:%M:%S"),
        }
        base = None if full else _incremental_base(settings)
        outcome: BuildReport | FullBuildDue = (
            FullBuildDue("a full build")
            if base is None
            else _update_from_corpus(settings, base, corpus.articles, metas, manifest, progress)
        )
        if isinstance(outcome, FullBuildDue):
            log.debug("building the index in full: %s", outcome.reason)
            SegmentCache.in_index(settings.index_dir).close()  # made (WAL) before the workers write to it
            cache_path = settings.index_dir / SEGMENT_CACHE_FILE
            arrays, texts, per_article, fresh = build_part_arrays(
                corpus.articles, keys, settings, cache_path, progress=progress
            )
            cache = SegmentCache(cache_path)
            try:
                cache.keep_only(set(keys))
            finally:
                cache.close()
            part = Part(new_part_name("m"), arrays, texts, _article_list(metas, per_article))
            write_version(settings.index_dir, [part], manifest, settings.bm25.epsilon)
            outcome = BuildReport(
                "built",
                "",
                len(metas),
                len(arrays["doc_len"]),
                fresh,
                0.0,
                corpus.problems,
                "compacted" if base is not None else "full",
            )
    outcome.problems = corpus.problems
    outcome.seconds = time.perf_counter() - started
    return outcome


def _incremental_base(settings: Settings) -> PassageIndex | None:
    """The current index when a new version can be made of its parts (same settings)."""
    try:
        index = load_index(settings.index_dir, settings.bm25)
    except IndexError_:
        return None
    if index.manifest.get("settings") != index_settings(settings) or index.manifest.get("synthetic"):
        return None
    return index


def _update_from_corpus(
    settings: Settings,
    base: PassageIndex,
    articles: list[Article],
    metas: list[dict[str, Any]],
    manifest: dict[str, Any],
    progress: bool,
) -> BuildReport | FullBuildDue:
    """A new version of ``base`` for the corpus ``articles`` (``metas``: their stored metadata)."""
    waiting: dict[str, list[int]] = {}
    for number in _live_numbers(base.parts):
        waiting.setdefault(_identity(base.all_articles.stored(number).metadata), []).append(number)
    unchanged: dict[int, Article] = {}
    added: list[int] = []
    for position, meta in enumerate(metas):
        found = waiting.get(_identity(meta))
        if found:
            unchanged[found.pop(0)] = articles[position]
        else:
            added.append(position)
    removed = sorted(n for found in waiting.values() for n in found)
    return _update(
        settings,
        base.parts,
        base.manifest,
        removed,
        [articles[i] for i in added],
        [metas[i] for i in added],
        manifest,
        progress,
        CorpusMatch(unchanged, {m["key"] for m in metas}),
    )


def _part_starts(parts: list[Part]) -> list[int]:
    """The global number of each part's first article, and the number of articles."""
    return np.cumsum([0] + [p.count_articles() for p in parts]).astype(np.int64).tolist()


def _live_numbers(parts: list[Part]) -> list[int]:
    """Global numbers of the articles not removed."""
    live = []
    for part, base in zip(parts, _part_starts(parts)):
        dead = set(part.dead_articles.tolist())
        live.extend(base + n for n in range(part.count_articles()) if n not in dead)
    return live


def append_articles(settings: Settings, articles: list[Article], progress: bool = False) -> BuildReport:
    """Add ``articles`` after those of the current index (of any kind, synthetic too) as a delta part.

    The corpus is not read: this is what a build does when the corpus only gained these
    articles (``bench`` times it on a scaled-up index without a corpus).
    """
    started = time.perf_counter()
    with _build_lock(settings.index_dir):
        _, base_manifest, parts, _ = load_parts(settings.index_dir)
        metas = [dict(a.metadata(), key=k) for a, k in zip(articles, article_keys(articles, settings))]
        manifest = {k: v for k, v in base_manifest.items() if k not in ("files", "parts")}
        manifest.update(fingerprint="", built_at=time.strftime("%Y-%m-%dT%H:%M:%S"))
        outcome = _update(settings, parts, base_manifest, [], articles, metas, manifest, progress, None)
    if isinstance(outcome, FullBuildDue):
        raise IndexError_("the index cannot take a delta part; build it in full")
    outcome.seconds = time.perf_counter() - started
    return outcome


def mark_removed(part: Part, local: list[int], segmented: list[SegmentedArticle]) -> Part | None:
    """``part`` with its articles ``local`` (part-local numbers, segmented as ``segmented``)
    marked removed: their postings are subtracted from the terms' document frequencies.
    None when the segmentation does not match the part (then only a full build is right)."""
    rows, counts = [part.dead_rows], [part.dead_count]
    for n, item in zip(local, segmented):
        if len(item.texts) != int(passage_counts(part.articles)[n]) or part.n_terms == 0:
            return None
        hashes = np.asarray(item.hashes, dtype=np.uint64)
        term_hashes = np.asarray(part.arrays["term_hash"])
        hits = np.minimum(np.searchsorted(term_hashes, hashes), part.n_terms - 1)
        if not np.array_equal(term_hashes[hits], hashes):
            return None
        rows.append(hits.astype(np.int64))
        counts.append(np.ones(len(hits), dtype=np.int64))
    all_rows, inverse = np.unique(np.concatenate(rows), return_inverse=True)
    dead_count = np.bincount(inverse, weights=np.concatenate(counts).astype(np.float64), minlength=len(all_rows))
    return dataclasses.replace(
        part,
        dead_rows=all_rows.astype(np.int64),
        dead_count=np.rint(dead_count).astype(np.int64),
        dead_articles=np.union1d(part.dead_articles, np.asarray(local, dtype=np.int64)),
    )


def _update(
    settings: Settings,
    base_parts: list[Part],
    base_manifest: dict[str, Any],
    removed: list[int],
    new_articles: list[Article],
    new_metas: list[dict[str, Any]],
    manifest: dict[str, Any],
    progress: bool,
    corpus: CorpusMatch | None,
) -> BuildReport | FullBuildDue:
    """Write a version of the current one (``base_parts``, ``base_manifest``) without the
    ``removed`` articles (global numbers) and with the new ones in a delta part.

    ``corpus``: how the corpus matches the current articles (merging the delta parts takes
    their articles from it); None when there is no corpus: the deltas are never merged,
    nor the whole built again. Returns ``FullBuildDue`` when a full build is right instead.
    """
    stored = articles_of(base_parts)
    starts = _part_starts(base_parts)

    def part_of(number: int) -> int:
        return int(np.searchsorted(starts, number, side="right")) - 1

    n_parts = len(base_parts) + (1 if new_articles else 0)
    merge = corpus is not None and n_parts > MAX_PARTS
    kept_parts = base_parts[:1] if merge else list(base_parts)
    dead_now = sum(len(p.dead_passages()) for p in base_parts[: len(kept_parts)])
    cache = SegmentCache.in_index(settings.index_dir)
    try:
        gone = [n for n in removed if part_of(n) < len(kept_parts)]
        gone_keys = [stored.stored(n).key for n in gone]
        found = cache.get_many([k for k in gone_keys if k])
        if any(k not in found for k in gone_keys):
            return FullBuildDue("a removed article's terms are not in the segment cache")
        dropped = set(removed)
        merged = [n for n in _live_numbers(base_parts) if merge and part_of(n) > 0 and n not in dropped]
        todo = ([corpus.unchanged[n] for n in merged] if corpus is not None else []) + list(new_articles)
        segmented, fresh = segment_articles(todo, settings, cache, progress=progress)
        if corpus is not None:
            cache.keep_only(corpus.keys)
    finally:
        cache.close()
    new_passages = sum(len(s.texts) for s in segmented)
    delta_passages = new_passages + sum(p.n_passages for p in kept_parts[1:])
    dead_after = dead_now + sum(stored.stored(n).passages for n in gone)
    live_after = sum(p.n_passages for p in kept_parts) - dead_after + new_passages
    waste = max(delta_passages, dead_after)
    if corpus is not None and waste > COMPACT_SHARE * live_after and waste >= COMPACT_MIN_PASSAGES:
        return FullBuildDue(f"{waste} delta or removed passages of {live_after}: compacting")
    parts = [dataclasses.replace(p) for p in kept_parts]
    by_part: dict[int, list[int]] = {}
    for n in gone:
        by_part.setdefault(part_of(n), []).append(n)
    for number, dead in by_part.items():
        marked = mark_removed(
            parts[number], [n - starts[number] for n in dead], [found[stored.stored(n).key] for n in dead]
        )
        if marked is None:
            return FullBuildDue("a removed article's terms do not match its part")
        parts[number] = marked
    if segmented:
        metas = [stored.stored(n).metadata for n in merged]
        arrays, texts, per_article = build_arrays(segmented, settings.bm25.epsilon)
        parts.append(Part(new_part_name("d"), arrays, texts, _article_list(metas + new_metas, per_article)))
    version = current_version(settings.index_dir)
    write_version(settings.index_dir, parts, manifest, settings.bm25.epsilon, version, base_manifest.get("files", {}))
    detail = f"+{len(new_articles)} -{len(removed)} articles, {len(parts)} parts" + (", deltas merged" if merge else "")
    return BuildReport(
        "built",
        "",
        sum(p.count_articles() - len(p.dead_articles) for p in parts),
        live_after,
        fresh,
        0.0,
        [],
        "delta",
        detail,
    )


def ensure_index(settings: Settings, progress: bool = False) -> tuple[PassageIndex, BuildReport]:
    """Load the index; build it when missing, stale (corpus or settings changed) or damaged."""
    started = time.perf_counter()
    index, report = _check_or_build(settings, progress)
    if index is None:
        index = load_configured_index(settings)
        report.seconds = time.perf_counter() - started
    return index, report


def refresh_index(settings: Settings, progress: bool = False) -> BuildReport:
    """``ensure_index`` without loading the index once built (what ``bot index`` needs)."""
    return _check_or_build(settings, progress)[1]


def _check_or_build(settings: Settings, progress: bool) -> tuple[PassageIndex | None, BuildReport]:
    """The current index when up to date; else None and the report of the build that made it so."""
    started = time.perf_counter()
    if not settings.corpus.exists():
        raise FileNotFoundError(str(settings.corpus))
    remove_stale_temporaries(settings.index_dir)  # of a killed build (the index may be up to date)
    reason = ""
    try:
        index = load_configured_index(settings)
        if index.manifest.get("fingerprint") == full_fingerprint(settings):
            return index, BuildReport(
                "loaded",
                "up to date",
                len(index.articles),
                index.n_live,
                0,
                time.perf_counter() - started,
                problems_of(index.manifest),
            )
        reason = "the corpus or the settings changed"
    except IndexError_ as exc:
        reason = str(exc)
        if current_version(settings.index_dir) is not None:
            log.warning("index unusable, rebuilding: %s", exc)
    report = build_index(settings, progress=progress)
    report.action = "built" if reason.startswith("no index") else "rebuilt"
    report.reason = reason
    report.seconds = time.perf_counter() - started
    return None, report
