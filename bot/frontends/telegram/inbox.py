"""The durable inbox of fetched updates (SQLite, WAL, fsync on every commit).

Every update fetched from Telegram is written here before the next ``getUpdates`` offset
confirms it, and marked done once it was handled (its reply accepted by Telegram, or it was
dropped or could not be read). On start the pending updates are handled first; an update id
already here is never taken again, so a re-delivered update is not answered twice.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

KEEP_DONE_S = 2 * 24 * 3600  # done rows are forgotten after two days (Telegram keeps updates 24 h)

SCHEMA = """
CREATE TABLE IF NOT EXISTS updates (
    update_id INTEGER PRIMARY KEY,
    body TEXT NOT NULL,
    received REAL NOT NULL,
    outcome TEXT,           -- NULL while pending; answered, dropped, unreadable, expired
    done_at REAL
);
CREATE INDEX IF NOT EXISTS pending ON updates (update_id) WHERE outcome IS NULL;
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
"""


@dataclass(frozen=True)
class StoredUpdate:
    """One fetched update as Telegram sent it, and when it was stored (``time.time()``)."""

    update_id: int
    body: dict[str, Any]
    received: float


class Inbox:
    """The SQLite inbox; used from one thread (the bot's event loop)."""

    def __init__(self, path: Path):
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=FULL")  # fsync on every commit
        self.db.executescript(SCHEMA)

    def close(self) -> None:
        self.db.close()

    def add(self, updates: Iterable[dict[str, Any]]) -> list[StoredUpdate]:
        """Store fetched updates in one transaction; returns the ones not seen before."""
        now, fresh = time.time(), []
        with self.db:
            self.db.execute("BEGIN IMMEDIATE")
            for body in updates:
                update_id = int(body["update_id"])
                cursor = self.db.execute(
                    "INSERT OR IGNORE INTO updates (update_id, body, received) VALUES (?, ?, ?)",
                    (update_id, json.dumps(body, ensure_ascii=False), now),
                )
                if cursor.rowcount:
                    fresh.append(StoredUpdate(update_id, body, now))
            if fresh:
                self.db.execute(
                    "INSERT INTO meta VALUES ('last_id', ?)"
                    " ON CONFLICT(key) DO UPDATE SET value = max(value, excluded.value)",
                    (max(u.update_id for u in fresh),),
                )
        return fresh

    def pending(self) -> list[StoredUpdate]:
        """The updates not yet handled, oldest first."""
        rows = self.db.execute(
            "SELECT update_id, body, received FROM updates WHERE outcome IS NULL ORDER BY update_id"
        ).fetchall()
        return [StoredUpdate(update_id, json.loads(body), received) for update_id, body, received in rows]

    def mark_done(self, update_id: int, outcome: str = "answered") -> None:
        """Mark an update handled (committed and synced before this returns); idempotent."""
        with self.db:
            self.db.execute(
                "UPDATE updates SET outcome = ?, done_at = ? WHERE update_id = ? AND outcome IS NULL",
                (outcome, time.time(), update_id),
            )

    def reopen(self, update_id: int) -> None:
        """Make an update answered a moment ago pending again (its reply was refused after all)."""
        with self.db:
            self.db.execute(
                "UPDATE updates SET outcome = NULL, done_at = NULL WHERE update_id = ? AND outcome = 'answered'",
                (update_id,),
            )

    def outcome(self, update_id: int) -> str | None:
        row = self.db.execute("SELECT outcome FROM updates WHERE update_id = ?", (update_id,)).fetchone()
        return row[0] if row else None

    def next_offset(self) -> int:
        """The getUpdates offset that confirms every stored update (0: none stored yet)."""
        row = self.db.execute("SELECT value FROM meta WHERE key = 'last_id'").fetchone()
        return int(row[0]) + 1 if row else 0

    def counts(self) -> dict[str, int]:
        """Rows by outcome ('pending' for those not handled yet)."""
        rows = self.db.execute("SELECT coalesce(outcome, 'pending'), count(*) FROM updates GROUP BY 1").fetchall()
        return dict(rows)

    def prune(self, keep_s: float = KEEP_DONE_S) -> int:
        """Forget done rows older than ``keep_s`` (the last id stays in ``meta``)."""
        with self.db:
            cursor = self.db.execute(
                "DELETE FROM updates WHERE outcome IS NOT NULL AND done_at < ?", (time.time() - keep_s,)
            )
        return cursor.rowcount
