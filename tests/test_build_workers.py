"""A build in worker processes (``index.runs``) gives the arrays of the plain build
(``segment_articles`` then ``build_arrays``) byte for byte, whatever the number of workers;
the workers write the segment cache themselves."""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import random
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from bot.corpus.loading import load_corpus
from bot.index import postings, runs
from bot.index.builder import build_index, ensure_index
from bot.index.fingerprint import article_key
from bot.index.postings import build_arrays, with_range_bounds
from bot.index.segment_cache import SegmentCache
from bot.index.segmenter import default_workers, segment_articles
from bot.index.storage import current_version
from bot.settings import ConfigError, load_settings
from conftest import PROJECT

SENTENCES = [
    "Sáng {d}/{m}, Ủy ban nhân dân thành phố tổ chức hội nghị tổng kết công tác năm với {n} đại biểu.",
    "Đảng ủy Khối các cơ quan đã kết nạp {n} đảng viên mới và khen thưởng {d} chi bộ xuất sắc.",
    "Theo Nghị quyết số {n}/NQ-CP, các địa phương cần đẩy mạnh chuyển đổi số trong quản lý hành chính.",
    "Chủ tịch HĐND phát biểu chỉ đạo, đề nghị các đơn vị khắc phục hạn chế, nâng cao chất lượng phục vụ người dân.",
    "Giá xăng RON95 tăng {n} đồng mỗi lít từ 15 giờ chiều {d}/{m}, theo Bộ Công Thương.",
]


def _corpus(path: Path, n_articles: int, seed: int = 3) -> Path:
    rng = random.Random(seed)
    with gzip.open(path, "wt", encoding="utf-8") as handle:
        for i in range(n_articles):
            text = "\n\n".join(
                " ".join(
                    rng.choice(SENTENCES).format(d=rng.randint(1, 28), m=rng.randint(1, 12), n=rng.randint(2, 999))
                    for _ in range(rng.randint(1, 5))
                )
                for _ in range(rng.randint(1, 6))
            )
            record = {
                "id": f"a{i}",
                "title": f"Tin số {i % 7}",
                "text": text,
                "source": "Báo Thử",
                "date": "2021-09-06",
            }
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")
    return path


def _assert_same_arrays(got: dict[str, np.ndarray], want: dict[str, np.ndarray]) -> None:
    want = {k: v for k, v in want.items() if k != "term_idf"}  # a version's idf is made when it is written
    assert set(got) == set(want)
    for key, array in want.items():
        assert got[key].dtype == array.dtype and got[key].shape == array.shape, key
        assert np.array_equal(got[key], array), key


def test_arrays_equal_the_plain_build(settings, tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(postings, "RANGE_MIN_DF", 8)  # range bounds for the common terms of a small corpus
    monkeypatch.setattr(runs, "RANGE_MIN_DF", 8)
    articles = load_corpus(_corpus(tmp_path / "c.jsonl.gz", 60)).articles
    keys = [article_key(a, settings) for a in articles]
    plain, _ = segment_articles(articles, settings, None, workers=1, keys=keys)
    want, want_texts, want_per_article = build_arrays(plain, settings.bm25.epsilon)
    want = with_range_bounds(want)
    assert len(want["range_rows"])
    cache_path = tmp_path / "segments.sqlite"
    for round_ in ("cold cache", "warm cache"):
        got, texts, per_article, fresh = runs.build_part_arrays(articles, keys, settings, cache_path, workers=1)
        _assert_same_arrays(got, want)
        assert texts == want_texts and per_article == want_per_article
        assert fresh == (len(articles) if round_ == "cold cache" else 0)
    cache = SegmentCache(cache_path)
    try:
        stored = cache.get_many(keys)
    finally:
        cache.close()
    for item in plain:
        assert np.array_equal(stored[item.key].hashes, item.hashes) and stored[item.key].texts == item.texts
    assert not list(tmp_path.glob(".tmp-runs-*"))  # the runs are removed


def _index_files(index_dir: Path) -> dict[str, str]:
    version = current_version(index_dir)
    return {
        re.sub(r"^m\w{20}\.", "", p.name): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in version.iterdir()
        if p.name != "manifest.json"
    }


@pytest.mark.slow  # starts worker processes
def test_one_and_two_workers_write_identical_files(settings, tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(runs, "POOL_MIN_CHARS", 0)  # workers even for a small corpus
    corpus = _corpus(tmp_path / "c.jsonl.gz", 120)
    files = {}
    for workers in (1, 2, 3):
        s = settings.with_paths(corpus, tmp_path / f"index{workers}").with_workers(workers)
        report = build_index(s)
        keys = {article_key(a, s) for a in load_corpus(corpus).articles}
        assert len(keys) <= report.segmented <= 120  # an article of the same content may come from the cache
        files[workers] = _index_files(s.index_dir)
        cache = SegmentCache.in_index(s.index_dir)
        try:  # every article's segmentation was written by the workers
            assert set(cache.get_many(keys)) == keys
        finally:
            cache.close()
        assert not list(s.index_dir.glob(".tmp-*"))
    assert len(files[1]) == 17 and files[1] == files[2] == files[3]


def test_a_killed_builds_runs_are_removed(settings, tmp_path) -> None:
    s = settings.with_paths(_corpus(tmp_path / "c.jsonl.gz", 5), tmp_path / "index")
    build_index(s)
    stale = s.index_dir / ".tmp-runs-20200101-000000-999999999-abcdef"  # its build (pid) is gone
    (stale / "000000.hash.npy").parent.mkdir()
    (stale / "000000.hash.npy").write_bytes(b"")
    _, report = ensure_index(s)  # up to date: nothing is built, the leftovers go all the same
    assert report.action == "loaded" and not stale.exists()


def test_workers_from_config_and_command_line(tmp_path) -> None:
    config = tmp_path / "config" / "settings.yaml"
    config.parent.mkdir()
    config.write_text("corpus: corpus\nindex:\n  workers: 3\n", encoding="utf-8")
    assert default_workers(load_settings(config)) == 3
    config.write_text("corpus: corpus\n", encoding="utf-8")
    assert default_workers(load_settings(config)) >= 1  # every core
    config.write_text("corpus: corpus\nindex:\n  workers: many\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"index\.workers"):
        load_settings(config)
    corpus = _corpus(tmp_path / "c.jsonl.gz", 5)
    out = subprocess.run(
        [sys.executable, "-m", "bot", "--lang", "en", "index", "--workers", "2", "--corpus", str(corpus)]
        + ["--index-dir", str(tmp_path / "index")],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=PROJECT,
        env=dict(os.environ, PYTHONPATH=str(PROJECT)),
    )
    assert out.returncode == 0 and "5 articles" in out.stdout, out.stderr


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.append(int(entry.name))
    return found


@pytest.mark.slow  # a build big enough for worker processes, killed
@pytest.mark.skipif(not Path("/proc").is_dir(), reason="reads /proc")
def test_a_killed_build_leaves_no_worker_behind(tmp_path) -> None:
    corpus = _corpus(tmp_path / "c.jsonl.gz", 3000)  # over POOL_MIN_CHARS (about 2.8M characters)
    build = subprocess.Popen(
        [sys.executable, "-m", "bot", "--lang", "en", "index", "--workers", "2", "--corpus", str(corpus)]
        + ["--index-dir", str(tmp_path / "index")],
        cwd=PROJECT,
        env=dict(os.environ, PYTHONPATH=str(PROJECT)),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while len(workers := _children(build.pid)) < 2 and time.monotonic() < deadline and build.poll() is None:
        time.sleep(0.05)
    assert len(workers) == 2
    build.send_signal(signal.SIGKILL)
    build.wait(timeout=30)
    deadline = time.monotonic() + 10
    while any(Path(f"/proc/{w}").exists() for w in workers) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not any(Path(f"/proc/{w}").exists() for w in workers)
