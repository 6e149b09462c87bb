"""The command line as a user runs it: real subprocesses, real pyvi, the shipped corpus."""

import json
import os
import socket
import subprocess
import sys
import time

import pytest
import yaml

from conftest import PROJECT, write_article
from fake_bot_api import FakeBotApi


def run(*args, stdin=None, index_dir=None, cwd=PROJECT, env=None):
    """``python -m bot *args`` in a Vietnamese locale-free environment (plus ``env``)."""
    extra = env
    cmd = [sys.executable, "-m", "bot", *args]
    if index_dir is not None:
        cmd += ["--index-dir", str(index_dir)]
    env = dict(os.environ, PYTHONPATH=str(PROJECT), **(env or {}))
    for name in ("TELEGRAM_BOT_TOKEN", "LANG", "LC_ALL", "LC_MESSAGES"):
        if name not in (extra or {}):
            env.pop(name, None)
    return subprocess.run(cmd, input=stdin, capture_output=True, text=True, timeout=120, cwd=cwd, env=env)


@pytest.fixture(scope="module")
def index_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cli-index")
    out = run("index", "--lang", "en", index_dir=folder)
    assert out.returncode == 0, out.stderr
    assert "5 articles" in out.stdout
    return folder


@pytest.mark.slow
def test_index_reports_up_to_date_on_second_run(index_dir):
    out = run("index", index_dir=index_dir, env={"LANG": "en_US.UTF-8"})
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
    assert "128/NQ-CP" in out.stdout and "**" not in out.stdout  # no marks when stdout is not a terminal


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
    assert out.stderr == f"lỗi: không tìm thấy kho bài viết: {tmp_path / 'none'}\n"
    out = run("ask", "câu hỏi", "--lang", "en", "--corpus", str(tmp_path / "none"), index_dir=tmp_path / "idx")
    assert out.returncode == 2
    assert out.stderr == f"error: corpus not found: {tmp_path / 'none'}\n"


@pytest.mark.slow
def test_bad_top_k_is_a_clear_error(index_dir):
    out = run("ask", "câu hỏi", "--top-k", "0", index_dir=index_dir)
    assert out.returncode == 2 and out.stderr == "lỗi: --top-k phải từ 1 đến 20\n"
    out = run("ask", "câu hỏi", "--top-k", "21", "--lang", "en", index_dir=index_dir)
    assert out.returncode == 2 and out.stderr == "error: --top-k must be between 1 and 20\n"


@pytest.mark.slow
def test_invalid_setting_names_the_key(tmp_path):
    (tmp_path / "config").mkdir()
    import re

    text = re.sub(r"k1: [0-9.]+", "k1: nhiều", (PROJECT / "config" / "settings.yaml").read_text(encoding="utf-8"))
    (tmp_path / "config" / "settings.yaml").write_text(text, encoding="utf-8")
    out = run("ask", "câu hỏi", cwd=tmp_path)
    assert out.returncode == 2
    assert out.stderr.startswith("lỗi: cấu hình không hợp lệ:")
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
        "--lang",
        "en",
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
    assert out.stderr == ""  # no build line: "built", "rebuilt" or "đã dựng"
    results = json.loads(out.stdout)["results"]
    assert results and results[0]["title"] == "Cầu Vàng đón khách"
    listed = run("sources", "--json", index_dir=folder)
    assert [s["title"] for s in json.loads(listed.stdout)] == ["Cầu Vàng đón khách"]


# --- the command line as a person expects it: version, -v anywhere, ranges, ids, languages ---------


@pytest.mark.slow
def test_version_and_verbose_before_or_after_the_command(index_dir):
    out = run("--version")
    assert out.returncode == 0 and out.stdout.startswith("python -m bot 0.")
    for args in (("-v", "ask", "Vương Đình Huệ"), ("ask", "Vương Đình Huệ", "-v"), ("ask", "-v", "Vương Đình Huệ")):
        out = run(*args, "--json", index_dir=index_dir)
        assert out.returncode == 0, out.stderr
        assert json.loads(out.stdout)["results"]


@pytest.mark.slow
def test_help_and_usage_errors_in_one_language():
    vi, en = run("ask", "--help"), run("ask", "--help", "--lang", "en")
    assert (
        vi.stdout.startswith("cách dùng: python -m bot ask")
        and "số đoạn trả lời, từ 1 đến 20 (mặc định: 3)" in vi.stdout
    )
    assert "tùy chọn:" in vi.stdout and "options:" not in vi.stdout and "show this" not in vi.stdout
    assert en.stdout.startswith("usage: python -m bot ask") and "number of passages, 1 to 20 (default: 3)" in en.stdout
    english = run("--help", env={"LANG": "en_US.UTF-8"})
    assert "build or refresh the index" in english.stdout and "dựng" not in english.stdout
    missing = run("ask")
    assert missing.returncode == 2 and "lỗi: thiếu tham số: question" in missing.stderr
    missing = run("ask", "--lang", "en")
    assert missing.returncode == 2 and "error: the following arguments are required: question" in missing.stderr
    wrong = run("ask", "câu hỏi", "--top-k", "ba")
    assert wrong.returncode == 2 and "lỗi: tham số --top-k: giá trị không hợp lệ: 'ba' (cần một số)" in wrong.stderr


@pytest.mark.slow
def test_article_ids_match_as_typed_and_messages_name_no_chat_command(index_dir):
    shown = {typed: run("source", typed, index_dir=index_dir) for typed in ("4", "04", "004", " 004 ")}
    assert all(out.returncode == 0 for out in shown.values())
    assert len({out.stdout for out in shown.values()}) == 1 and "Mã bài: 004" in shown["4"].stdout
    passages = shown["4"].stdout.split("\n\n")
    assert len(passages) >= 6  # the detail, then each passage after a blank line
    empty = run("source", "", index_dir=index_dir)
    assert (
        empty.returncode == 2 and empty.stderr == "lỗi: Chưa nhập mã bài. Xem danh sách mã bài: python -m bot sources\n"
    )
    missing = run("source", "77", "--lang", "en", index_dir=index_dir)
    assert missing.stderr == "error: There is no article with id 77. The ids: python -m bot sources\n"
    assert "/sources" not in empty.stderr + missing.stderr


@pytest.mark.slow
def test_json_says_when_the_question_was_cut(index_dir):
    out = run("ask", "Vương Đình Huệ " * 100, "--json", index_dir=index_dir)
    cut = json.loads(out.stdout)
    assert cut["truncated"] is True and len(cut["question"]) <= 500
    assert json.loads(run("ask", "Vương Đình Huệ", "--json", index_dir=index_dir).stdout)["truncated"] is False


@pytest.mark.slow
def test_build_lines_and_answers_in_either_language(tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    write_article(corpus, "001-a.md", "Cầu Vàng", "Cầu Vàng ở Bà Nà đón 5.000 lượt khách mỗi ngày.", source="Báo A")
    en = run("index", "--lang", "en", "--corpus", str(corpus), index_dir=tmp_path / "idx")
    assert en.stdout.startswith("index built: 1 article, 1 passage, 1 article segmented, "), en.stdout
    vi = run("index", "--force", "--corpus", str(corpus), index_dir=tmp_path / "idx")
    assert vi.stdout.startswith("đã dựng chỉ mục: 1 bài, 1 đoạn, tách từ 0 bài, "), vi.stdout  # from the cache
    answer = run("ask", "Cầu Vàng đón bao nhiêu khách?", "--corpus", str(corpus), index_dir=tmp_path / "idx")
    assert answer.stdout.startswith("Kết quả cho:") and "không rõ ngày" in answer.stdout
    answer = run(
        "ask",
        "Cầu Vàng đón bao nhiêu khách?",
        "--corpus",
        str(corpus),
        index_dir=tmp_path / "idx",
        env={"LANG": "en_GB.UTF-8"},
    )
    assert answer.stdout.startswith("Results for:") and "date unknown" in answer.stdout
    listing = run("sources", "--lang", "en", "--corpus", str(corpus), index_dir=tmp_path / "idx")
    assert listing.stdout.startswith("The collection has 1 article:")


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_serve_failures_are_one_line_without_the_token(index_dir, tmp_path):
    secret = "123456:SECRETsecretSECRET"
    port = _closed_port()
    env = {"TELEGRAM_BOT_TOKEN": secret, "TELEGRAM_API_BASE_URL": f"http://127.0.0.1:{port}/bot"}
    out = run("serve", index_dir=index_dir, env=env)
    assert out.returncode == 2
    assert out.stderr.splitlines() == [
        f"lỗi: Không kết nối được tới Bot API (127.0.0.1:{port}): kiểm tra mạng và TELEGRAM_API_BASE_URL"
    ]
    verbose = run("serve", "-v", "--lang", "en", index_dir=index_dir, env=env)
    assert verbose.returncode == 2 and "Traceback" in verbose.stderr
    assert verbose.stderr.splitlines()[-1].startswith("error: Cannot reach the Bot API")
    with FakeBotApi() as api:
        env = {"TELEGRAM_BOT_TOKEN": secret, "TELEGRAM_API_BASE_URL": api.base_url}
        rejected = run("serve", "--lang", "en", index_dir=index_dir, env=env)
    assert rejected.returncode == 2
    assert rejected.stderr.splitlines() == [
        "error: Telegram rejected the bot token: check TELEGRAM_BOT_TOKEN (get it again from @BotFather)"
    ]
    for result in (out, verbose, rejected):
        assert "SECRET" not in result.stdout + result.stderr


@pytest.mark.slow
def test_serve_with_the_webhook_port_in_use_is_one_line(index_dir, tmp_path):
    config = yaml.safe_load((PROJECT / "config" / "settings.yaml").read_text(encoding="utf-8"))
    with socket.socket() as busy, FakeBotApi() as api:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        config["telegram"].update(
            mode="webhook", webhook={"url": "https://bot.example.org/hook", "listen": "127.0.0.1", "port": port}
        )
        (tmp_path / "settings.yaml").write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
        env = {"TELEGRAM_BOT_TOKEN": api.token, "TELEGRAM_API_BASE_URL": api.base_url}
        out = run("serve", "--lang", "en", "--config", str(tmp_path / "settings.yaml"), index_dir=index_dir, env=env)
    assert out.returncode == 2
    assert out.stderr.splitlines() == [
        f"error: Cannot open webhook port {port}: it is in use or not allowed; check telegram.webhook_port in the settings"
    ]


@pytest.mark.slow
def test_first_question_after_installing_does_not_wait_for_the_compiler(index_dir, tmp_path):
    """With an empty numba cache (a fresh install) the question is answered by the numpy
    scorer, with the same results, while a separate process compiles and caches the scorer."""
    question = "Vương Đình Huệ dự đại hội nào?"
    cached = run("ask", question, "--json", index_dir=index_dir)
    cache = tmp_path / "numba"
    fresh = run("ask", question, "--json", index_dir=index_dir, env={"NUMBA_CACHE_DIR": str(cache)})
    compiled = list(cache.rglob("kernel.top_passages-*.nbi"))
    assert fresh.returncode == 0 and fresh.stderr == ""
    assert json.loads(fresh.stdout) == json.loads(cached.stdout)
    assert not compiled  # answered before the compiler was done
    deadline = time.monotonic() + 300
    while not compiled and time.monotonic() < deadline:
        time.sleep(1)
        compiled = list(cache.rglob("kernel.top_passages-*.nbi"))
    assert compiled  # the next run loads it from the cache
