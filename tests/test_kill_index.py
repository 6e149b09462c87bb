"""SIGKILL at random points of `python -m bot index`: the next start finds a usable index
that agrees with the corpus. Quick in CI (3 kills); RELIABILITY_FULL=1 runs 10.

The same for `add` is in tests/test_kill_add.py."""

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
from bot.index.storage import current_version, load_index
from conftest import PROJECT
from figures import FULL, report

pytestmark = pytest.mark.slow  # SIGKILLs `python -m bot index` processes

KILLS = 10 if FULL else 3


def _make_corpus(path, n_articles, rng):
    sentences = [
        "Sáng {d}/{m}, Ủy ban nhân dân thành phố tổ chức hội nghị tổng kết công tác năm với {n} đại biểu.",
        "Đảng ủy Khối các cơ quan đã kết nạp {n} đảng viên mới và khen thưởng {d} chi bộ xuất sắc.",
        "Theo Nghị quyết số {n}/NQ-CP, các địa phương cần đẩy mạnh chuyển đổi số trong quản lý hành chính.",
        "Chủ tịch HĐND phát biểu chỉ đạo, đề nghị các đơn vị khắc phục hạn chế, nâng cao chất lượng phục vụ người dân.",
    ]
    with gzip.open(path, "wt", encoding="utf-8") as handle:
        for i in range(n_articles):
            text = "\n\n".join(
                " ".join(
                    rng.choice(sentences).format(d=rng.randint(1, 28), m=rng.randint(1, 12), n=rng.randint(2, 999))
                    for _ in range(4)
                )
                for _ in range(5)
            )
            handle.write(
                json.dumps(
                    {"id": f"a{i}", "title": f"Tin số {i}", "text": text, "source": "Báo Thử", "date": "2021-09-06"},
                    ensure_ascii=False,
                )
                + "\n"
            )


def test_sigkill_during_index_leaves_a_usable_index(settings, tmp_path):
    rng = random.Random(7)
    corpus = tmp_path / "corpus.jsonl.gz"
    _make_corpus(corpus, 400, rng)
    s = settings.with_paths(corpus, tmp_path / "index")
    env = dict(os.environ, PYTHONPATH=str(PROJECT))
    expected = {a.id for a in load_corpus(corpus).articles}
    for attempt in range(KILLS):
        if attempt % 2:  # change the corpus so a rebuild is really needed
            _make_corpus(corpus, 400 + attempt, rng)
            expected = {a.id for a in load_corpus(corpus).articles}
        proc = subprocess.Popen(
            [sys.executable, "-m", "bot", "index", "--force", "--corpus", str(corpus), "--index-dir", str(s.index_dir)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(rng.uniform(0.3, 3.0))
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        if current_version(s.index_dir) is not None:
            load_index(s.index_dir, s.bm25)  # whatever is current is complete and undamaged
        index, _ = ensure_index(s)  # the next start
        assert {a.id for a in index.articles} == expected
        assert index.n_passages == sum(len(index.article_passages(n)) for n in range(len(index.articles)))
    leftovers = [p.name for p in s.index_dir.iterdir() if p.name.startswith(".tmp-")]
    assert leftovers == []
    report(
        "kill_index",
        [
            (
                "SIGKILL at a random point of `index` (400 articles): kills / usable index agreeing "
                "with the corpus after each",
                f"{KILLS} / {KILLS}",
            )
        ],
    )
