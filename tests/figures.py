"""Figures from the reliability tests, for bench/reliability.py's table.

When RELIABILITY_REPORT names a file, each test appends one JSON line to it:
{"test": ..., "rows": [[name, value], ...]}. Without it, nothing is written."""

from __future__ import annotations

import json
import os


def report(test: str, rows: list[tuple[str, str]]) -> None:
    path = os.environ.get("RELIABILITY_REPORT")
    if path:
        with open(path, "a", encoding="utf-8") as handle:
            handle.write(json.dumps({"test": test, "rows": rows}, ensure_ascii=False) + "\n")


FULL = bool(os.environ.get("RELIABILITY_FULL"))
