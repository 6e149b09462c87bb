"""The long reliability runs and their table of figures.

Runs the reliability tests with RELIABILITY_FULL=1 (1,000-question burst from 100 chats, a
2,000-update burst with button presses and inline queries from 200 chats, a SIGKILL halfway
through a 1,000-question burst, 10 kills during `index`, ten times the fuzzing) and prints
the figures the tests report as a Markdown table; ``--write`` puts it into
docs/reliability.md between the figure markers.
Only a green run is written.

    python bench/reliability.py [--quick] [--write]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TESTS = [
    "tests/test_load.py",
    "tests/test_faults.py",
    "tests/test_serving_faults.py",
    "tests/test_kill_index.py",
    "tests/test_kill_add.py",
    "tests/test_fuzz_text.py",
    "tests/test_fuzz_handlers.py",
    "tests/test_access.py",
]
ORDER = [
    "load",
    "burst",
    "flood",
    "crash",
    "sigterm",
    "stop",
    "token",
    "outage",
    "damaged_live_index",
    "kill_index",
    "kill_add",
    "fuzz_text",
    "fuzz_handlers",
]
START, END = "<!-- figures: start -->", "<!-- figures: end -->"


def machine() -> str:
    cores = os.cpu_count()
    return f"{platform.machine()}, {cores} cores (shared with other work), Python {platform.python_version()}"


def markdown(entries: list[dict], seconds: float, full: bool) -> str:
    entries = sorted(entries, key=lambda e: ORDER.index(e["test"]) if e["test"] in ORDER else len(ORDER))
    lines = [
        f"Last run: {dt.date.today():%Y-%m-%d}, `python bench/reliability.py{'' if full else ' --quick'}`, "
        f"{seconds / 60:.1f} min in all; {machine()}.",
        "",
        "| test | figure | value |",
        "| --- | --- | --- |",
    ]
    for entry in entries:
        for name, value in entry["rows"]:
            lines.append(f"| {entry['test']} | {name} | {value} |")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="the CI sizes instead of the full ones")
    parser.add_argument("--write", action="store_true", help="update the table in docs/reliability.md")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "figures.jsonl"
        env = dict(os.environ, RELIABILITY_REPORT=str(report))
        if not args.quick:
            env["RELIABILITY_FULL"] = "1"
        started = time.monotonic()
        result = subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *TESTS], cwd=ROOT, env=env
        )
        seconds = time.monotonic() - started
        entries = (
            [json.loads(line) for line in report.read_text(encoding="utf-8").splitlines()] if report.exists() else []
        )
    table = markdown(entries, seconds, not args.quick)
    print(table)
    if result.returncode != 0:
        print("the tests failed: nothing written", file=sys.stderr)
        return result.returncode
    if args.write:
        doc = ROOT / "docs" / "reliability.md"
        text = doc.read_text(encoding="utf-8")
        head, rest = text.split(START, 1)
        doc.write_text(head + START + "\n" + table + "\n" + END + rest.split(END, 1)[1], encoding="utf-8")
        print(f"written to {doc.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
