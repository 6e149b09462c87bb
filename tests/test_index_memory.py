"""A loaded index keeps its articles on disk and its mapped pages under a bound."""

from __future__ import annotations

import random

import numpy as np
import pytest

from bot.answer.compose import answer_question
from bot.index.article_table import ArticleTable, encode_articles
from bot.index.builder import build_index
from bot.index.keys import term_hash
from bot.index.parts import KEEP_SHARE, mapped_file_mb
from bot.index.storage import load_index, wait_cached
from conftest import write_article


def _articles(n: int) -> list[dict]:
    rng = random.Random(3)
    out, first = [], 0
    for i in range(n):
        count = rng.randint(1, 4)
        out.append(
            {
                "id": f"bài-{i % 7}" if i % 5 == 0 else f"a{i}",  # some ids repeat
                "title": f'Tiêu đề “{i}” \\ "trích" – Hà Nội\nxuống dòng',
                "source": rng.choice(["VnExpress", None]),
                "date": "2024-03-0" + str(1 + i % 9),
                "first_passage": first,
                "passages": count,
            }
        )
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
    words = [
        "kinh",
        "tế",
        "xã",
        "hội",
        "ngân",
        "sách",
        "đầu",
        "tư",
        "công",
        "trình",
        "giao",
        "thông",
        "cầu",
        "đường",
        "tỉnh",
        "thành",
        "phố",
        "dự",
        "án",
        "vốn",
    ]
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
    assert index.find_article("007") is not None and index.articles[index.find_article("007")].id == "007"


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
def test_texts_are_read_not_mapped_and_a_release_keeps_the_given_lists(built) -> None:
    index = load_index(built.index_dir, built.bm25, memory_mb=0.001)
    folder = built.index_dir.resolve()
    first = answer_question(index, "dự án đầu tư công", built)
    assert first.results and _resident_kb(folder, ".post_doc.npy") > 0
    # passage texts and article lines are read (pread), never mapped: they cost no resident memory
    assert _resident_kb(folder, ".passages.txt") == 0 and _resident_kb(folder, ".articles.jsonl") == 0
    index._unmap({0: np.arange(index.parts[0].n_terms)})  # keep every term's postings
    assert _resident_kb(folder, ".post_doc.npy") > 0
    index._unmap({})
    assert _resident_kb(folder, ".post_doc.npy") == 0
    assert answer_question(index, "dự án đầu tư công", built) == first


@pytest.mark.skipif(not __import__("os").path.exists("/proc/self/smaps"), reason="Linux only")
def test_a_release_keeps_the_most_read_terms_within_its_share_of_the_bound(built) -> None:
    """The lists a release keeps are those the recent questions read most often, within
    ``KEEP_SHARE`` of the bound above what was mapped at load; their range bounds rows too."""
    index = load_index(built.index_dir, built.bm25, memory_mb=1e6)
    part = index.parts[0]
    common = index.parts[0].row(np.uint64(term_hash("dự")))
    rare = index.parts[0].row(np.uint64(term_hash("ngân")))
    assert common is not None and rare is not None
    for _ in range(3):
        index.note_rows_read(0, np.array([common]))
    index.note_rows_read(0, np.array([rare]))
    sizes = index._row_bytes(0, np.array([common, rare]))
    index.memory_mb = index._floor_mb + (sizes.sum() + 1) / (1 << 20) / KEEP_SHARE  # room for both
    assert index._kept_rows()[0].tolist() == sorted([common, rare])
    index.memory_mb = index._floor_mb + (sizes[0] + 0.5) / (1 << 20) / KEEP_SHARE  # room for the most read one
    assert index._kept_rows()[0].tolist() == [common]
    df = np.diff(np.asarray(part.arrays["term_ptr"]))
    starts, ends = part.spans("post_doc", np.array([common, rare]))
    assert (ends - starts).tolist() == df[[common, rare]].tolist()


@pytest.mark.skipif(not __import__("os").path.exists("/proc/self/smaps"), reason="Linux only")
def test_a_preload_waits_for_the_posting_files_without_keeping_them_mapped(built) -> None:
    """With preload a load waits (within its time) for the posting files to be in the page
    cache: each piece is mapped in and unmapped again, so none stays in the process's memory."""
    index = load_index(built.index_dir, built.bm25, preload=True)
    folder = built.index_dir.resolve()
    assert _resident_kb(folder, ".post_doc.npy") == 0 and _resident_kb(folder, ".post_tf.npy") == 0
    mappings = [index.parts[0].maps[key] for key in ("post_doc", "post_tf")]
    assert wait_cached(mappings, 10.0) == 1.0
    assert _resident_kb(folder, ".post_doc.npy") == 0
    assert wait_cached(mappings, -1.0) == 0.0  # past its time at once: left to the read-ahead
    assert answer_question(index, "ngân sách tỉnh", built).results
