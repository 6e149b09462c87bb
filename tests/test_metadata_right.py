"""Metadata a new user sees after `add` (issue 15, item 6): datelines, outlets in page titles
and lead brackets, header dates, titles of JSON Lines articles, unreadable front-matter dates."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from bot.corpus.adding import add_files
from bot.corpus.ingest import article_from_html, article_from_text, read_input
from bot.corpus.loading import load_corpus
from bot.corpus.metadata import infer_date, infer_source, outlet_from_page_title, plausible_site_name

TODAY = dt.date(2025, 1, 1)

BODY = (
    "<p>{lead} UBND thành phố tổ chức hội nghị tổng kết công tác phòng chống thiên tai và tìm kiếm "
    "cứu nạn với sự tham dự của đại diện các sở, ngành và quận huyện.</p>"
    "<p>Theo kế hoạch, {later} thành phố sẽ ra quân nạo vét kênh rạch ở tất cả các quận huyện, "
    "huy động hàng nghìn người tham gia.</p>"
    "<p>Lãnh đạo thành phố đề nghị các địa phương chủ động phương án ứng phó mưa bão trong mùa mưa năm nay.</p>"
)


def page(title: str, lead: str, header: str = "", meta: str = "", later: str = "ngày 12/6/2024") -> bytes:
    return (
        f"<!DOCTYPE html><html lang='vi'><head><meta charset='utf-8'><title>{title}</title>{meta}</head><body>"
        f"<header><div class='top-date'>{header}</div><nav><a href='/'>Trang chủ</a> <a href='/xh'>Xã hội</a>"
        "</nav></header><main><article><h1>Cần Thơ tổng kết phòng chống thiên tai</h1>"
        f"{BODY.format(lead=lead, later=later)}</article></main></body></html>"
    ).encode()


def test_the_dateline_wins_over_dates_in_the_body() -> None:
    text = "Chiều 10/6, hội nghị diễn ra. Theo kế hoạch, ngày 12/6/2024 thành phố ra quân.\n\nNội dung khác."
    assert infer_date(text, TODAY) == dt.date(2024, 6, 10)
    later = dt.date(2025, 6, 1)
    assert infer_date("Sáng 28/12, thành phố tổng kết; kế hoạch bắt đầu từ 5/1/2025.", later) == dt.date(2024, 12, 28)
    assert article_from_text(text, "a.txt", today=TODAY).date == dt.date(2024, 6, 10)
    html = article_from_html(page("Tin tức", "Chiều 10/6,"), "a.html", today=TODAY)
    assert html.date == dt.date(2024, 6, 10)


def test_an_outlet_in_the_page_title_and_never_the_headline() -> None:
    article = article_from_html(
        page("Cần Thơ tổng kết phòng chống thiên tai | Báo Cần Thơ", "Chiều 10/6,"), "ct.html", today=TODAY
    )
    assert article.source == "Báo Cần Thơ" and article.title == "Cần Thơ tổng kết phòng chống thiên tai"
    headline = "Cần Thơ tổng kết phòng chống thiên tai"
    assert outlet_from_page_title(f"{headline} - Báo Cần Thơ", headline) == "Báo Cần Thơ"
    assert outlet_from_page_title(f"Báo Cần Thơ | {headline}", headline) == "Báo Cần Thơ"
    assert outlet_from_page_title(headline, headline) is None
    assert plausible_site_name(headline, headline) is None
    assert plausible_site_name("Báo Cần Thơ", headline) == "Báo Cần Thơ"
    # og:site_name, when the page has it, is taken as it is
    with_meta = page(
        f"{headline} | Báo Cần Thơ", "Chiều 10/6,", meta='<meta property="og:site_name" content="Cần Thơ Online">'
    )
    assert article_from_html(with_meta, "ct.html", today=TODAY).source == "Cần Thơ Online"


def test_an_outlet_in_the_lead_brackets() -> None:
    assert infer_source("(Báo Đà Nẵng) - Chiều 9/9, thành phố khai mạc lễ hội.") == "Báo Đà Nẵng"
    assert infer_source("(TTXVN) - Sáng 9/9, hội nghị diễn ra.") == "TTXVN"
    assert infer_source("(Thanhuytphcm.vn) - Chiều 15/10, hội nghị diễn ra.") == "Thanhuytphcm.vn"
    assert infer_source("(Nguyễn Văn An) - Chiều 15/10, hội nghị diễn ra.") is None  # a person, not an outlet
    html = article_from_html(page("Tin", "(Báo Đà Nẵng) - Chiều 9/9,"), "dn.html", today=TODAY)
    assert html.source == "Báo Đà Nẵng" and "source" in html.inferred


def test_a_date_only_in_the_page_header() -> None:
    lead = "Sáng nay,"  # no date in the article's text at all
    bare = article_from_html(page("Tin", lead, later="hôm sau"), "h.html", today=TODAY)
    assert bare.date is None
    html = page("Tin", lead, header="Thứ Năm, ngày 12 tháng 1 năm 2023", later="hôm sau")
    assert article_from_html(html, "h.html", today=TODAY).date == dt.date(2023, 1, 12)
    # the header's year dates a lead without one
    html = page("Tin", "Chiều 10/1,", header="Thứ Năm, ngày 12 tháng 1 năm 2023", later="hôm sau")
    assert article_from_html(html, "h.html", today=TODAY).date == dt.date(2023, 1, 10)


def test_jsonl_articles_without_a_title_get_the_one_add_infers(tmp_path: Path) -> None:
    text = "Sáng 4/8/2020, Đại hội đại biểu Đảng bộ thành phố khai mạc với 350 đại biểu. Đại hội bầu Ban Chấp hành."
    path = tmp_path / "dantri.jsonl"
    path.write_text(json.dumps({"id": "d1", "text": text}, ensure_ascii=False) + "\n", encoding="utf-8")
    loaded = load_corpus(path).articles[0]
    added = read_input(path, today=TODAY)[0][0]
    assert (
        loaded.title and loaded.title == added.title == "Đại hội đại biểu Đảng bộ thành phố khai mạc với 350 đại biểu"
    )
    assert "title" in loaded.inferred


def test_an_unreadable_front_matter_date_is_reported_and_the_article_kept(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "001-x.md").write_text(
        "---\ntitle: Bài một\ndate: 31/02/2021\n---\nNội dung bài một.\n", encoding="utf-8"
    )
    loaded = load_corpus(corpus)
    assert [(a.id, a.date) for a in loaded.articles] == [("001", None)]
    assert len(loaded.problems) == 1 and "001-x.md" in loaded.problems[0].path
    assert "bad date '31/02/2021'" in loaded.problems[0].reason and loaded.problems[0].loaded
    # `add` stores it too, its date read from the text instead, and says so
    inbox = tmp_path / "in.md"
    inbox.write_text("---\ntitle: Bài hai\ndate: khi nào\n---\nChiều 3/3/2022, hội nghị diễn ra.\n", encoding="utf-8")
    report = add_files([inbox], corpus, tmp_path / "lock", today=TODAY)
    assert len(report.added) == 1 and not report.failed
    assert report.added[0].article.date == dt.date(2022, 3, 3)
    assert [w.path for w in report.warnings] == [str(inbox)] and "bad date 'khi nào'" in report.warnings[0].reason
