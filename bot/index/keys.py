"""Term keys: what the index stores for a term instead of its string (the question path needs
only this, not the build)."""

from __future__ import annotations

import hashlib


def term_hash(term: str) -> int:
    """A stable 64-bit key for a term (the index stores keys, not strings)."""
    return int.from_bytes(hashlib.blake2b(term.encode("utf-8"), digest_size=8).digest(), "little")
