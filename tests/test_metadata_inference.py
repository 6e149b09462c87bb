"""Reading dates, outlets, authors and titles from Vietnamese news text."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from bot.corpus.article import ArticleError
from bot.corpus.ingest import load_outlets
from bot.corpus.loading import load_corpus, parse_date
from bot.corpus.metadata import (
    Outlet,
    full_dates,
    infer_author,
    infer_date,
    infer_metadata,
    infer_source,
    infer_title,
    parse_date_text,
)

ROOT = Path(__file__).resolve().parent.parent
TODAY = dt.date(2025, 1, 1)
OUTLETS = load_outlets(ROOT / "config" / "outlets.yaml")


@pytest.mark.parametrize(
    "text, expected",
    [
        ("Thứ Ba, ngày 30 tháng 11 năm 2021", dt.date(2021, 11, 30)),
        ("ngày 5 tháng 9 năm 2022", dt.date(2022, 9, 5)),
        ("3/8/2020", dt.date(2020, 8, 3)),
        ("03-08-2020", dt.date(2020, 8, 3)),
        ("30/06/2023 08:15", dt.date(2023, 6, 30)),
        ("Thứ hai, 30/11/2021, 10:05 (GMT+7)", dt.date(2021, 11, 30)),
        ("2021-11-30T08:00:00+07:00", dt.date(2021, 11, 30)),
        ("2021-11-30", dt.date(2021, 11, 30)),
    ],
)
def test_whole_date_forms(text: str, expected: dt.date) -> None:
    assert parse_date_text(text, TODAY) == expected
    assert parse_date(text) == expected


@pytest.mark.parametrize("text", ["31/2/2020", "hôm qua", "Chiều 14/11", "1/1/1800", "tháng 11", "2099-01-01"])
def test_not_whole_dates(text: str) -> None:
    assert parse_date_text(text, TODAY) is None


def test_parse_date_rejects_what_it_cannot_read() -> None:
    with pytest.raises(ArticleError, match="bad date"):
        parse_date("không rõ")
    with pytest.raises(ArticleError):
        parse_date("32/13/2020")


def test_full_dates_in_text_ranges_give_their_first_day() -> None:
    text = "Hội nghị diễn ra từ ngày 3/8 - 4/8/2020, giá 2.538 tỷ đồng; ngày 1 tháng 2 năm 2021 và 2021-05-06."
    assert full_dates(text, TODAY) == [dt.date(2020, 8, 3), dt.date(2021, 2, 1), dt.date(2021, 5, 6)]


def test_lead_date_takes_its_year_from_the_text() -> None:
    text = (
        "Chiều 14/11, Ban Chấp hành họp bàn dự thảo báo cáo chính trị; đánh giá kết quả công tác "
        "10 tháng năm 2019, triển khai nhiệm vụ 2 tháng cuối năm 2019 và chuẩn bị cho quý 1/2020."
    )
    assert infer_date(text, today=TODAY) == dt.date(2019, 11, 14)


def test_lead_date_takes_its_year_from_the_page_header_and_is_not_after_it() -> None:
    page = "Thứ Ba, ngày 30 tháng 11 năm 2021\n\nTiêu đề bài viết về hội nghị\n\n(Thanhuytphcm.vn) - Chiều 15/10, hội nghị lần thứ 9 diễn ra."
    assert infer_date(page, today=TODAY) == dt.date(2021, 10, 15)
    january = "Thứ Tư, ngày 5 tháng 1 năm 2022\n\nSáng 28/12, thành phố tổng kết công tác."
    assert infer_date(january, today=TODAY) == dt.date(2021, 12, 28)


def test_lead_with_its_year_and_a_first_paragraph_date() -> None:
    assert infer_date("Sáng nay (4/8/2020), Đại hội khai mạc.", today=TODAY) == dt.date(2020, 8, 4)
    assert infer_date("Đại hội diễn ra từ ngày 3/8 - 4/8/2020 tại Hải Phòng.", today=TODAY) == dt.date(2020, 8, 3)
    assert infer_date("Thứ Ba, ngày 30 tháng 11 năm 2021\n\nNội dung không có ngày.", today=TODAY) == dt.date(
        2021, 11, 30
    )


def test_no_date_is_never_invented() -> None:
    assert infer_date("Chiều 14/11, hội nghị diễn ra tại trụ sở.", today=TODAY) is None
    assert infer_date("Một bài viết không nói gì về ngày tháng.", today=TODAY) is None
    assert infer_date("Chiều 31/2, hội nghị năm 2020.", today=TODAY) is None


def test_sources_named_in_the_text() -> None:
    assert infer_source("(Thanhuytphcm.vn) - Chiều 15/10, hội nghị diễn ra.") == "Thanhuytphcm.vn"
    body = "Sáng 4/8, Đại hội khai mạc tại Hà Nội với nhiều đại biểu.\n\n"
    assert infer_source(body + "Các đại biểu dự Đại hội. (Ảnh: Kinh tế và Đô thị)\n\nKết thúc.") == "Kinh tế và Đô thị"
    assert infer_source(body + "Tuổi trẻ Thủ đô\nXem phiên bản mobile") == "Tuổi trẻ Thủ đô"
    assert infer_source(body + "Theo tuổi trẻ", OUTLETS) == "Tuổi Trẻ"
    assert infer_source(body + "Thanh Niên", OUTLETS) == "Thanh Niên"


def test_a_closing_name_is_an_author_not_a_source() -> None:
    text = "Chiều 10/7, Đảng ủy Khối tổ chức hội nghị Ban Chấp hành lần thứ 20.\n\nHoàng Tùng"
    assert infer_source(text, OUTLETS) is None
    assert infer_author(text, OUTLETS) == "Hoàng Tùng"
    assert infer_author("Chiều 10/7, hội nghị diễn ra.\n\nTuổi trẻ Thủ đô", OUTLETS) is None
    assert infer_author("Chiều 10/7, hội nghị diễn ra.\n\nTheo VnExpress", OUTLETS) is None
    assert infer_author("Chiều 10/7, hội nghị diễn ra.\n\nTheo Lê Văn Nam", OUTLETS) is None


def test_titles() -> None:
    assert infer_title("Hà Nội khánh thành cầu Vĩnh Tuy giai đoạn 2\n\nSáng 30/6, lễ khánh thành diễn ra.") == (
        "Hà Nội khánh thành cầu Vĩnh Tuy giai đoạn 2"
    )
    lead = "(Thanhuytphcm.vn) - Chiều 15/10, Đảng ủy Khối tổ chức hội nghị lần thứ 9. Đến dự có lãnh đạo."
    assert infer_title(lead) == "Đảng ủy Khối tổ chức hội nghị lần thứ 9"
    assert infer_title("   \n\n") is None


def test_shipped_corpus_metadata_is_read_back_from_its_own_text() -> None:
    """The seed articles' front matter was written by a person; the rules find the same."""
    for article in load_corpus(ROOT / "corpus").articles:
        found = infer_metadata(article.text, OUTLETS, today=TODAY)
        assert found.date == article.date, article.id
        assert found.source == article.source, article.id
        assert found.author == article.author, article.id
        if "title" not in article.inferred:
            assert found.title == article.title, article.id


def test_unknown_outlet_shapes() -> None:
    assert infer_source("Nội dung.\n\nKim Thành", (Outlet("Dân trí", ("dantri.com.vn",)),)) is None
