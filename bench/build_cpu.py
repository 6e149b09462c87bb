"""``python -m bench.build_cpu ARGS``: ``python -m bot index ARGS`` in this process, then one JSON
line on stderr with the CPU seconds of this (the build's main) process and of its worker
processes, and their peak resident memory."""

from __future__ import annotations

import json
import resource
import sys
import time


def cpu_seconds(who: int) -> float:
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


def main(argv: list[str]) -> int:
    from bot.frontends.cli import main as cli_main

    started = time.perf_counter()
    code = cli_main(["index", *argv])
    figures = {
        "seconds": time.perf_counter() - started,
        "main_cpu_s": cpu_seconds(resource.RUSAGE_SELF),  # imports and corpus loading included
        "workers_cpu_s": cpu_seconds(resource.RUSAGE_CHILDREN),
        "main_peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "worker_peak_rss_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
    }
    print("BUILD_CPU " + json.dumps(figures), file=sys.stderr)
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
