"""Index build, incremental refresh and the CLI, on small generated corpora."""

from __future__ import annotations

import gzip
import json
import random
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from rank_bm25 import BM25Okapi

from bot.answer.compose import answer_question
from bot.index.builder import build_index, ensure_index
from bot.index.storage import IndexError_, load_index
from bot.settings import load_settings

SYLLABLES = [
    "Hà",
    "Nội",
    "thành",
    "phố",
    "kinh",
    "tế",
    "phát",
    "triển",
    "năm",
    "nay",
    "tăng",
    "trưởng",
    "Đảng",
    "bộ",
    "đại",
    "hội",
    "nhiệm",
    "kỳ",
    "chủ",
    "tịch",
    "ủy",
    "ban",
    "nhân",
    "dân",
    "tỉnh",
    "Quảng",
    "Ninh",
    "du",
    "lịch",
    "biển",
    "đảo",
    "khách",
    "quốc",
    "tế",
    "giáo",
    "dục",
    "học",
    "sinh",
    "trường",
    "đại",
    "học",
    "y",
    "tế",
    "bệnh",
    "viện",
    "bác",
    "sĩ",
    "nông",
    "nghiệp",
    "lúa",
    "gạo",
    "xuất",
    "khẩu",
    "doanh",
    "nghiệp",
]


def _article(rng: random.Random, number: int) -> dict:
    paragraphs = []
    for _ in range(rng.randint(2, 5)):
        sentences = [
            " ".join(rng.choice(SYLLABLES) for _ in range(rng.randint(8, 25))).capitalize() + "."
            for _ in range(rng.randint(2, 6))
        ]
        paragraphs.append(" ".join(sentences))
    return {
        "id": f"a{number}",
        "source": "Báo thử",
        "title": " ".join(rng.choice(SYLLABLES) for _ in range(6)).capitalize(),
        "sapo": "",
        "text": "\n\n".join(paragraphs),
    }


def _write(path: Path, articles: list[dict]) -> Path:
    with gzip.open(path, "wt", encoding="utf-8") as handle:
        for article in articles:
            handle.write(json.dumps(article, ensure_ascii=False) + "\n")
    return path


@pytest.fixture(scope="module")
def articles() -> list[dict]:
    rng = random.Random(7)
    return [_article(rng, i) for i in range(40)]


def _settings(corpus: Path, index_dir: Path):
    return load_settings().with_paths(corpus, index_dir)


QUESTIONS = ["Chủ tịch ủy ban nhân dân tỉnh Quảng Ninh", "du lich bien dao", "xuất khẩu lúa gạo năm nay"]


def _cited(answer) -> list[tuple]:
    return [(r["doc_id"], r["passage_id"], r["text"]) for r in answer.to_json()["results"]]


def test_incremental_add_remove_change_matches_full_rebuild(tmp_path: Path, articles: list[dict]) -> None:
    live = tmp_path / "live"
    corpus = tmp_path / "corpus.jsonl.gz"
    _write(corpus, articles[:30])
    settings = _settings(corpus, live)
    _, report = ensure_index(settings)
    assert report.segmented == 30

    changed = dict(articles[5], text=articles[5]["text"] + "\n\nBệnh viện đón bác sĩ quốc tế.")
    steps = [
        articles[:30] + articles[30:40],  # add 10
        articles[:3] + articles[4:40],  # remove one
        articles[:3] + articles[4:5] + [changed] + articles[6:40],  # change one
    ]
    expected_new = [10, 0, 1]
    for step, (corpus_articles, new) in enumerate(zip(steps, expected_new)):
        _write(corpus, corpus_articles)
        index, report = ensure_index(settings)
        assert report.action == "rebuilt" and report.segmented == new and report.mode == "delta"
        assert report.passages == index.n_live
        fresh_settings = _settings(corpus, tmp_path / f"fresh{step}")
        fresh, fresh_report = ensure_index(fresh_settings)
        assert fresh_report.segmented == len(corpus_articles) and len(fresh.parts) == 1
        assert index.n_live == fresh.n_passages
        assert sorted(a.id for a in index.articles) == sorted(a.id for a in fresh.articles)
        for question in QUESTIONS:
            a = answer_question(index, question, settings, 5)
            b = answer_question(fresh, question, fresh_settings, 5)
            assert _cited(a) == _cited(b)
            assert [r.score for r in a.results] == pytest.approx([r.score for r in b.results], rel=1e-12)


def test_answers_match_rank_bm25_on_index_passages(tmp_path: Path, articles: list[dict]) -> None:
    """The ranking the bot shows is rank-bm25's over the same passages and terms."""
    from bot.corpus.loading import load_corpus
    from bot.index.segmenter import segment_article
    from bot.search.ranking import question_terms

    corpus = _write(tmp_path / "c.jsonl.gz", articles)
    settings = _settings(corpus, tmp_path / "ix")
    settings = replace(  # the BM25 stage alone: no proximity, name or title re-rank
        settings,
        answer=replace(
            settings.answer,
            duplicate_similarity=1.01,
            min_coverage=0.0,
            window_weight=0.0,
            title_weight=0.0,
            name_weight=0.0,
        ),
    )
    index, _ = ensure_index(settings)
    tokens = []
    for article in load_corpus(corpus).articles:
        _, terms, _ = segment_article(
            article, settings.min_chars, settings.max_chars, settings.terms, settings.title_in_passages
        )
        tokens.extend([t for t, c in passage for _ in range(c)] for passage in terms)
    assert len(tokens) == index.n_passages
    bm25 = BM25Okapi(tokens, k1=settings.bm25.k1, b=settings.bm25.b, epsilon=settings.bm25.epsilon)
    for question in QUESTIONS:
        query = question_terms(question, settings)
        expected = np.zeros(len(tokens))
        for term, weight in zip(query.terms, query.weights):
            expected += bm25.get_scores([term]) * weight
        ranked = sorted(np.flatnonzero(expected > 0), key=lambda d: (-expected[d], d))[:10]
        answer = answer_question(index, question, settings, 10)
        assert [r.passage for r in answer.results] == [int(d) for d in ranked]
        assert [r.score for r in answer.results] == [float(expected[d]) for d in ranked]


def test_damaged_index_is_detected_and_rebuilt(tmp_path: Path, articles: list[dict]) -> None:
    corpus = _write(tmp_path / "c.jsonl.gz", articles[:10])
    settings = _settings(corpus, tmp_path / "ix")
    build_index(settings)
    index = load_index(settings.index_dir, settings.bm25)
    version = Path(index.manifest["corpus"]).parent  # noqa: F841 (the corpus path is recorded)
    assert index.manifest["corpus"] == str(corpus.resolve())
    target = next((settings.index_dir).glob("v-*/*.post_doc.npy"))
    data = bytearray(target.read_bytes())
    data[-1] ^= 0xFF
    target.write_bytes(bytes(data))
    with pytest.raises(IndexError_):
        load_index(settings.index_dir, settings.bm25)
    _, report = ensure_index(settings)
    assert report.action == "rebuilt" and report.segmented == 0


@pytest.mark.slow  # `python -m bot` processes
def test_cli_index_then_ask_json_from_stdin(tmp_path: Path, articles: list[dict]) -> None:
    corpus = _write(tmp_path / "news.jsonl.gz", articles[:12])
    index_dir = tmp_path / "ix"
    run = [sys.executable, "-m", "bot", "--lang", "en"]
    built = subprocess.run(
        run + ["index", "--corpus", str(corpus), "--index-dir", str(index_dir)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert built.returncode == 0, built.stderr
    assert "12 articles" in built.stdout
    questions = [" ".join(articles[i]["text"].split()[:6]).rstrip(".") for i in (2, 7)]
    asked = subprocess.run(
        run + ["ask", "--index-dir", str(index_dir), "--json", "-"],
        input="".join(q + "\n" for q in questions),
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert asked.returncode == 0, asked.stderr
    lines = [json.loads(line) for line in asked.stdout.splitlines()]
    assert [line["question"] for line in lines] == questions
    assert [line["results"][0]["doc_id"] for line in lines] == ["a2", "a7"]
    assert "built" not in asked.stderr  # loaded, not rebuilt: the index remembers its corpus


def test_appended_articles_score_bit_for_bit_as_a_full_build(tmp_path: Path, articles: list[dict]) -> None:
    from bot.search.part_search import search

    corpus = tmp_path / "corpus.jsonl.gz"
    settings = _settings(corpus, tmp_path / "live")
    for count in (20, 26, 33, 40):  # three delta parts
        _write(corpus, articles[:count])
        index, report = ensure_index(settings)
    assert report.mode == "delta" and len(index.parts) == 4
    fresh, _ = ensure_index(_settings(corpus, tmp_path / "fresh"))
    assert len(fresh.parts) == 1 and index.n_passages == fresh.n_passages
    rng = random.Random(3)
    words = sorted({w.lower() for a in articles for w in a["text"].replace(".", "").split()})
    for _ in range(40):
        terms = [rng.choice(words) for _ in range(rng.randint(1, 5))]
        terms += [f"{a} {b}" for a, b in zip(terms, terms[1:])]
        weights = [rng.choice([1.0, 0.5]) for _ in terms]
        assert search(index, terms, weights, 10)[0] == search(fresh, terms, weights, 10)[0]  # bit for bit
    for question in QUESTIONS:
        assert (
            answer_question(index, question, settings, 5).to_json()
            == answer_question(fresh, question, settings, 5).to_json()
        )


def test_many_deltas_are_merged_and_big_changes_compact(tmp_path: Path, articles: list[dict], monkeypatch) -> None:
    import bot.index.builder as index_mod

    corpus = tmp_path / "corpus.jsonl.gz"
    settings = _settings(corpus, tmp_path / "live")
    monkeypatch.setattr(index_mod, "MAX_PARTS", 3)
    for count in (30, 32, 34):
        _write(corpus, articles[:count])
        index, report = ensure_index(settings)
    assert len(index.parts) == 3
    _write(corpus, articles[:36])
    index, report = ensure_index(settings)  # a fourth part: the deltas become one
    assert report.mode == "delta" and "merged" in report.detail and len(index.parts) == 2
    assert [a.id for a in index.articles] == [a["id"] for a in articles[:36]]
    assert report.segmented == 2  # only the new articles: merged deltas come from the segment cache
    monkeypatch.setattr(index_mod, "COMPACT_MIN_PASSAGES", 0)
    _write(corpus, articles[:20] + articles[21:36])
    index, report = ensure_index(settings)
    assert report.mode == "compacted" and len(index.parts) == 1 and len(index.articles) == 35
    from bot.frontends.cli import Run, describe_build
    from bot.frontends.messages import load_messages

    assert "; compacted: all parts merged" in describe_build(report, settings, Run("en", load_messages()))
    assert "; gộp mọi phần" in describe_build(report, settings, Run("vi", load_messages()))


def test_a_moved_json_line_is_the_same_article(tmp_path: Path, articles: list[dict]) -> None:
    """Removing a line of an export, or a new export file with the same records plus new ones,
    segments and re-adds nothing but the new records."""
    first = _write(tmp_path / "export-1.jsonl.gz", articles[:30])
    settings = _settings(first, tmp_path / "live")
    ensure_index(settings)
    _write(first, articles[:3] + articles[4:30])  # line 4 removed: every later line moved up
    index, report = ensure_index(settings)
    assert report.mode == "delta" and report.detail.startswith("+0 -1 ") and len(index.parts) == 1
    second = _write(tmp_path / "export-2.jsonl.gz", articles[:3] + articles[4:32])
    index, report = ensure_index(_settings(second, tmp_path / "live"))
    assert report.mode == "delta" and report.detail.startswith("+2 -0 ") and report.segmented == 2
    assert sorted(a.id for a in index.articles) == sorted(a["id"] for a in articles[:3] + articles[4:32])
