"""Durable files: written whole and synced before they count (shared by the corpus store and the index)."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

TEMP_PREFIX = ".tmp-"  # of a file being written (``write_atomic``); a leftover one is stale


def fsync_dir(path: Path) -> None:
    """Make a rename or deletion in the folder ``path`` durable (best effort)."""
    with contextlib.suppress(OSError):
        fd = os.open(str(path), os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def write_synced(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` and wait until it is on disk (no rename: for new files)."""
    with open(path, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())


def write_atomic(path: Path, text: str) -> None:
    """Write a text file whole or not at all: a hidden temporary file, fsync, then rename."""
    tmp = path.with_name(f"{TEMP_PREFIX}{os.getpid()}-{path.name}")
    try:
        with open(tmp, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
    fsync_dir(path.parent)
