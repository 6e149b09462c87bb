"""The ids of updates whose reply is being handed to Telegram, in a memory-mapped file.

The inbox marks an update done once Telegram accepted its reply, but a crash can strike
between the moment the reply's request was written and the moment that mark is durable
(the event loop may run other work in between): the reply was sent, the update is still
pending, and the next start would answer it again. So the update id is stored here just
before the request is written: a store into a shared memory map is a plain memory write
(no system call, no pause of the thread), and it survives the process being killed (the
page belongs to the file). On start the ids found here are marked done in the inbox. An
attempt that fails (429, an error) clears its id again.
"""

from __future__ import annotations

import mmap
import os
from pathlib import Path

SLOTS = 4096  # far more than requests in flight: a slot is reused only long after its mark


class HandoverLog:
    """A ring of update ids (int64) in a file, memory-mapped."""

    def __init__(self, path: Path):
        size = SLOTS * 8
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            if os.fstat(fd).st_size != size:
                os.ftruncate(fd, size)
            self._map = mmap.mmap(fd, size, flags=mmap.MAP_SHARED, prot=mmap.PROT_READ | mmap.PROT_WRITE)
        finally:
            os.close(fd)
        self._ids = memoryview(self._map).cast("q")
        self._next = 0

    def note(self, update_id: int) -> None:
        """Record that ``update_id``'s reply is about to be written."""
        self._ids[self._next] = update_id
        self._next = (self._next + 1) % SLOTS

    def clear(self, update_id: int) -> None:
        """Forget ``update_id`` (its reply's request failed)."""
        for slot in range(SLOTS):
            if self._ids[slot] == update_id:
                self._ids[slot] = 0

    def recorded(self) -> set[int]:
        return {update_id for update_id in self._ids.tolist() if update_id}

    def reset(self) -> None:
        self._ids[:] = memoryview(bytes(SLOTS * 8)).cast("q")
        self._next = 0

    def close(self) -> None:
        self._ids.release()
        self._map.close()
