"""``python -m bench``: build, load, memory and query latency of the passage index, against rank-bm25.

Corpora: a JSON Lines export given by path (``--corpus``), prefixes of it and a synthetic
scale-up to 1,000,000 passages made of copies of its real passages (``bench/scale.py``).
Questions are made deterministically from passages (a few words of one of their sentences,
a quarter typed without diacritics). rank-bm25's BM25Okapi answers the same questions on
the same passages in the same run (see ``reference``); the top-10 must be identical.
"""

from __future__ import annotations

import argparse
import functools
import gzip
import json
import random
import re
import resource
import shutil
import subprocess
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CORPUS = ROOT.parent / "shared" / "data" / "news_baomoi" / "articles.jsonl.gz"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    p.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS, help="JSON Lines (.gz) articles")
    p.add_argument("--work", type=Path, default=ROOT / ".cache" / "bench", help="scratch folder for indexes")
    p.add_argument("--sizes", default="10000,1000000", help="extra corpus sizes in passages (prefix or scale-up)")
    p.add_argument("--questions", type=int, default=200)
    p.add_argument("--bm25-questions", default="200,50,20", help="rank-bm25 questions at <=20k, <=200k, more passages")
    p.add_argument("--limit-articles", type=int, default=0, help="use only the first N articles")
    p.add_argument("--reuse", action="store_true", help="keep the segment cache (build time then shows cache hits)")
    p.add_argument("--workers", type=int, default=0, help="build and pyvi processes (default: index.workers)")
    p.add_argument("--quick", action="store_true", help="smoke run: 600 articles, sizes 2000,20000, 40 questions")
    p.add_argument("--plot", type=Path, default=None, help="write the latency plot here (PNG)")
    p.add_argument("--json", action="store_true", help="print the figures as one JSON object")
    args = p.parse_args(argv)
    if args.quick:
        args.limit_articles = args.limit_articles or 600
        args.sizes, args.questions, args.bm25_questions = "2000,20000", 40, "40,20,10"
    return args


def log(*parts: Any) -> None:
    print(*parts, file=sys.stderr, flush=True)


# --- corpus and questions ------------------------------------------------------------------


def read_records(path: Path, limit: int) -> list[dict]:
    opener = gzip.open if path.name.endswith(".gz") else open
    records = []
    with opener(path, "rt", encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                records.append(json.loads(line))
                if limit and len(records) >= limit:
                    break
    return records


def write_records(path: Path, records: list[dict]) -> Path:
    with gzip.open(path, "wt", encoding="utf-8", compresslevel=1) as handle:
        for record in records:
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")
    return path


def make_questions(index: Any, count: int, among: int, seed: int = 1234) -> list[str]:
    """Questions made of a few words of a sentence of a passage; a quarter without diacritics."""
    from bot.text.normalize import fold_accents, split_sentences

    rng = random.Random(seed)
    questions: list[str] = []
    while len(questions) < count:
        text = index.passage_text(rng.randrange(min(among, index.n_passages)))
        sentence = rng.choice(split_sentences(text.replace("\n", " ")) or [text])
        words = re.findall(r"\w+", sentence)
        if len(words) < 5:
            continue
        size = rng.randint(4, 9)
        start = rng.randrange(max(1, len(words) - size))
        question = " ".join(words[start : start + size])
        if rng.random() < 0.25:
            question = fold_accents(question)
        questions.append(question + rng.choice(["", "?", " là gì?"]))
    return questions


# --- segmentation floor --------------------------------------------------------------------


def _pyvi_only(texts: list[str]) -> int:
    from pyvi import ViTokenizer

    for text in texts:
        for line in text.split("\n"):
            if line.strip():
                ViTokenizer.tokenize(line)
    return sum(len(t) for t in texts)


@functools.lru_cache(maxsize=1)
def _segmenter() -> Any:
    """This process's segmenter, kept between calls (as a build's worker process keeps its own)."""
    from bot.index.segmenter import Segmenter
    from bot.settings import load_settings

    return Segmenter.from_settings(load_settings())


def _ours(texts_titles: list[tuple[str, str]]) -> int:
    from bot.corpus.article import Article

    batch = [(str(i), Article(str(i), title, text)) for i, (title, text) in enumerate(texts_titles)]
    _segmenter().segment(batch)
    return sum(len(t) for _, t in texts_titles)


def segmentation_floor(records: list[dict], workers: int = 2) -> dict[str, float]:
    """chars/s of pyvi alone and of the index's whole segmentation, same texts, two processes."""
    sample = records[: min(len(records), 1500)]
    texts = [r.get("text") or "" for r in sample]
    chunks = [texts[i :: workers * 4] for i in range(workers * 4)]
    pairs = [
        [((r.get("title") or ""), (r.get("text") or "")) for r in sample[i :: workers * 4]] for i in range(workers * 4)
    ]
    # warm-up on other articles, in several chunks so that every worker imports pyvi and fills
    # its per-process memos (a real build does so once and then runs for minutes)
    others = records[len(sample) : len(sample) + 40 * workers] or [{"title": "a", "text": "Khởi động"}]
    warm = [
        [((r.get("title") or ""), (r.get("text") or "")) for r in others[i :: workers * 4]] for i in range(workers * 4)
    ]
    out = {}
    with ProcessPoolExecutor(workers) as pool:
        list(pool.map(_pyvi_only, [[t for _, t in chunk] for chunk in warm]))
        list(pool.map(_ours, warm))
        for name, fn, work in (("pyvi_only", _pyvi_only, chunks), ("index_segmentation", _ours, pairs)):
            started = time.perf_counter()
            chars = sum(pool.map(fn, work))
            out[f"{name}_chars_per_s"] = chars / (time.perf_counter() - started)
    out["sample_chars"] = sum(len(t) for t in texts)
    out["workers"] = workers
    return out


def pyvi_throughput(texts: list[str], workers: int = 2) -> dict[str, float]:
    """chars/s of pyvi alone (``ViTokenizer.tokenize`` on every line) over ``texts``, on ``workers``
    processes, in chunks of about 100 articles (the build's batches)."""
    chunks = [texts[i : i + 100] for i in range(0, len(texts), 100)]
    with ProcessPoolExecutor(workers) as pool:
        list(pool.map(_pyvi_only, [["Khởi động."]] * workers * 2))  # every worker has imported pyvi
        started = time.perf_counter()
        chars = sum(pool.map(_pyvi_only, chunks))
        seconds = time.perf_counter() - started
    return {"chars": chars, "seconds": seconds, "chars_per_s": chars / seconds, "workers": workers}


# --- building ------------------------------------------------------------------------------


def run_cli_index(corpus: Path, index_dir: Path, workers: int) -> dict[str, Any]:
    """``python -m bot index`` (through ``bench.build_cpu``): seconds, its output, and the CPU
    seconds of its main process and of its workers."""
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "bench.build_cpu", "--corpus", str(corpus), "--index-dir", str(index_dir)]
        + ["--workers", str(workers)],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    if done.returncode != 0:
        raise RuntimeError(done.stderr)
    cpu = json.loads(done.stderr.rsplit("BUILD_CPU ", 1)[1].splitlines()[0])
    return {"seconds": time.perf_counter() - started, "output": done.stdout.strip(), **cpu}


def dir_size(path: Path) -> int:
    from bot.index.storage import current_version

    version = current_version(path)
    return sum(p.stat().st_size for p in version.iterdir()) if version else 0


# --- rank-bm25 reference -------------------------------------------------------------------


def reference(index: Any, keys: set[int], params: Any):
    """rank-bm25's BM25Okapi over the index's passages, with its own idf and scoring code.

    The passages' term counts are given to it directly (``doc_freqs``), limited to the
    benchmark questions' terms: a full dict of ~550 terms per passage would not fit in
    memory at 1M passages, and scores only read the questions' terms. idf comes from
    ``BM25Okapi._calc_idf`` over the whole vocabulary in order of first appearance.
    """
    from rank_bm25 import BM25Okapi

    bm = BM25Okapi.__new__(BM25Okapi)
    bm.k1, bm.b, bm.epsilon = params.k1, params.b, params.epsilon
    doc_len = np.asarray(index.arrays["doc_len"])
    bm.corpus_size = len(doc_len)
    bm.doc_len = doc_len.tolist()
    bm.avgdl = int(doc_len.sum()) / bm.corpus_size
    hashes = np.asarray(index.arrays["term_hash"])
    ptr = np.asarray(index.arrays["term_ptr"])
    appearance = np.argsort(np.asarray(index.arrays["term_order"]))
    nd = dict(zip(hashes[appearance].tolist(), np.diff(ptr)[appearance].tolist()))
    bm.idf = {}
    bm._calc_idf(nd)
    bm.doc_freqs = [{} for _ in range(bm.corpus_size)]
    for key in keys:
        row = int(np.searchsorted(hashes, np.uint64(key)))
        if row < len(hashes) and int(hashes[row]) == key:
            a, b = int(ptr[row]), int(ptr[row + 1])
            for d, tf in zip(index.arrays["post_doc"][a:b].tolist(), index.arrays["post_tf"][a:b].tolist()):
                bm.doc_freqs[d][key] = tf
    return bm


def reference_top10(bm: Any, question: str, settings: Any) -> list[int]:
    from bot.index.keys import term_hash
    from bot.search.ranking import question_terms

    q = question_terms(question, settings)
    scores = np.zeros(bm.corpus_size)
    for term, weight in zip(q.terms, q.weights):
        scores += bm.get_scores([term_hash(term)]) * weight
    docs = np.flatnonzero(scores > 0)
    order = np.lexsort((docs, -scores[docs]))[:10]
    return docs[order].tolist()


def question_keys(questions: list[str], settings: Any) -> set[int]:
    from bot.index.keys import term_hash
    from bot.search.ranking import question_terms

    keys = set()
    for question in questions:
        q = question_terms(question, settings)
        keys.update(term_hash(t) for t in q.terms)
    return keys


# --- the run -------------------------------------------------------------------------------


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q)) if values else float("nan")


def run_probe(index_dir: Path, qfile: Path, *flags: str) -> dict[str, Any]:
    """``bench.probe`` in a fresh process (its memory is its own)."""
    done = subprocess.run(
        [sys.executable, "-m", "bench.probe", str(index_dir), str(qfile), *flags],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    if done.returncode != 0:
        raise RuntimeError(done.stderr)
    return json.loads(done.stdout)


def measure_size(name: str, index_dir: Path, questions: list[str], n_bm25: int, settings: Any) -> dict[str, Any]:
    from bot.index.storage import load_index

    qfile = index_dir / "questions.json"
    qfile.write_text(json.dumps(questions, ensure_ascii=False), encoding="utf-8")
    probe = run_probe(index_dir, qfile)
    row: dict[str, Any] = {
        "name": name,
        "passages": probe["passages"],
        "disk_mb": dir_size(index_dir) / 2**20,
        "load_s": probe["load_s"],
        "load_full_crc_s": probe["load_full_crc_s"],
        "rss_loaded_mb": probe["rss_loaded_mb"],
        "rss_after_queries_mb": probe["rss_after_queries_mb"],
        "rss_total_mb": probe["rss_total_mb"],
        "rss_peak_mb": probe["rss_peak_mb"],
        "anon_after_queries_mb": probe.get("anon_after_queries_mb"),
        "file_after_queries_mb": probe.get("file_after_queries_mb"),
        "questions": len(questions),
    }
    for kind in ("rank", "answer"):
        for q in (50, 95, 99):
            row[f"{kind}_p{q}_ms"] = pct(probe[f"{kind}_ms"], q)
    if settings.preload_index:  # the same without mapping the files in at load
        cold = run_probe(index_dir, qfile, "--no-preload")
        row["no_preload"] = {
            "load_s": cold["load_s"],
            "rss_after_queries_mb": cold["rss_after_queries_mb"],
            "anon_after_queries_mb": cold.get("anon_after_queries_mb"),
            **{f"rank_p{q}_ms": pct(cold["rank_ms"], q) for q in (50, 95, 99)},
            "answer_p50_ms": pct(cold["answer_ms"], 50),
        }
    subset = questions[:n_bm25]
    log(f"  rank-bm25 on {len(subset)} questions at {probe['passages']} passages ...")
    index = load_index(index_dir, settings.bm25, verify=False)
    started = time.perf_counter()
    bm = reference(index, question_keys(subset, settings), settings.bm25)
    row["bm25_setup_s"] = time.perf_counter() - started
    times, same = [], 0
    for i, question in enumerate(subset):
        started = time.perf_counter()
        top = reference_top10(bm, question, settings)
        times.append((time.perf_counter() - started) * 1000)
        same += top == probe["top10"][i]
    del bm
    ours_same = probe["rank_ms"][: len(subset)]
    row.update(
        bm25_questions=len(subset),
        bm25_p50_ms=pct(times, 50),
        bm25_p99_ms=pct(times, 99),
        ours_p50_same_questions_ms=pct(ours_same, 50),
        speedup_p50=pct(times, 50) / max(pct(ours_same, 50), 1e-9),
        top10_identical=same,
    )
    return row


def append_at(index_dir: Path, records: list[dict], settings: Any) -> dict[str, float]:
    """Time adding articles to a big index as ``bot index`` does when the corpus gained them:
    segmenting them (no cache entries), writing a delta part, the other parts hard-linked,
    the global idf and the switch of CURRENT; then loading the new version."""
    from bot.corpus.loading import article_from_record
    from bot.index.builder import append_articles
    from bot.index.segment_cache import SEGMENT_CACHE_FILE
    from bot.index.storage import load_index

    articles = [article_from_record(r, f"new{i}", "bench") for i, r in enumerate(records)]
    (index_dir / SEGMENT_CACHE_FILE).unlink(missing_ok=True)
    local = settings.with_paths(None, index_dir)
    started = time.perf_counter()
    report = append_articles(local, articles)
    added = time.perf_counter() - started
    started = time.perf_counter()
    index = load_index(index_dir, settings.bm25)
    load_s = time.perf_counter() - started
    return {
        "articles": len(articles),
        "segmented": report.segmented,
        "seconds": added,
        "load_s": load_s,
        "passages": index.n_live,
        "parts": len(index.parts),
    }


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    from bench.scale import scale_up
    from bot.index.builder import build_index, ensure_index
    from bot.index.storage import load_index, save_index
    from bot.settings import load_settings

    if not args.corpus.exists():
        log(f"corpus not found: {args.corpus} (give --corpus FILE.jsonl.gz)")
        return 2
    work = args.work
    work.mkdir(parents=True, exist_ok=True)
    settings = load_settings()
    figures: dict[str, Any] = {"machine": "2 cores shared with other jobs", "corpus": str(args.corpus)}

    from bot.index.segmenter import default_workers

    workers = default_workers(settings.with_workers(args.workers or None))
    records = read_records(args.corpus, args.limit_articles)
    log(f"{len(records)} articles; segmentation floor on {workers} processes ...")
    figures["segmentation"] = seg = segmentation_floor(records, workers)
    seg["index_over_pyvi"] = seg["index_segmentation_chars_per_s"] / seg["pyvi_only_chars_per_s"]

    # full build of all but the last 100 articles, then the incremental steps
    real = work / "real"
    if not args.reuse:
        shutil.rmtree(real, ignore_errors=True)
    base_corpus = write_records(work / "base.jsonl.gz", records[:-100])
    full_corpus = write_records(work / "full.jsonl.gz", records)
    texts = [r.get("text") or "" for r in records[:-100]]
    log("pyvi alone on the articles to build, before the build ...")
    pyvi_before = pyvi_throughput(texts, workers)
    log(f"build on {workers} workers ...")
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    build = run_cli_index(base_corpus, real, workers)
    chars = sum(len(r.get("text") or "") for r in records[:-100])
    figures["build"] = {
        "articles": len(records) - 100,
        "chars": chars,
        "seconds": build["seconds"],
        "chars_per_s": chars / build["seconds"],
        "peak_rss_mb": max(before, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss) / 1024,
        "main_peak_rss_mb": build["main_peak_rss_mb"],
        "worker_peak_rss_mb": build["worker_peak_rss_mb"],
        "from_cache": args.reuse,
        "workers": workers,
        "main_cpu_s": build["main_cpu_s"],
        "workers_cpu_s": build["workers_cpu_s"],
        # the main process's own share of the build's CPU time (its imports and corpus loading included)
        "main_cpu_share": build["main_cpu_s"] / max(build["main_cpu_s"] + build["workers_cpu_s"], 1e-9),
    }
    # the whole build (loading, cleaning, segmenting, arrays, saving) against pyvi alone on the same
    # articles, both on the same number of processes and both for minutes (a few seconds of pyvi on a sample swing by
    # up to 40% from run to run on this machine); pyvi alone runs right before and right after the
    # build, and the build is compared with the mean of the two, so that a drift of the machine's
    # speed during the minutes of the build counts on both sides
    log("pyvi alone on the same articles, after the build ...")
    pyvi_after = pyvi_throughput(texts, workers)
    seconds = (pyvi_before["seconds"] + pyvi_after["seconds"]) / 2
    figures["pyvi_alone"] = pyvi_alone = {
        "chars": pyvi_after["chars"],
        "seconds": seconds,
        "chars_per_s": pyvi_after["chars"] / seconds,
        "workers": pyvi_after["workers"],
        "before_s": pyvi_before["seconds"],
        "after_s": pyvi_after["seconds"],
    }
    figures["build"]["over_pyvi"] = figures["build"]["chars_per_s"] / pyvi_alone["chars_per_s"]
    s_real = settings.with_paths(full_corpus, real)
    started = time.perf_counter()
    _, report = ensure_index(s_real)
    figures["add_100_articles"] = {
        "seconds": time.perf_counter() - started,
        "segmented": report.segmented,
        "passages": report.passages,
    }
    changed = records[:10] + [dict(records[10], text=records[10]["text"] + "\n\nĐoạn bổ sung.")] + records[11:-1]
    write_records(work / "changed.jsonl.gz", changed)
    started = time.perf_counter()
    _, report = ensure_index(settings.with_paths(work / "changed.jsonl.gz", real))
    figures["remove_1_change_1"] = {"seconds": time.perf_counter() - started, "segmented": report.segmented}
    build_index(s_real, full=True)  # one part again, for the scale-up and rank-bm25's reference

    real_index = load_index(real, settings.bm25)
    n_real = real_index.n_passages
    sizes = sorted({int(x) for x in args.sizes.split(",") if x} | {n_real})
    among = min(sizes)
    questions = make_questions(real_index, args.questions, among)
    limits = [int(x) for x in args.bm25_questions.split(",")]
    rows = []
    for size in sizes:
        if size == n_real:
            index_dir, name = real, "real corpus"
        else:
            index_dir, name = work / f"s{size}", ("prefix" if size < n_real else "scale-up")
            log(f"{name} to {size} passages ...")
            started = time.perf_counter()
            arrays, texts, articles = scale_up(real_index, size, settings.bm25.epsilon)
            shutil.rmtree(index_dir, ignore_errors=True)
            save_index(
                index_dir,
                arrays,
                texts,
                articles,
                {"fingerprint": f"scale{size:012d}", "problems": [], "synthetic": True},
                settings.bm25.epsilon,
            )
            del arrays, texts, articles
            log(f"  made in {time.perf_counter() - started:.1f} s")
        n_bm25 = limits[0] if size <= 20_000 else limits[1] if size <= 200_000 else limits[2]
        log(f"measuring {name} ({size} passages) ...")
        row = measure_size(name, index_dir, questions, n_bm25, settings)
        rows.append(row)
        log("  " + ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in row.items()))
    figures["sizes"] = rows
    largest = max(sizes)
    if largest > n_real:
        figures["append_100_at_largest"] = append_at(work / f"s{largest}", records[-100:], settings)
        log(f"append 100 articles to {largest} passages: {figures['append_100_at_largest']}")
    if args.plot:
        plot(rows, args.plot)
    if args.json:
        print(json.dumps(figures, ensure_ascii=False))
    else:
        print(table(figures))
    (work / "last.json").write_text(json.dumps(figures, ensure_ascii=False, indent=1), encoding="utf-8")
    return 0


def table(f: dict[str, Any]) -> str:
    seg, build = f["segmentation"], f["build"]
    lines = [
        f"build: {build['articles']} articles, {build['chars'] / 1e6:.1f}M chars in {build['seconds']:.0f} s "
        f"= {build['chars_per_s'] / 1e3:.0f}k chars/s, {build['over_pyvi']:.0%} of pyvi alone on the same "
        f"articles ({f['pyvi_alone']['chars_per_s'] / 1e3:.0f}k chars/s, {f['pyvi_alone']['seconds']:.0f} s: the mean "
        f"of {f['pyvi_alone'].get('before_s', float('nan')):.0f} s before and "
        f"{f['pyvi_alone'].get('after_s', float('nan')):.0f} s after the build; peak RSS {build['peak_rss_mb']:.0f} MB)",
        f"build on {build.get('workers', 2)} workers: main process {build.get('main_cpu_s', float('nan')):.1f} s of CPU, "
        f"workers {build.get('workers_cpu_s', float('nan')):.1f} s: main share {build.get('main_cpu_share', float('nan')):.1%}"
        + (" (too few characters for workers: all in the main process)" if build.get("workers_cpu_s") == 0 else ""),
        f"segmentation on {seg.get('workers', 2)} processes: pyvi alone {seg['pyvi_only_chars_per_s'] / 1e3:.0f}k chars/s, "
        f"index terms {seg['index_segmentation_chars_per_s'] / 1e3:.0f}k chars/s ({seg['index_over_pyvi']:.0%})",
        f"add 100 articles: {f['add_100_articles']['seconds']:.1f} s; remove 1 + change 1: "
        f"{f['remove_1_change_1']['seconds']:.1f} s",
        *(
            [
                f"add 100 articles (segmenting them) to {f['sizes'][-1]['passages']:,} passages: "
                f"{f['append_100_at_largest']['seconds']:.1f} s, then load {f['append_100_at_largest']['load_s']:.2f} s "
                f"({f['append_100_at_largest']['parts']} parts)"
            ]
            if "append_100_at_largest" in f
            else []
        ),
        "",
        "| corpus | passages | disk MB | load s | peak RSS MB (anon) | p50 ms | p95 ms | p99 ms | answer p50 ms | "
        "rank-bm25 p50 ms (n) | speed-up | top-10 identical |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in f["sizes"]:
        lines.append(
            f"| {r['name']} | {r['passages']:,} | {r['disk_mb']:.0f} | {r['load_s']:.2f} | "
            f"{r['rss_peak_mb']:.0f} ({r.get('anon_after_queries_mb') or float('nan'):.0f}) | {r['rank_p50_ms']:.1f} | {r['rank_p95_ms']:.1f} | "
            f"{r['rank_p99_ms']:.1f} | {r['answer_p50_ms']:.1f} | {r['bm25_p50_ms']:.0f} ({r['bm25_questions']}) | "
            f"{r['speedup_p50']:.0f}x | {r['top10_identical']}/{r['bm25_questions']} |"
        )
    for r in f["sizes"]:
        cold = r.get("no_preload")
        if cold:
            lines.append(
                f"{r['name']} without preload_index: load {cold['load_s']:.2f} s, p50/p95/p99 "
                f"{cold['rank_p50_ms']:.1f}/{cold['rank_p95_ms']:.1f}/{cold['rank_p99_ms']:.1f} ms, answer p50 "
                f"{cold['answer_p50_ms']:.1f} ms, RSS {cold['rss_after_queries_mb']:.0f} MB "
                f"(anon {cold.get('anon_after_queries_mb') or float('nan'):.0f})"
            )
    return "\n".join(lines)


def plot(rows: list[dict[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = [r["passages"] for r in rows]
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    ax.plot(n, [r["rank_p50_ms"] for r in rows], "o-", label="this index, p50")
    ax.plot(n, [r["rank_p99_ms"] for r in rows], "o--", label="this index, p99")
    ax.plot(n, [r["bm25_p50_ms"] for r in rows], "s-", label="rank-bm25 BM25Okapi, p50")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("passages")
    ax.set_ylabel("query latency, ms (segmentation + scoring + top-10)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
