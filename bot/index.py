"""The passage index: built from the corpus, saved to disk atomically, loaded memory-mapped.

On disk an index folder holds versions and a pointer to the current one::

    index_dir/CURRENT              name of the complete version in use
    index_dir/v-<time>-<fp>/       manifest.json + numpy arrays + passage texts
    index_dir/segments.sqlite      cache of segmented articles (pyvi is the cost of a build)

A build writes a new version folder in full, then replaces CURRENT in one rename, so an
interrupted build leaves the previous index in use. Every file's size and CRC32 are in
the manifest; a damaged index is detected on load and rebuilt.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import logging
import os
import shutil
import sqlite3
import time
import zlib
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Iterator

import numpy as np

from bot.bm25 import BM25Params, Postings, length_norms, okapi_idf
from bot.config import Settings
from bot.corpus import Article, Corpus, LoadProblem, corpus_fingerprint, load_corpus
from bot.passages import split_article
from bot.text import TEXT_VERSION, TermOptions, index_terms, normalize

log = logging.getLogger(__name__)

FORMAT_VERSION = 1
_ARRAYS = (
    "term_hash",
    "term_ptr",
    "term_idf",
    "post_doc",
    "post_tf",
    "doc_len",
    "passage_article",
    "passage_position",
    "passage_offsets",
)


class IndexError_(RuntimeError):
    """The index on disk is missing, damaged or of another format."""


def term_hash(term: str) -> int:
    """A stable 64-bit key for a term (the index stores keys, not strings)."""
    return int.from_bytes(hashlib.blake2b(term.encode("utf-8"), digest_size=8).digest(), "little")


# --- segmenting articles ----------------------------------------------------------------


@dataclass(frozen=True)
class SegmentedArticle:
    """An article's passages and each passage's terms in order of first appearance."""

    key: str
    texts: list[str]
    terms: list[list[tuple[str, int]]]  # per passage: (term, count)
    length: list[int]  # per passage: number of terms


def _segment_settings(settings: Settings) -> dict[str, Any]:
    return {
        "format": FORMAT_VERSION,
        "min": settings.min_chars,
        "max": settings.max_chars,
        "terms": vars(settings.terms),
        "text": TEXT_VERSION,
        "title": settings.title_in_passages,
    }


def article_key(article: Article, settings: Settings) -> str:
    """A hash of what an article's segmentation depends on: its text, title and settings."""
    digest = hashlib.sha256()
    digest.update(json.dumps(_segment_settings(settings), sort_keys=True).encode())
    digest.update(b"\0" + article.title.encode() + b"\0" + article.text.encode())
    return digest.hexdigest()


def segment_article(
    article: Article, min_chars: int, max_chars: int, options: TermOptions, title_in_passages: bool
) -> tuple[list[str], list[list[tuple[str, int]]], list[int]]:
    """Split an article into passages and count each passage's terms."""
    passages = split_article(article, min_chars, max_chars)
    title_terms = index_terms(normalize(article.title), options) if title_in_passages and article.title else []
    texts, terms, lengths = [], [], []
    for passage in passages:
        tokens = index_terms(normalize(passage.text), options) + title_terms
        counts = Counter(tokens)
        texts.append(passage.text)
        terms.append(list(counts.items()))
        lengths.append(len(tokens))
    return texts, terms, lengths


def _segment_batch(
    batch: list[tuple[str, Article]], min_chars: int, max_chars: int, options: TermOptions, title: bool
) -> list[SegmentedArticle]:
    out = []
    for key, article in batch:
        texts, terms, lengths = segment_article(article, min_chars, max_chars, options, title)
        out.append(SegmentedArticle(key, texts, terms, lengths))
    return out


class SegmentCache:
    """Segmented articles by content key, in SQLite (each write is its own transaction)."""

    def __init__(self, path: Path):
        self.path = path
        self.db = sqlite3.connect(str(path), timeout=60)
        self.db.execute("CREATE TABLE IF NOT EXISTS seg (key TEXT PRIMARY KEY, data BLOB)")

    def get_many(self, keys: Iterable[str]) -> dict[str, SegmentedArticle]:
        found: dict[str, SegmentedArticle] = {}
        keys = list(keys)
        for start in range(0, len(keys), 500):
            chunk = keys[start : start + 500]
            marks = ",".join("?" * len(chunk))
            for key, blob in self.db.execute(f"SELECT key, data FROM seg WHERE key IN ({marks})", chunk):
                try:
                    data = json.loads(zlib.decompress(blob))
                    terms = [[(t, c) for t, c in p] for p in data["terms"]]
                    found[key] = SegmentedArticle(key, data["texts"], terms, data["length"])
                except (zlib.error, ValueError, KeyError, TypeError):
                    log.warning("segment cache entry %s is damaged; it will be redone", key[:12])
        return found

    def put_many(self, items: list[SegmentedArticle]) -> None:
        rows = [
            (
                item.key,
                zlib.compress(
                    json.dumps(
                        {"texts": item.texts, "terms": item.terms, "length": item.length},
                        ensure_ascii=False,
                    ).encode()
                ),
            )
            for item in items
        ]
        with self.db:
            self.db.executemany("INSERT OR REPLACE INTO seg VALUES (?, ?)", rows)

    def keep_only(self, keys: set[str]) -> None:
        """Forget articles no longer in the corpus."""
        stale = [k for (k,) in self.db.execute("SELECT key FROM seg") if k not in keys]
        with self.db:
            self.db.executemany("DELETE FROM seg WHERE key = ?", [(k,) for k in stale])

    def close(self) -> None:
        self.db.close()


def segment_articles(
    articles: list[Article], settings: Settings, cache: SegmentCache | None, workers: int | None = None,
    progress: bool = False,
) -> tuple[list[SegmentedArticle], int]:
    """Each article segmented, from the cache when unchanged. Returns (results, how many were new)."""
    keys = [article_key(a, settings) for a in articles]
    cached = cache.get_many(keys) if cache else {}
    todo = [(k, a) for k, a in zip(keys, articles) if k not in cached]
    done: dict[str, SegmentedArticle] = dict(cached)
    if todo:
        args = (settings.min_chars, settings.max_chars, settings.terms, settings.title_in_passages)
        workers = workers or min(os.cpu_count() or 1, 4)
        total_chars = sum(len(a.text) for _, a in todo)
        batches = _batches(todo, max(1, min(200, len(todo) // (workers * 4) or 1)))
        bar = _progress(total_chars, progress)
        if workers > 1 and total_chars > 2_000_000:
            with ProcessPoolExecutor(max_workers=workers) as pool:
                futures = [pool.submit(_segment_batch, b, *args) for b in batches]
                for batch, future in zip(batches, futures):
                    results = future.result()
                    _store(results, done, cache)
                    bar.update(sum(len(a.text) for _, a in batch))
        else:
            for batch in batches:
                results = _segment_batch(batch, *args)
                _store(results, done, cache)
                bar.update(sum(len(a.text) for _, a in batch))
        bar.close()
    return [done[k] for k in keys], len(todo)


def _batches(items: list, size: int) -> list[list]:
    return [items[i : i + size] for i in range(0, len(items), size)]


def _store(results: list[SegmentedArticle], done: dict[str, SegmentedArticle], cache: SegmentCache | None) -> None:
    for item in results:
        done[item.key] = item
    if cache:
        cache.put_many(results)


def _progress(total: int, enabled: bool):
    from tqdm import tqdm

    return tqdm(
        total=total, unit="ch", unit_scale=True, desc="segmenting", disable=not enabled, leave=False
    )


# --- the index in memory ----------------------------------------------------------------


@dataclass
class PassageIndex:
    """A searchable index: term postings, passage texts and article metadata."""

    arrays: dict[str, np.ndarray]
    texts_blob: bytes | memoryview
    articles: list[dict[str, Any]]
    manifest: dict[str, Any]
    params: BM25Params

    def __post_init__(self) -> None:
        self.norms = length_norms(self.arrays["doc_len"], self.params)

    @property
    def n_passages(self) -> int:
        return int(len(self.arrays["doc_len"]))

    def lookup(self, term: str) -> int | None:
        """The term's row, or None when no passage has it."""
        hashes = self.arrays["term_hash"]
        key = np.uint64(term_hash(term))
        row = int(np.searchsorted(hashes, key))
        if row < len(hashes) and hashes[row] == key:
            return row
        return None

    def postings(self, row: int) -> Postings:
        start, end = int(self.arrays["term_ptr"][row]), int(self.arrays["term_ptr"][row + 1])
        return Postings(self.arrays["post_doc"][start:end], self.arrays["post_tf"][start:end])

    def idf(self, row: int) -> float:
        return float(self.arrays["term_idf"][row])

    def passage_text(self, passage: int) -> str:
        offsets = self.arrays["passage_offsets"]
        start, end = int(offsets[passage]), int(offsets[passage + 1])
        return bytes(self.texts_blob[start:end]).decode("utf-8")

    def passage_article(self, passage: int) -> dict[str, Any]:
        return self.articles[int(self.arrays["passage_article"][passage])]

    def passage_position(self, passage: int) -> int:
        return int(self.arrays["passage_position"][passage])

    def article_passages(self, article_number: int) -> range:
        article = self.articles[article_number]
        return range(article["first_passage"], article["first_passage"] + article["passages"])

    def find_article(self, article_id: str) -> int | None:
        for number, article in enumerate(self.articles):
            if article["id"] == article_id:
                return number
        return None


def build_arrays(
    segmented: list[SegmentedArticle], epsilon: float
) -> tuple[dict[str, np.ndarray], bytes, list[int]]:
    """Postings, lengths and texts from segmented articles (terms in first-appearance order)."""
    vocab: dict[str, int] = {}
    term_ids: list[int] = []
    docs: list[int] = []
    tfs: list[int] = []
    doc_len: list[int] = []
    passage_article: list[int] = []
    passage_position: list[int] = []
    texts: list[bytes] = []
    per_article: list[int] = []
    doc = 0
    for number, item in enumerate(segmented):
        per_article.append(len(item.texts))
        for position, (text, terms, length) in enumerate(zip(item.texts, item.terms, item.length)):
            for term, count in terms:
                term_id = vocab.setdefault(term, len(vocab))
                term_ids.append(term_id)
                docs.append(doc)
                tfs.append(count)
            doc_len.append(length)
            passage_article.append(number)
            passage_position.append(position)
            texts.append(text.encode("utf-8"))
            doc += 1
    n_terms = len(vocab)
    term_ids_a = np.asarray(term_ids, dtype=np.int64)
    df = np.bincount(term_ids_a, minlength=n_terms)
    arrays = _finish_arrays(
        vocab, term_ids_a, docs, tfs, df, doc_len, passage_article, passage_position, texts, epsilon
    )
    return arrays, b"".join(texts), per_article


def _finish_arrays(vocab, term_ids_a, docs, tfs, df, doc_len, passage_article, passage_position, texts, epsilon):
    n_docs = len(doc_len)
    idf_by_id = okapi_idf(df, n_docs, epsilon)
    hashes = np.fromiter((term_hash(t) for t in vocab), dtype=np.uint64, count=len(vocab))
    if len(np.unique(hashes)) != len(hashes):  # pragma: no cover - 64-bit collision
        raise IndexError_("two terms share a hash key; cannot build")
    order = np.argsort(hashes, kind="stable")  # row r holds term id order[r]
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order))
    rows = rank[term_ids_a] if len(term_ids_a) else term_ids_a
    sort = np.argsort(rows, kind="stable")  # passages stay ascending within a term
    post_doc = np.asarray(docs, dtype=np.int32)[sort]
    post_tf = np.minimum(np.asarray(tfs, dtype=np.int64), 65535).astype(np.uint16)[sort]
    counts = np.bincount(rows, minlength=len(vocab)) if len(rows) else np.zeros(len(vocab), np.int64)
    term_ptr = np.zeros(len(vocab) + 1, dtype=np.int64)
    np.cumsum(counts, out=term_ptr[1:])
    offsets = np.zeros(len(texts) + 1, dtype=np.int64)
    np.cumsum([len(t) for t in texts], out=offsets[1:])
    return {
        "term_hash": hashes[order],
        "term_ptr": term_ptr,
        "term_idf": idf_by_id[order],
        "post_doc": post_doc,
        "post_tf": post_tf,
        "doc_len": np.asarray(doc_len, dtype=np.int32),
        "passage_article": np.asarray(passage_article, dtype=np.int32),
        "passage_position": np.asarray(passage_position, dtype=np.int32),
        "passage_offsets": offsets,
    }



# --- saving and loading -----------------------------------------------------------------


def _crc32_file(path: Path) -> int:
    crc = 0
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 22), b""):
            crc = zlib.crc32(block, crc)
    return crc


def fsync_dir(path: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(str(path), os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _write_file(path: Path, data: bytes) -> None:
    with open(path, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())


def save_index(
    index_dir: Path, arrays: dict[str, np.ndarray], texts: bytes, articles: list[dict[str, Any]], manifest: dict[str, Any]
) -> Path:
    """Write a new version folder in full, then switch CURRENT to it in one rename."""
    index_dir.mkdir(parents=True, exist_ok=True)
    name = f"v-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}-{time.time_ns() % 10**9:09d}-{manifest['fingerprint'][:8]}"
    tmp = index_dir / f".tmp-{name}"
    tmp.mkdir()
    files: dict[str, dict[str, int]] = {}
    for key in _ARRAYS:
        path = tmp / f"{key}.npy"
        with open(path, "wb") as handle:
            np.save(handle, np.ascontiguousarray(arrays[key]))
            handle.flush()
            os.fsync(handle.fileno())
    _write_file(tmp / "passages.txt", texts)
    _write_file(tmp / "articles.json", json.dumps(articles, ensure_ascii=False).encode("utf-8"))
    for path in sorted(tmp.iterdir()):
        files[path.name] = {"size": path.stat().st_size, "crc32": _crc32_file(path)}
    manifest = dict(manifest, files=files, format=FORMAT_VERSION)
    _write_file(tmp / "manifest.json", json.dumps(manifest, ensure_ascii=False, indent=1).encode("utf-8"))
    fsync_dir(tmp)
    final = index_dir / name
    os.rename(tmp, final)
    pointer = index_dir / f".CURRENT.{os.getpid()}"
    _write_file(pointer, name.encode())
    os.replace(pointer, index_dir / "CURRENT")
    fsync_dir(index_dir)
    _remove_old_versions(index_dir, keep=name)
    return final


def _remove_old_versions(index_dir: Path, keep: str) -> None:
    for path in index_dir.iterdir():
        if path.is_dir() and path.name != keep and (path.name.startswith("v-") or path.name.startswith(".tmp-")):
            if path.name.startswith(".tmp-") and _pid_alive(path.name):
                continue
            shutil.rmtree(path, ignore_errors=True)


def _pid_alive(name: str) -> bool:
    """Whether a temporary folder's writer (pid in its name) is still running."""
    try:
        pid = int(name.split("-")[4])
    except (IndexError, ValueError):
        return False
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    return True


def current_version(index_dir: Path) -> Path | None:
    pointer = index_dir / "CURRENT"
    if not pointer.is_file():
        return None
    name = pointer.read_text(encoding="utf-8").strip()
    return index_dir / name if name else None


def read_manifest(version: Path) -> dict[str, Any]:
    try:
        manifest = json.loads((version / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise IndexError_(f"{version}: manifest unreadable ({exc})") from None
    if manifest.get("format") != FORMAT_VERSION:
        raise IndexError_(f"{version}: index format {manifest.get('format')} is not {FORMAT_VERSION}")
    return manifest


def load_index(index_dir: Path, params: BM25Params, verify: bool = True) -> PassageIndex:
    """Load the current index, memory-mapped. Raises IndexError_ when missing or damaged."""
    version = current_version(index_dir)
    if version is None or not version.is_dir():
        raise IndexError_(f"no index in {index_dir}")
    manifest = read_manifest(version)
    for name, info in manifest.get("files", {}).items():
        path = version / name
        if not path.is_file() or path.stat().st_size != info["size"]:
            raise IndexError_(f"{path}: missing or truncated")
        if verify and _crc32_file(path) != info["crc32"]:
            raise IndexError_(f"{path}: checksum mismatch (damaged)")
    try:
        arrays = {key: np.load(version / f"{key}.npy", mmap_mode="r") for key in _ARRAYS}
        articles = json.loads((version / "articles.json").read_text(encoding="utf-8"))
        size = (version / "passages.txt").stat().st_size
        texts: bytes | memoryview = (
            np.memmap(version / "passages.txt", dtype=np.uint8, mode="r") if size else b""
        )
    except (OSError, ValueError) as exc:
        raise IndexError_(f"{version}: cannot load ({exc})") from None
    if int(arrays["term_ptr"][-1]) != len(arrays["post_doc"]) or len(arrays["doc_len"]) != manifest["passages"]:
        raise IndexError_(f"{version}: arrays disagree with each other")
    return PassageIndex(arrays, texts, articles, manifest, params)


# --- building from a corpus -------------------------------------------------------------


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


def settings_fingerprint(settings: Settings) -> str:
    return hashlib.sha256(json.dumps(settings.index_fingerprint_part(), sort_keys=True).encode()).hexdigest()


def full_fingerprint(settings: Settings) -> str:
    """Changes when any corpus file or any index setting changes."""
    return hashlib.sha256(
        (corpus_fingerprint(settings.corpus) + settings_fingerprint(settings)).encode()
    ).hexdigest()


@contextlib.contextmanager
def _build_lock(index_dir: Path) -> Iterator[None]:
    index_dir.mkdir(parents=True, exist_ok=True)
    with open(index_dir / ".lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def build_index(settings: Settings, corpus: Corpus | None = None, progress: bool = False) -> BuildReport:
    """Build the index of ``settings.corpus`` into ``settings.index_dir`` (reusing the cache)."""
    started = time.perf_counter()
    with _build_lock(settings.index_dir):
        fingerprint = full_fingerprint(settings)
        corpus = corpus or load_corpus(settings.corpus)
        cache = SegmentCache(settings.index_dir / "segments.sqlite")
        try:
            segmented, fresh = segment_articles(corpus.articles, settings, cache, progress=progress)
            cache.keep_only({s.key for s in segmented})
        finally:
            cache.close()
        arrays, texts, per_article = build_arrays(segmented, settings.bm25.epsilon)
        articles = []
        first = 0
        for article, count in zip(corpus.articles, per_article):
            meta = article.metadata()
            meta.update(first_passage=first, passages=count)
            articles.append(meta)
            first += count
        manifest = {
            "fingerprint": fingerprint,
            "settings": settings.index_fingerprint_part(),
            "articles": len(articles),
            "passages": len(arrays["doc_len"]),
            "terms": len(arrays["term_hash"]),
            "problems": [str(p) for p in corpus.problems],
            "built_at": time.strftime("%Y-%m-%dT%H:%M:%S"),
        }
        save_index(settings.index_dir, arrays, texts, articles, manifest)
    return BuildReport(
        "built", "", len(articles), manifest["passages"], fresh, time.perf_counter() - started, corpus.problems
    )


def ensure_index(settings: Settings, progress: bool = False) -> tuple[PassageIndex, BuildReport]:
    """Load the index; build it when missing, stale (corpus or settings changed) or damaged."""
    started = time.perf_counter()
    if not settings.corpus.exists():
        raise FileNotFoundError(str(settings.corpus))
    reason = ""
    try:
        index = load_index(settings.index_dir, settings.bm25)
        if index.manifest.get("fingerprint") == full_fingerprint(settings):
            problems = [LoadProblem(*p.split(": ", 1)) if ": " in p else LoadProblem(p, "") for p in index.manifest.get("problems", [])]
            return index, BuildReport(
                "loaded", "up to date", len(index.articles), index.n_passages, 0,
                time.perf_counter() - started, problems,
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
    return load_index(settings.index_dir, settings.bm25), report
