import datetime as dt
import gzip
import json

import pytest

from bot.corpus.loading import default_article_id, load_corpus, parse_date
from conftest import PROJECT, write_article

EXPECTED = {  # id: (date, source) as read from the texts (see each file's notes)
    "000": (dt.date(2020, 8, 3), None),
    "001": (dt.date(2019, 11, 14), "Tuổi trẻ Thủ đô"),
    "002": (dt.date(2019, 7, 10), None),
    "003": (dt.date(2021, 10, 15), "Thanhuytphcm.vn"),
    "004": (dt.date(2020, 8, 4), "Kinh tế và Đô thị"),
}


def test_shipped_corpus_loads_with_metadata():
    corpus = load_corpus(PROJECT / "corpus")
    assert corpus.problems == []
    by_id = {a.id: a for a in corpus.articles}
    assert set(by_id) == set(EXPECTED)
    for article_id, (date, source) in EXPECTED.items():
        article = by_id[article_id]
        assert article.date == date
        assert article.source == source
        assert article.title
        assert "date" in article.inferred  # the seeds have no headers: dates were read from the text
        assert article.path.endswith(".md") and f"/{article_id}-" in article.path


def test_shipped_files_are_named_after_their_seed_prefix():
    for path in sorted((PROJECT / "corpus").glob("*.md")):
        assert default_article_id(path) == path.name[:3]


def test_bad_files_are_reported_and_the_rest_load(tmp_path):
    write_article(
        tmp_path, "001-good.md", "Bài tốt", "Nội dung bài viết về đại hội.", date="2020-08-04", source="Báo A"
    )
    (tmp_path / "002-broken.md").write_text("---\ntitle: [unclosed\n---\nText", encoding="utf-8")
    write_article(tmp_path, "003-baddate.md", "Bài ngày sai", "Nội dung.", date="2020-13-45")
    (tmp_path / "004-latin1.txt").write_bytes("Tiếng Việt".encode("utf-16"))
    (tmp_path / "005-empty.md").write_text("---\ntitle: Trống\n---\n   \n", encoding="utf-8")
    (tmp_path / "006-unclosed.md").write_text("---\ntitle: X\nText without end", encoding="utf-8")
    corpus = load_corpus(tmp_path)
    # a date that cannot be read is reported, and the article loads with an unknown date
    assert [a.id for a in corpus.articles] == ["001", "003"]
    assert corpus.articles[1].date is None and corpus.articles[1].title == "Bài ngày sai"
    reasons = {p.path.rsplit("/", 1)[-1]: p.reason for p in corpus.problems}
    assert "broken front matter" in reasons["002-broken.md"]
    assert "bad date '2020-13-45'" in reasons["003-baddate.md"] and "unknown date" in reasons["003-baddate.md"]
    assert [p.loaded for p in corpus.problems if p.path.endswith("003-baddate.md")] == [True]
    assert "not UTF-8" in reasons["004-latin1.txt"]
    assert "no article text" in reasons["005-empty.md"]
    assert "not closed" in reasons["006-unclosed.md"]


def test_jsonl_gz_corpus_with_bad_lines(tmp_path):
    path = tmp_path / "export.jsonl.gz"
    lines = [
        json.dumps(
            {
                "id": "a1",
                "title": "Tin một",
                "text": "Nội dung một.",
                "source": "Báo B",
                "date": "20200804",
                "url": "https://x.vn/1",
            },
            ensure_ascii=False,
        ),
        "not json",
        json.dumps([1, 2]),
        json.dumps({"id": "a2", "title": "Không có nội dung"}),
        json.dumps({"id": "a3", "title": "Ngày hỏng", "text": "x", "date": "hôm qua"}, ensure_ascii=False),
        json.dumps(
            {"title": "Không id", "text": "Nội dung bốn.", "date": "2021-05-01T08:00:00+07:00"}, ensure_ascii=False
        ),
    ]
    with gzip.open(path, "wt", encoding="utf-8") as handle:
        handle.write("\n".join(lines) + "\n")
    corpus = load_corpus(path)
    assert [a.id for a in corpus.articles] == ["a1", "a3", "export:6"]
    assert corpus.articles[0].date == dt.date(2020, 8, 4) and corpus.articles[0].url == "https://x.vn/1"
    assert corpus.articles[1].date is None  # "hôm qua" cannot be read: reported, loaded undated
    assert corpus.articles[2].date == dt.date(2021, 5, 1)
    reasons = [p.reason for p in corpus.problems]
    assert any("not valid JSON" in r for r in reasons)
    assert any("not a JSON object" in r for r in reasons)
    assert any("no article text" in r for r in reasons)
    assert any("bad date" in r for r in reasons)
    assert all(":" in p.path for p in corpus.problems)  # file:line


def test_missing_corpus_path_raises(tmp_path):
    with pytest.raises(FileNotFoundError):
        load_corpus(tmp_path / "nope")


@pytest.mark.parametrize(
    "value,expected",
    [
        ("2020-08-04", dt.date(2020, 8, 4)),
        ("20190710", dt.date(2019, 7, 10)),
        ("4/8/2020", dt.date(2020, 8, 4)),
        (None, None),
        ("", None),
        (dt.datetime(2021, 10, 15, 9, 0), dt.date(2021, 10, 15)),
    ],
)
def test_parse_date(value, expected):
    assert parse_date(value) == expected
