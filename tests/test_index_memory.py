"""A loaded index keeps its articles on disk and its mapped pages under a bound."""

from __future__ import annotations

import random

import numpy as np
import pytest

from bot.answer import answer_question
from bot.article_table import ArticleTable, encode_articles
from bot.index import build_index, load_index
from bot.parts import mapped_file_mb
from conftest import write_article


def _articles(n: int) -> list[dict]:
    rng = random.Random(3)
    out, first = [], 0
    for i in range(n):
        count = rng.randint(1, 4)
        out.append({
            "id": f"bài-{i % 7}" if i % 5 == 0 else f"a{i}",  # some ids repeat
            "title": f"Tiêu đề “{i}” \\ \"trích\" – Hà Nội\nxuống dòng",
            "source": rng.choice(["VnExpress", None]), "date": "2024-03-0" + str(1 + i % 9),
            "first_passage": first, "passages": count,
        })
        first += count
    return out


def test_article_table_reads_back_every_article_and_finds_ids() -> None:
    articles = _articles(60)
    blob, rows = encode_articles(articles)
    table = ArticleTable(blob, rows)
    assert len(table) == 60 and list(table) == articles
    assert table[5:9] == articles[5:9] and table[-1] == articles[-1]
    assert table.first_passages().tolist() == [a["first_passage"] for a in articles]
    assert table.passage_counts().tolist() == [a["passages"] for a in articles]
    for article_id in {a["id"] for a in articles}:
        assert table.numbers_of(article_id) == [n for n, a in enumerate(articles) if a["id"] == article_id]
    assert table.numbers_of("không có") == []
    table[0]["title"] = "changed"  # every read is a new dict
    assert table[0]["title"] == articles[0]["title"]


@pytest.fixture()
def built(tmp_path, settings):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    rng = random.Random(8)
    words = "kinh tế xã hội ngân sách đầu tư công trình giao thông cầu đường tỉnh thành phố dự án vốn".split()
    for i in range(40):
        text = "\n\n".join(" ".join(rng.choice(words) for _ in range(60)) + "." for _ in range(3))
        write_article(corpus, f"{i:03d}.md", f"Bài {i} về dự án số {i}", text, source="Báo thử", date="2024-05-01")
    s = settings.with_paths(corpus, tmp_path / "index")
    build_index(s)
    return s


def test_released_pages_leave_answers_unchanged(built) -> None:
    index = load_index(built.index_dir, built.bm25, memory_mb=0.001)  # any mapped page is over the bound
    questions = ["dự án đầu tư công", "ngân sách tỉnh", "cầu đường giao thông thành phố"]
    first = [answer_question(index, q, built) for q in questions]
    before = mapped_file_mb()
    assert index.release_pages()
    assert mapped_file_mb() < before  # the pages the answers read are no longer mapped
    assert [answer_question(index, q, built) for q in questions] == first
    assert index.find_article("007") is not None and index.articles[index.find_article("007")]["id"] == "007"


def test_no_bound_keeps_pages(built) -> None:
    index = load_index(built.index_dir, built.bm25)
    answer_question(index, "dự án đầu tư công", built)
    assert not index.release_pages()


def _resident_kb(folder, suffix: str) -> int:
    """Resident KB of this process's mappings of files in ``folder`` ending in ``suffix`` (from
    /proc/self/smaps; other tests' indexes may be mapped too)."""
    total, current = 0, ""
    with open("/proc/self/smaps") as handle:
        for line in handle:
            fields = line.split()
            if fields and "-" in fields[0] and len(fields) >= 5 and ":" in fields[3]:
                current = fields[5] if len(fields) > 5 else ""
            elif fields and fields[0] == "Rss:" and current.startswith(str(folder)) and current.endswith(suffix):
                total += int(fields[1])
    return total


@pytest.mark.skipif(not __import__("os").path.exists("/proc/self/smaps"), reason="Linux only")
def test_release_keeps_the_recent_questions_posting_lists(built) -> None:
    index = load_index(built.index_dir, built.bm25, memory_mb=0.001)
    folder = built.index_dir.resolve()
    first = answer_question(index, "dự án đầu tư công", built)
    assert _resident_kb(folder, ".post_doc.npy") > 0 and _resident_kb(folder, ".passages.txt") > 0
    index._unmap({0: (np.array([0]), np.array([len(index.parts[0].arrays["post_doc"])]))})  # keep every posting
    assert _resident_kb(folder, ".post_doc.npy") > 0 and _resident_kb(folder, ".passages.txt") == 0
    index._unmap({})
    assert _resident_kb(folder, ".post_doc.npy") == 0
    assert answer_question(index, "dự án đầu tư công", built) == first
