"""SIGKILL at random points of `python -m bot add`: no half-written article, no article that
`add` reported as added is missing, and the next start's index agrees with the corpus.
Quick in CI (3 kills); RELIABILITY_FULL=1 runs 10."""

import gzip
import json
import os
import random
import signal
import subprocess
import sys
import time

import pytest

from bot.corpus.loading import load_corpus
from bot.index.builder import ensure_index
from conftest import PROJECT
from figures import FULL, report

pytestmark = pytest.mark.slow  # SIGKILLs `python -m bot add` processes

KILLS = 10 if FULL else 3
TOPICS = ["giao thông", "y tế", "giáo dục", "chuyển đổi số", "môi trường", "nông nghiệp", "du lịch", "xây dựng Đảng"]


def _export(path, start, count, rng):
    with gzip.open(path, "wt", encoding="utf-8") as handle:
        for i in range(start, start + count):
            topic = rng.choice(TOPICS)
            text = "\n\n".join(
                f"Ngày {rng.randint(1, 28)}/{rng.randint(1, 12)}/2021, hội nghị số {i} bàn về {topic} với "
                f"{rng.randint(10, 900)} đại biểu; mã văn bản {i}-NQ/TU đoạn {p}, lần {rng.random():.6f}."
                for p in range(4)
            )
            row = {
                "title": f"Hội nghị {i} về {topic}",
                "text": text,
                "source": "Báo Thử",
                "date": "2021-09-06",
                "url": f"https://bao-thu.example/tin-{i}",
            }
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")


def _reported_added(stdout: str) -> set[str]:
    return {line.split()[1].rstrip(":") for line in stdout.splitlines() if line.startswith("added ")}


def test_sigkill_during_add_loses_nothing(settings, tmp_path):
    rng = random.Random(11)
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    s = settings.with_paths(corpus, tmp_path / "index")
    env = dict(os.environ, PYTHONPATH=str(PROJECT))
    reported: set[str] = set()
    total = 0
    mid_batch = 0  # kills that landed while the batch was being written
    for attempt in range(KILLS):
        batch = tmp_path / f"batch{attempt}.jsonl.gz"
        _export(batch, total, 150, rng)
        total += 150
        proc = subprocess.Popen(
            [sys.executable, "-m", "bot", "add", str(batch), "--corpus", str(corpus), "--index-dir", str(s.index_dir)],
            env=dict(env, PYTHONUNBUFFERED="1"),
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        if attempt % 2 == 0:  # at a random moment once writing has started
            before = len(list(corpus.glob("*.md")))
            deadline = time.monotonic() + 120
            while len(list(corpus.glob("*.md"))) == before and proc.poll() is None and time.monotonic() < deadline:
                time.sleep(0.01)
            time.sleep(rng.uniform(0.0, 0.5))
        else:  # at any moment (start-up, reading, writing or indexing)
            time.sleep(rng.uniform(0.5, 6.0))
        proc.send_signal(signal.SIGKILL)
        out, _ = proc.communicate(timeout=30)
        reported |= _reported_added(out)
        loaded = load_corpus(corpus)
        assert loaded.problems == []  # no half-written article file
        ids = {a.id for a in loaded.articles}
        mid_batch += 0 < len(ids) - (total - 150) < 150
        assert reported <= ids  # nothing reported as added is missing
        index, _ = ensure_index(s)  # the next start agrees with the corpus
        assert {a.id for a in index.articles} == ids
    # finishing the interrupted batches adds each article exactly once
    for attempt in range(KILLS):
        out = subprocess.run(
            [
                sys.executable,
                "-m",
                "bot",
                "add",
                str(tmp_path / f"batch{attempt}.jsonl.gz"),
                "--corpus",
                str(corpus),
                "--index-dir",
                str(s.index_dir),
            ],
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert out.returncode == 0, out.stdout + out.stderr
    loaded = load_corpus(corpus)
    assert len(loaded.articles) == total
    assert len({a.url for a in loaded.articles}) == total
    assert [p.name for p in corpus.iterdir() if p.name.startswith(".")] == []
    report(
        "kill_add",
        [
            ("SIGKILL during add", f"{KILLS} kills, {mid_batch} in the middle of writing a batch"),
            ("articles reported added then missing", "0"),
            ("half-written article files", "0"),
            ("after re-running the batches", f"{total} articles, each once"),
        ],
    )
