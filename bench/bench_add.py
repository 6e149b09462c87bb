"""Benchmark of `add`: a JSON Lines export of real news articles into an empty corpus folder,
then the same export again (everything must be skipped as a duplicate).

    python bench/bench_add.py [--jsonl ../shared/data/news_dantri/articles.jsonl.gz] [--limit N]

Reads the data by path (never copied into the project); writes into a temporary folder.
Prints wall-clock seconds and peak memory; the index build is not included.
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from pathlib import Path

from bot.corpus.adding import add_files
from bot.corpus.ingest import load_outlets
from bot.settings import PACKAGE_ROOT

DEFAULT = PACKAGE_ROOT.parent / "shared" / "data" / "news_dantri" / "articles.jsonl.gz"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--jsonl", type=Path, default=DEFAULT)
    args = parser.parse_args()
    outlets = load_outlets(PACKAGE_ROOT / "config" / "outlets.yaml")
    with tempfile.TemporaryDirectory() as tmp:
        corpus, lock = Path(tmp) / "corpus", Path(tmp) / "lock"
        for run in ("first", "again"):
            started = time.perf_counter()
            report = add_files([args.jsonl], corpus, lock, outlets)
            seconds = time.perf_counter() - started
            reasons: dict[str, int] = {}
            for item in report.skipped:
                key = item.duplicate.reason.split(" (")[0]
                reasons[key] = reasons.get(key, 0) + 1
            print(
                f"{run}: {len(report.added)} added, {len(report.skipped)} skipped {reasons}, "
                f"{len(report.failed)} failed in {seconds:.1f} s"
            )
    print(f"peak memory {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")


if __name__ == "__main__":
    main()
