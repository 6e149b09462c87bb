"""The index on disk: version folders of part files with checksums, switched in one rename,
and loaded memory-mapped.

On disk an index folder holds versions and a pointer to the current one::

    index_dir/CURRENT              name of the complete version in use
    index_dir/v-<time>-<fp>/       manifest.json + numpy arrays + passage texts
    index_dir/segments.sqlite      cache of segmented articles (``segment_cache``)

A build writes a new version folder in full, then replaces CURRENT in one rename, so an
interrupted build leaves the previous index in use. Every file's size and CRC32 are in
the manifest; a damaged index is detected on load and rebuilt.
"""

from __future__ import annotations

import contextlib
import json
import mmap
import os
import shutil
import time
import zlib
from pathlib import Path
from typing import Any

import numpy as np

from bot.files import fsync_dir, write_synced
from bot.index.article_table import ArticleTable, encode_articles, passage_counts
from bot.index.live_files import LiveFiles
from bot.index.parts import READ_SPANS, Part, PassageIndex, global_idf
from bot.index.postings import with_range_bounds
from bot.search.bm25 import RANGE_SIZE, BM25Params
from bot.settings import Settings

FORMAT_VERSION = 7  # of the index folder (6: parts, tombstones, per-version idf; 7: articles as JSON lines)


class IndexError_(RuntimeError):
    """The index on disk is missing, damaged or of another format."""


def _crc32_file(path: Path) -> int:
    crc = 0
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 22), b""):
            crc = zlib.crc32(block, crc)
    return crc


SAMPLE_BLOCKS = 64
SAMPLE_BLOCK = 1 << 16
FULL_CHECK_BELOW = 32 << 20


def _sample_crc32(path: Path) -> int:
    """CRC32 of 64 blocks of 64 KiB spread evenly over the file (and its last block).

    Files under 32 MiB are checked in full instead (see ``load_index``).
    """
    size = path.stat().st_size
    crc = 0
    with open(path, "rb") as handle:
        step = max(SAMPLE_BLOCK, size // SAMPLE_BLOCKS)
        for start in [*range(0, size, step), max(0, size - SAMPLE_BLOCK)]:
            handle.seek(start)
            crc = zlib.crc32(handle.read(SAMPLE_BLOCK), crc)
    return crc


def _map_file(path: Path, preload: bool = False, populate: bool = False) -> mmap.mmap:
    """A file mapped read-only (a slice is plain bytes: a passage's text costs one copy).

    With ``preload`` the kernel is asked to read the whole file into the page cache now
    (asynchronously): later reads do not wait for the disk, and nothing counts in this
    process's memory until it is read. With ``populate`` its pages are mapped in at once.
    """
    flags = mmap.MAP_SHARED | (mmap.MAP_POPULATE if populate and hasattr(mmap, "MAP_POPULATE") else 0)
    with open(path, "rb") as handle:
        if preload and hasattr(os, "posix_fadvise"):
            os.posix_fadvise(handle.fileno(), 0, 0, os.POSIX_FADV_WILLNEED)
        return mmap.mmap(handle.fileno(), 0, flags=flags, prot=mmap.PROT_READ)


class FileBytes:
    """A file's bytes, read on demand with ``os.pread`` (by slices): the passage texts and
    article lines. A question reads a few dozen of them; read through a memory map instead,
    each would map in a whole page cache folio (up to 2 MB), which counts in the process's
    resident memory (hundreds of MB a question at 1M passages)."""

    def __init__(self, path: Path, preload: bool = False) -> None:
        self._fd = os.open(path, os.O_RDONLY)
        self._size = os.fstat(self._fd).st_size
        if preload and hasattr(os, "posix_fadvise"):
            os.posix_fadvise(self._fd, 0, 0, os.POSIX_FADV_WILLNEED)

    def __len__(self) -> int:
        return self._size

    def __getitem__(self, where: slice) -> bytes:
        start, stop, step = where.indices(self._size)
        if step != 1:
            raise ValueError("only contiguous slices")
        return os.pread(self._fd, stop - start, start) if stop > start else b""

    def __bytes__(self) -> bytes:
        return self[:]

    def __del__(self) -> None:
        with contextlib.suppress(OSError, AttributeError):
            os.close(self._fd)


PRELOAD_WAIT_S = 1.0  # at most this long a load waits for the posting files to be read (see wait_cached)
MADV_POPULATE_READ = getattr(mmap, "MADV_POPULATE_READ", 22)  # Linux 5.14+


def wait_cached(mappings: list[tuple[mmap.mmap, int, int]], seconds: float) -> float:
    """Wait, up to ``seconds``, until the kernel has read the mapped files into its page cache;
    returns the share of their bytes known to be there.

    A ``preload`` asks for every file at once and does not wait; questions asked while the
    disk is still reading (a cold start: after a reboot, or once the system evicted the
    files) take several times longer, at 1M passages for 10 s and more. Here each 16 MB of a
    file is mapped in (``MADV_POPULATE_READ`` waits for the disk; a cached file takes
    microseconds) and unmapped at once (``MADV_DONTNEED``: the pages stay cached, the
    process's memory does not grow). Past the deadline the rest is left to the read-ahead.
    """
    deadline = time.monotonic() + seconds
    total = sum(len(mapped) for mapped, _, _ in mappings) or 1
    done, chunk = 0, 16 << 20
    for mapped, _, _ in mappings:
        for at in range(0, len(mapped), chunk):
            if time.monotonic() > deadline:
                return done / total
            size = min(chunk, len(mapped) - at)
            try:
                mapped.madvise(MADV_POPULATE_READ, at, size)
                mapped.madvise(mmap.MADV_DONTNEED, at, size)
            except (OSError, ValueError, AttributeError):  # an older kernel, or not Linux
                return done / total
            done += size
    return done / total


def _read_file(path: Path, preload: bool) -> FileBytes | mmap.mmap:
    """A file read by slices: with ``os.pread`` where there is one, else memory-mapped."""
    return FileBytes(path, preload) if hasattr(os, "pread") else _map_file(path, preload)


def _load_array(
    path: Path, preload: bool, populate: bool = False
) -> tuple[np.ndarray, tuple[mmap.mmap, int, int] | None]:
    """A saved array, memory-mapped read-only, and (its mapping, where its data starts, bytes
    an item); None for an empty array."""
    with open(path, "rb") as handle:
        major, _ = np.lib.format.read_magic(handle)
        read_header = np.lib.format.read_array_header_1_0 if major == 1 else np.lib.format.read_array_header_2_0
        shape, fortran, dtype = read_header(handle)
        offset = handle.tell()
    count = int(np.prod(shape)) if shape else 1
    if count == 0 or path.stat().st_size <= offset:
        return np.zeros(shape, dtype=dtype), None
    mapped = _map_file(path, preload, populate)
    array = np.frombuffer(mapped, dtype=dtype, count=count, offset=offset)
    return array.reshape(shape, order="F" if fortran else "C"), (mapped, offset, dtype.itemsize)


PART_ARRAYS = (
    "term_hash",
    "term_ptr",
    "term_order",
    "term_tfmax",
    "post_doc",
    "post_tf",
    "doc_len",
    "passage_offsets",
    "range_rows",
    "range_tf",
    "range_dl",
    "article_rows",  # where each article's JSON line is, its passages and id hash (``article_table``)
)


# small arrays every question reads at random (the term look-up, lengths, where texts are):
# with ``preload`` mapped in at load and never released (1M passages: about 70 MB)
RESIDENT_ARRAYS = frozenset(
    {"term_hash", "term_ptr", "term_tfmax", "doc_len", "passage_offsets", "range_rows", "article_rows"}
)


def part_files(name: str) -> list[str]:
    """The files of a part in a version folder (shared between versions by hard links)."""
    return [f"{name}.{key}.npy" for key in PART_ARRAYS] + [f"{name}.passages.txt", f"{name}.articles.jsonl"]


def new_part_name(kind: str) -> str:
    return f"{kind}{time.strftime('%Y%m%d%H%M%S')}{os.urandom(3).hex()}"


def _file_info(path: Path) -> dict[str, int]:
    return {"size": path.stat().st_size, "crc32": _crc32_file(path), "sample_crc32": _sample_crc32(path)}


def _save_array(path: Path, array: np.ndarray) -> None:
    with open(path, "wb") as handle:
        np.save(handle, np.ascontiguousarray(array))
        handle.flush()
        os.fsync(handle.fileno())


def write_version(
    index_dir: Path,
    parts: list[Part],
    manifest: dict[str, Any],
    epsilon: float,
    previous: Path | None = None,
    previous_files: dict[str, Any] | None = None,
) -> Path:
    """Write a new version folder, then switch CURRENT to it in one rename.

    A part whose files are in the ``previous`` version folder is hard-linked from there (its
    size and checksums carried over from ``previous_files``); the others are written. The
    version's own files are the manifest, the global idf of every part's term rows and the
    removed postings per row (``dead_rows``/``dead_count``, global row numbers).
    """
    index_dir.mkdir(parents=True, exist_ok=True)
    fp = str(manifest.get("fingerprint", ""))[:8]
    name = f"v-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}-{fp}{os.urandom(3).hex()}"
    tmp = index_dir / f".tmp-{name}"
    tmp.mkdir()
    files: dict[str, dict[str, int]] = {}
    previous_files = previous_files or {}
    for part in parts:
        names = part_files(part.name)
        if previous is not None and all(n in previous_files for n in names):
            for n in names:
                os.link(previous / n, tmp / n)
                files[n] = previous_files[n]
            continue
        if "range_rows" not in part.arrays:
            part.arrays = with_range_bounds(part.arrays)
        article_lines, article_rows = encode_articles(part.articles)
        for key in PART_ARRAYS:
            _save_array(tmp / f"{part.name}.{key}.npy", article_rows if key == "article_rows" else part.arrays[key])
        write_synced(tmp / f"{part.name}.passages.txt", bytes(part.texts))
        write_synced(tmp / f"{part.name}.articles.jsonl", article_lines)
        for n in names:
            files[n] = _file_info(tmp / n)
    n_slots = sum(p.n_passages for p in parts)
    n_live = n_slots - sum(len(p.dead_passages()) for p in parts)
    row_starts = np.cumsum([0] + [p.n_terms for p in parts])
    own = {
        "idf": global_idf(parts, n_live, epsilon),
        "dead_rows": np.concatenate([p.dead_rows + r0 for p, r0 in zip(parts, row_starts)] or [np.zeros(0)]).astype(
            np.int64
        ),
        "dead_count": np.concatenate([p.dead_count for p in parts] or [np.zeros(0)]).astype(np.int64),
    }
    for key, array in own.items():
        _save_array(tmp / f"{key}.npy", array)
        files[f"{key}.npy"] = _file_info(tmp / f"{key}.npy")
    manifest = dict(
        manifest,
        files=files,
        format=FORMAT_VERSION,
        range_size=RANGE_SIZE,
        parts=[
            {
                "name": p.name,
                "passages": p.n_passages,
                "terms": p.n_terms,
                "articles": p.count_articles(),
                "dead_articles": p.dead_articles.tolist(),
            }
            for p in parts
        ],
        passages=n_live,
        articles=sum(p.count_articles() - len(p.dead_articles) for p in parts),
        terms=int(np.count_nonzero(own["idf"])),
    )
    write_synced(tmp / "manifest.json", json.dumps(manifest, ensure_ascii=False, indent=1).encode("utf-8"))
    fsync_dir(tmp)
    final = index_dir / name
    os.rename(tmp, final)
    pointer = index_dir / f".CURRENT.{os.getpid()}"
    write_synced(pointer, name.encode())
    os.replace(pointer, index_dir / "CURRENT")
    fsync_dir(index_dir)
    _remove_old_versions(index_dir, keep=name)
    return final


def save_index(
    index_dir: Path,
    arrays: dict[str, np.ndarray],
    texts: bytes,
    articles: list[dict[str, Any]],
    manifest: dict[str, Any],
    epsilon: float = 0.25,
) -> Path:
    """Write a new version of one part (the arrays of ``build_arrays``) and switch CURRENT to it."""
    part = Part(new_part_name("m"), {k: v for k, v in arrays.items() if k in PART_ARRAYS}, texts, articles)
    return write_version(index_dir, [part], manifest, epsilon)


def remove_stale_temporaries(index_dir: Path) -> None:
    """Remove the temporary folders (``.tmp-*``: a version being written, a build's runs) that a
    killed build left behind: those whose writer (pid in the name) is no longer running."""
    if not index_dir.is_dir():
        return
    for path in index_dir.iterdir():
        if path.name.startswith(".tmp-") and path.is_dir() and not _pid_alive(path.name):
            shutil.rmtree(path, ignore_errors=True)


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


def recorded_corpus(index_dir: Path) -> Path | None:
    """The corpus the current index was built from (from its manifest), when known."""
    version = current_version(index_dir)
    if version is None:
        return None
    try:
        corpus = read_manifest(version).get("corpus")
    except IndexError_:
        return None
    return Path(corpus) if corpus else None


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


def load_index(
    index_dir: Path,
    params: BM25Params,
    verify: bool | str = "quick",
    preload: bool = False,
    memory_mb: float = 0,
) -> PassageIndex:
    """Load the current index, memory-mapped. Raises IndexError_ when missing or damaged.

    ``preload`` has the kernel read the index files into the page cache at load, so the
    first questions do not wait for the disk. ``memory_mb`` bounds the index pages the
    process keeps mapped (``PassageIndex.release_pages``; 0: no bound).

    ``verify``: "quick" (default) checks every file's size, the full CRC32 of files under
    32 MiB and a CRC32 of 64 blocks spread over each bigger file (a 1M-passage index loads
    in well under a second); True or "full" checks the full CRC32 of every file; False
    checks sizes only.
    """
    version, manifest, parts, idf = load_parts(index_dir, verify, preload=preload)
    try:
        files = LiveFiles(version, [version / name for name in manifest.get("files", {})])
    except OSError as exc:
        raise IndexError_(f"{version}: cannot load ({exc})") from None
    return PassageIndex(parts, idf, manifest, params, memory_mb, files)


def load_configured_index(settings: Settings) -> PassageIndex:
    """``load_index`` of ``settings.index_dir`` with the configured preload and memory bound."""
    return load_index(
        settings.index_dir, settings.bm25, preload=settings.preload_index, memory_mb=settings.index_memory_mb
    )


def load_parts(
    index_dir: Path, verify: bool | str = "quick", preload: bool = False
) -> tuple[Path, dict[str, Any], list[Part], np.ndarray]:
    """The current version's folder, manifest, parts and idf (see ``load_index``)."""
    version = current_version(index_dir)
    if version is None or not version.is_dir():
        raise IndexError_(f"no index in {index_dir}")
    manifest = read_manifest(version)
    for name, info in manifest.get("files", {}).items():
        path = version / name
        if not path.is_file() or path.stat().st_size != info["size"]:
            raise IndexError_(f"{path}: missing or truncated")
        full = verify is True or verify == "full" or (verify and info["size"] < FULL_CHECK_BELOW)
        if full and _crc32_file(path) != info["crc32"]:
            raise IndexError_(f"{path}: checksum mismatch (damaged)")
        if verify and not full and _sample_crc32(path) != info.get("sample_crc32"):
            raise IndexError_(f"{path}: checksum mismatch (damaged)")
    try:
        dead_rows = np.load(version / "dead_rows.npy")
        dead_count = np.load(version / "dead_count.npy")
        idf = np.load(version / "idf.npy")  # read at random by every question: in memory
        parts, r0 = [], 0
        for info in manifest["parts"]:
            name = info["name"]
            loaded = {
                key: _load_array(version / f"{name}.{key}.npy", preload, preload and key in RESIDENT_ARRAYS)
                for key in PART_ARRAYS
            }
            arrays = {key: array for key, (array, _) in loaded.items()}
            maps = {key: mapped for key, (_, mapped) in loaded.items() if mapped and key not in RESIDENT_ARRAYS}
            files = {kind: version / f"{name}.{kind}" for kind in ("passages.txt", "articles.jsonl")}
            blobs = {kind: _read_file(path, preload) if path.stat().st_size else b"" for kind, path in files.items()}
            maps.update((kind, (blob, 0, 1)) for kind, blob in blobs.items() if isinstance(blob, mmap.mmap))
            r1 = r0 + len(arrays["term_hash"])
            lo, hi = np.searchsorted(dead_rows, [r0, r1])
            part = Part(
                name,
                arrays,
                blobs["passages.txt"],
                ArticleTable(blobs["articles.jsonl"], arrays["article_rows"]),
                np.asarray(info["dead_articles"], dtype=np.int64),
                dead_rows[lo:hi] - r0,
                dead_count[lo:hi],
                maps,
            )
            if int(arrays["term_ptr"][-1]) != len(arrays["post_doc"]) or part.n_passages != info["passages"]:
                raise IndexError_(f"{version}: arrays of part {name} disagree with each other")
            if int(passage_counts(part.articles).sum()) != part.n_passages:
                raise IndexError_(f"{version}: articles of part {name} disagree with its passages")
            parts.append(part)
            r0 = r1
        if len(idf) != r0:
            raise IndexError_(f"{version}: idf disagrees with the term rows")
        if preload:
            wait_cached([part.maps[key] for key in READ_SPANS for part in parts if key in part.maps], PRELOAD_WAIT_S)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise IndexError_(f"{version}: cannot load ({exc})") from None
    return version, manifest, parts, idf
