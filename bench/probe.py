"""One measurement in a fresh process: load an index, answer the questions, report JSON.

``python -m bench.probe INDEX_DIR QUESTIONS.json [--no-preload]`` prints load time, resident memory and
per-question latencies and top-10 passages (run as a child so memory is its own).
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path


def rss_mb(kind: str = "VmRSS") -> float:
    """Resident memory in MB: ``VmRSS`` (all), ``RssAnon`` (the process's own memory) or
    ``RssFile`` (pages of memory-mapped files: page cache, given back under pressure)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(kind + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


def main(argv: list[str]) -> int:
    index_dir, questions_file = Path(argv[0]), Path(argv[1])
    preload = "--no-preload" not in argv[2:]
    questions = json.loads(questions_file.read_text(encoding="utf-8"))
    from bot.answer.compose import answer_question
    from bot.index.storage import load_index
    from bot.search.part_search import search
    from bot.search.ranking import question_terms
    from bot.settings import load_settings
    from bot.text.terms import query_terms

    settings = load_settings().with_paths(None, index_dir)
    query_terms("khởi động", settings.terms)  # import pyvi before timing (0.8 s once per process)
    rss_before, anon_before = rss_mb(), rss_mb("RssAnon")
    started = time.perf_counter()
    index = load_index(
        index_dir, settings.bm25, preload=settings.preload_index and preload, memory_mb=settings.index_memory_mb
    )
    load_s = time.perf_counter() - started
    rss_loaded = rss_mb()

    def rank(question: str) -> list[int]:
        q = question_terms(question, settings)
        best, _ = search(index, list(q.terms), list(q.weights), 10)
        return [d for d, _ in best]

    for q in questions[:5]:  # warm-up
        rank(q)
    rank_ms, answer_ms, tops = [], [], []
    for q in questions:
        t = time.perf_counter()
        tops.append(rank(q))
        rank_ms.append((time.perf_counter() - t) * 1000)
        t = time.perf_counter()
        answer_question(index, q, settings)
        answer_ms.append((time.perf_counter() - t) * 1000)
    peak_mb = rss_mb("VmHWM")  # the whole process's peak (what ``time -v`` calls max resident)
    started = time.perf_counter()
    load_index(index_dir, settings.bm25, verify="full")  # after the peak: a second index is not in use
    load_full_s = time.perf_counter() - started
    print(
        json.dumps(
            {
                "passages": index.n_live,
                "parts": len(index.parts),
                "load_s": load_s,
                "load_full_crc_s": load_full_s,
                "rss_loaded_mb": rss_loaded - rss_before,
                "rss_after_queries_mb": rss_mb() - rss_before,
                "rss_total_mb": rss_mb(),
                "rss_peak_mb": peak_mb,
                "anon_after_queries_mb": rss_mb("RssAnon") - anon_before,
                "file_after_queries_mb": rss_mb("RssFile"),
                "rank_ms": rank_ms,
                "answer_ms": answer_ms,
                "top10": tops,
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
