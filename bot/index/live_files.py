"""The files a loaded index reads, held open, so that a change made in place is seen in time.

The index's arrays are memory-mapped: a mapped file truncated under the process (an index
copied over the live folder in place, say) kills it with SIGBUS at the next read. A version's
files are never written in place by the bot (a build writes a new version folder), so any
change of size or modification time of the very file read (``os.fstat`` of an open
descriptor: one system call each, microseconds a question) means somebody else wrote it,
and the index must not be read again. Files replaced by a rename or deleted are harmless:
the mapping keeps the old file alive.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class FileStamp:
    path: Path
    fd: int
    size: int
    mtime_ns: int


class LiveFiles:
    """The open files of one loaded index version (closed when dropped)."""

    def __init__(self, version: Path, paths: list[Path]):
        self.version = version
        self.stamps: list[FileStamp] = []
        for path in paths:
            fd = os.open(path, os.O_RDONLY)
            info = os.fstat(fd)
            self.stamps.append(FileStamp(path, fd, info.st_size, info.st_mtime_ns))

    def changed(self) -> str | None:
        """The first file changed in place since the load (as a reason), or None."""
        for stamp in self.stamps:
            info = os.fstat(stamp.fd)
            if info.st_size != stamp.size:
                return f"{stamp.path.name}: size {stamp.size} -> {info.st_size} (changed in place)"
            if info.st_mtime_ns != stamp.mtime_ns:
                return f"{stamp.path.name}: rewritten in place"
        return None

    def close(self) -> None:
        for stamp in self.stamps:
            with contextlib.suppress(OSError):
                os.close(stamp.fd)
        self.stamps = []

    def __del__(self) -> None:
        self.close()
