"""The command line as a user runs it: real subprocesses, real pyvi, the shipped corpus."""

import json
import os
import subprocess
import sys

import pytest

from conftest import PROJECT, write_article


def run(*args, stdin=None, index_dir=None, cwd=PROJECT):
    cmd = [sys.executable, "-m", "bot", *args]
    if index_dir is not None:
        cmd += ["--index-dir", str(index_dir)]
    env = dict(os.environ, PYTHONPATH=str(PROJECT))
    env.pop("TELEGRAM_BOT_TOKEN", None)
    return subprocess.run(cmd, input=stdin, capture_output=True, text=True, timeout=120, cwd=cwd, env=env)


@pytest.fixture(scope="module")
def index_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cli-index")
    out = run("index", index_dir=folder)
    assert out.returncode == 0, out.stderr
    assert "5 articles" in out.stdout
    return folder


@pytest.mark.slow
def test_index_reports_up_to_date_on_second_run(index_dir):
    out = run("index", index_dir=index_dir)
    assert out.returncode == 0 and "up to date" in out.stdout


def test_ask_json_shape(index_dir):
    out = run("ask", "Ai là Bí thư Thành ủy Hà Nội dự đại hội?", "--json", "--top-k", "2", index_dir=index_dir)
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert data["question"] == "Ai là Bí thư Thành ủy Hà Nội dự đại hội?"
    assert len(data["results"]) == 2
    first = data["results"][0]
    assert {"rank", "score", "doc_id", "passage_id", "title", "source", "date", "url", "text"} <= set(first)
    assert first["rank"] == 1 and first["doc_id"] == "004"
    assert first["date"] == "2020-08-04" and first["source"] == "Kinh tế và Đô thị"
    assert "Vương Đình Huệ" in first["text"]
    assert data["results"][0]["score"] >= data["results"][1]["score"]


@pytest.mark.slow
def test_ask_reads_questions_from_stdin_one_json_per_line(index_dir):
    questions = [
        "Bao nhiêu đảng viên bị thi hành kỷ luật đảng?",
        "",
        "😀😀",
        "Giá vàng hôm nay bao nhiêu?",
        "x" * 10_000,
    ]
    out = run("ask", "-", "--json", stdin="\n".join(questions) + "\n", index_dir=index_dir)
    assert out.returncode == 0, out.stderr
    rows = [json.loads(line) for line in out.stdout.splitlines()]
    assert len(rows) == len(questions)
    assert "5 đảng viên" in rows[0]["results"][0]["text"]
    assert rows[1]["results"] == [] and rows[2]["results"] == [] and rows[3]["results"] == []
    assert rows[4]["results"] == []


@pytest.mark.slow
def test_ask_plain_text_shows_title_source_and_date(index_dir):
    out = run("ask", "nghị quyết 128/NQ-CP của Chính phủ", index_dir=index_dir)
    assert out.returncode == 0, out.stderr
    assert "Thanhuytphcm.vn, 15/10/2021" in out.stdout
    assert "**128/NQ-CP**" in out.stdout


@pytest.mark.slow
@pytest.mark.parametrize(
    "question,expected",
    [
        ("   ", "chưa nhập câu hỏi"),
        ("?!…", "chỉ có dấu câu"),
        ("What is the exchange rate of the US dollar?", "Không tìm thấy"),
    ],
)
def test_bad_questions_get_clear_messages(index_dir, question, expected):
    out = run("ask", question, index_dir=index_dir)
    assert out.returncode == 0
    assert expected in out.stdout
    assert "Traceback" not in out.stdout + out.stderr


@pytest.mark.slow
def test_long_question_is_cut_with_a_note(index_dir):
    out = run("ask", "Vương Đình Huệ " * 1000, index_dir=index_dir)
    assert out.returncode == 0 and "dài quá" in out.stdout


@pytest.mark.slow
def test_missing_corpus_is_a_clear_error(tmp_path):
    out = run("ask", "câu hỏi", "--corpus", str(tmp_path / "none"), index_dir=tmp_path / "idx")
    assert out.returncode == 2
    assert "corpus not found" in out.stderr and "Traceback" not in out.stderr


@pytest.mark.slow
def test_bad_top_k_is_a_clear_error(index_dir):
    out = run("ask", "câu hỏi", "--top-k", "0", index_dir=index_dir)
    assert out.returncode == 2 and "--top-k" in out.stderr


@pytest.mark.slow
def test_invalid_setting_names_the_key(tmp_path):
    (tmp_path / "config").mkdir()
    import re

    text = re.sub(r"k1: [0-9.]+", "k1: nhiều", (PROJECT / "config" / "settings.yaml").read_text(encoding="utf-8"))
    (tmp_path / "config" / "settings.yaml").write_text(text, encoding="utf-8")
    out = run("ask", "câu hỏi", cwd=tmp_path)
    assert out.returncode == 2
    assert "bm25.k1" in out.stderr and "Traceback" not in out.stderr


@pytest.mark.slow
def test_bad_corpus_file_is_reported_and_others_answer(tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    write_article(
        corpus,
        "001-ok.md",
        "Hội nghị chuyển đổi số",
        "Sáng 6/9, thành phố tổ chức hội nghị chuyển đổi số với 300 đại biểu.",
        date="2021-09-06",
        source="Báo A",
    )
    (corpus / "002-bad.md").write_text("---\ntitle: x\ndate: 2021-02-30\n---\nNội dung.", encoding="utf-8")
    (corpus / "003-bin.txt").write_bytes(b"\xff\xfe\x00\x01binary")
    out = run(
        "ask",
        "hội nghị chuyển đổi số có bao nhiêu đại biểu",
        "--json",
        "--corpus",
        str(corpus),
        index_dir=tmp_path / "idx",
    )
    assert out.returncode == 0, out.stderr
    assert "002-bad.md" in out.stderr and "bad date" in out.stderr
    assert "003-bin.txt" in out.stderr and "UTF-8" in out.stderr
    assert json.loads(out.stdout)["results"][0]["doc_id"] == "001"


@pytest.mark.slow
def test_sources_and_source(index_dir):
    out = run("sources", "--json", index_dir=index_dir)
    listing = json.loads(out.stdout)
    assert {s["id"] for s in listing} == {"000", "001", "002", "003", "004"}
    out = run("sources", "hai phong", index_dir=index_dir)
    assert "[000]" in out.stdout and "[002]" in out.stdout and "[004]" not in out.stdout
    out = run("source", "003", index_dir=index_dir)
    assert "Thanhuytphcm.vn" in out.stdout and "15/10/2021" in out.stdout and "Long Hồ" in out.stdout
    out = run("source", "999", index_dir=index_dir)
    assert out.returncode == 2 and "999" in out.stderr


@pytest.mark.slow
def test_console_chat_answers_from_stdin(index_dir):
    out = run("chat", stdin="Ai là Bí thư Thành ủy Hà Nội?\n/sources\n/source 004\n/quit\n", index_dir=index_dir)
    assert out.returncode == 0, out.stderr
    assert "Vương Đình Huệ" in out.stdout
    assert "TELEGRAM_BOT_TOKEN" in out.stdout  # says how to connect to Telegram


@pytest.mark.slow
def test_an_index_whose_corpus_is_gone_is_used_as_it_is(tmp_path):
    """``ask --index-dir`` on an index built elsewhere answers from it; it is never rebuilt from
    the default corpus (that would silently throw a big index away)."""
    corpus = tmp_path / "elsewhere"
    corpus.mkdir()
    write_article(
        corpus,
        "a.md",
        "Cầu Vàng đón khách",
        "Cây cầu đi bộ ở Bà Nà đón 5.000 lượt khách mỗi ngày. " * 8,
        source="Báo Đà Nẵng",
        date="2023-06-01",
    )
    folder = tmp_path / "index"
    assert run("index", "--corpus", str(corpus), index_dir=folder).returncode == 0
    (corpus / "a.md").unlink()
    corpus.rmdir()
    out = run("ask", "Cầu Vàng đón bao nhiêu khách?", "--json", index_dir=folder)
    assert out.returncode == 0, out.stderr
    assert "rebuilt" not in out.stderr and "built" not in out.stderr
    results = json.loads(out.stdout)["results"]
    assert results and results[0]["title"] == "Cầu Vàng đón khách"
    listed = run("sources", "--json", index_dir=folder)
    assert [s["title"] for s in json.loads(listed.stdout)] == ["Cầu Vàng đón khách"]
