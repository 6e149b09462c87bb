"""Date and source filters (issue 15, item 4): the chat parser, the service applying them for
every front end, `ask --since --until --source` (also with `ask -`), newer articles first."""

from __future__ import annotations

import datetime as dt
import io
import json
import unicodedata
from pathlib import Path

import pytest

from bot.answer.compose import AnswerStatus
from bot.answer.filters import ArticleFilter, FilterError, make_filter, split_filters
from bot.corpus.article import Article
from bot.frontends import cli
from bot.frontends.messages import load_messages
from bot.frontends.render import render_answer
from bot.service import Service
from bot.settings import load_settings
from conftest import write_article

ROOT = Path(__file__).resolve().parent.parent

FLOOD = (
    "Mưa lớn kéo dài khiến nước sông Hương dâng cao, nhiều tuyến đường ở thành phố Huế ngập sâu. "
    "Ban chỉ huy phòng chống thiên tai tỉnh đã sơ tán {n} hộ dân ở vùng trũng thấp đến nơi an toàn."
)


def test_chat_filters_at_the_end_of_a_question() -> None:
    question, found = split_filters("Giá vàng hôm nay từ:2021-04-01 đến:2021-04-30 nguồn:dantri")
    assert question == "Giá vàng hôm nay"
    assert found == ArticleFilter(dt.date(2021, 4, 1), dt.date(2021, 4, 30), "dantri")
    assert split_filters("gia vang tu:1/4/2021 den:30/04/2021 nguon:Tuổi Trẻ")[1] == ArticleFilter(
        dt.date(2021, 4, 1), dt.date(2021, 4, 30), "Tuổi Trẻ"
    )
    decomposed = unicodedata.normalize("NFD", "Lũ ở Huế nguồn:Thừa Thiên Huế Từ:2020-10-01")
    assert split_filters(decomposed)[1] == ArticleFilter(since=dt.date(2020, 10, 1), source="Thừa Thiên Huế")
    assert split_filters("Đi từ Hà Nội đến Huế mất bao lâu?") == ("Đi từ Hà Nội đến Huế mất bao lâu?", ArticleFilter())
    with pytest.raises(FilterError) as caught:
        split_filters("Lũ ở Huế từ:hôm qua")
    assert caught.value.value == "hôm qua"
    with pytest.raises(FilterError):
        make_filter(since="2021-13-01")


def test_a_filter_matches_dates_sources_and_addresses() -> None:
    article = Article("1", "T", "x", source="Dân trí", date=dt.date(2021, 4, 10), url="https://dantri.com.vn/a.htm")
    assert ArticleFilter(dt.date(2021, 4, 1), dt.date(2021, 4, 10)).matches(article)
    assert not ArticleFilter(until=dt.date(2021, 4, 9)).matches(article)
    assert ArticleFilter(source="dantri").matches(article) and ArticleFilter(source="DÂN TRÍ").matches(article)
    assert ArticleFilter(source="dantri.com").matches(article) and not ArticleFilter(source="vnexpress").matches(
        article
    )
    undated = Article("2", "T", "x", source="Dân trí")
    assert not ArticleFilter(since=dt.date(2000, 1, 1)).matches(undated) and ArticleFilter().matches(undated)


@pytest.fixture(scope="module")
def flood(tmp_path_factory) -> tuple[Path, Path]:
    """Four articles about floods in Huế: three dates, two sources, and a same-text pair."""
    root = tmp_path_factory.mktemp("flood")
    corpus = root / "corpus"
    corpus.mkdir()
    write_article(corpus, "001-a.md", "Lũ ở Huế", FLOOD.format(n=300), date="2020-10-10", source="Dân trí")
    write_article(corpus, "002-b.md", "Lũ ở Huế", FLOOD.format(n=300), date="2021-04-12", source="Tuổi Trẻ")
    write_article(
        corpus, "003-c.md", "Lũ lớn ở Huế", FLOOD.format(n=500) + " Bộ đội biên phòng giúp người dân di dời tài sản, "
        "gia súc và lương thực lên vùng cao trước khi đỉnh lũ xuất hiện vào đêm nay.",
        date="2021-04-20", source="Dân trí",
    )  # fmt: skip
    write_article(
        corpus, "004-d.md", "Lũ lớn ở Huế tháng 11", FLOOD.format(n=800) + " Nhiều trường học cho học sinh nghỉ, các chuyến "
        "tàu hỏa qua ga Huế phải dừng chạy và sân bay Phú Bài tạm đóng cửa hai ngày.",
        date="2021-11-02", source="Thanh Niên",
    )  # fmt: skip
    return corpus, root / "index"


def service(flood: tuple[Path, Path]) -> Service:
    corpus, index = flood
    return Service.open(load_settings(ROOT / "config" / "settings.yaml").with_paths(corpus, index))[0]


def test_the_service_applies_filters_for_every_front_end(flood) -> None:
    svc = service(flood)
    question = "sông Hương dâng cao sơ tán bao nhiêu hộ dân"
    every = svc.ask(question, top_k=5)
    assert every.status == AnswerStatus.OK
    # the same text twice: the newer article's passage is the one shown
    shown = [r.article.id for r in every.results]
    assert "002" in shown and "001" not in shown
    april = svc.ask(question + " từ:2021-04-01 đến:2021-04-30", top_k=5)
    assert {r.article.id for r in april.results} == {"002", "003"}
    assert april.question.endswith("từ:2021-04-01 đến:2021-04-30")  # asked again by a "more" button
    assert [r.article.id for r in svc.ask(question + " nguon:dan tri den:2021-01-01").results] == ["001"]
    assert [r.article.id for r in svc.ask(question, filters=ArticleFilter(source="thanh nien")).results] == ["004"]
    messages = load_messages(ROOT / "config" / "messages.yaml")
    none = svc.ask(question + " từ:2030-01-01")
    assert none.status == AnswerStatus.NO_ANSWER
    assert "từ:2030-01-01" in render_answer(none, messages) and "bộ lọc" in render_answer(none, messages)
    bad = svc.ask(question + " từ:hôm qua")
    assert bad.status == AnswerStatus.BAD_FILTER
    assert "Không đọc được bộ lọc «hôm qua»" in render_answer(bad, messages)
    assert "từ:" in messages.get("help")  # explained in /help


def test_ask_with_since_until_and_source(flood, capsys, monkeypatch) -> None:
    corpus, index = flood
    paths = ["--corpus", str(corpus), "--index-dir", str(index)]
    code = cli.main(
        [
            "ask",
            "sông Hương dâng cao sơ tán bao nhiêu hộ dân",
            "--since",
            "2021-04-15",
            "--source",
            "dantri",
            "--json",
            *paths,
        ]
    )
    data = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert code == 0 and [r["doc_id"] for r in data["results"]] == ["003"]
    assert data["filters"] == {"since": "2021-04-15", "until": None, "source": "dantri"}
    monkeypatch.setattr(
        "sys.stdin", io.StringIO("sông Hương dâng cao sơ tán bao nhiêu hộ dân\nsân bay Phú Bài đóng cửa mấy ngày\n")
    )
    code = cli.main(["ask", "-", "--until", "2021-05-01", "--json", *paths])
    answers = [json.loads(line) for line in capsys.readouterr().out.strip().splitlines()]
    assert code == 0 and len(answers) == 2 and answers[0]["results"]
    assert all(r["date"] <= "2021-05-01" for a in answers for r in a["results"])
    code = cli.main(["ask", "lũ", "--since", "15/4/2021x", *paths])
    err = capsys.readouterr().err
    assert code == 2 and "Không đọc được bộ lọc «15/4/2021x»" in err and "Traceback" not in err
