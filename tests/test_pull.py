"""`python -m bot pull` against a local web site (tests/feed_server.py): RSS, Atom and news
sitemaps, conditional requests, new and changed items, broken items, a slow server,
robots.txt, politeness, and a pull killed mid-way."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import yaml

from bot.corpus.feeds import FeedError, parse_feed, written_date
from bot.corpus.fetch import PROJECT_URL, Fetcher, FetchError, FetchPolicy
from bot.corpus.loading import load_corpus
from bot.frontends import cli
from feed_server import Route, Site, serve_site

ROOT = Path(__file__).resolve().parent.parent

PARAGRAPHS = {
    "lua": (
        "Tập đoàn Lúa gạo Mekong xuất khẩu 120.000 tấn gạo thơm",
        [
            "Sáng 3/6, Tập đoàn Lúa gạo Mekong cho biết đã ký hợp đồng xuất khẩu 120.000 tấn gạo thơm ST25 "
            "sang thị trường châu Âu trong quý III, giá bình quân 1.150 USD mỗi tấn.",
            "Theo đại diện doanh nghiệp, vùng nguyên liệu rộng 8.500 ha ở Sóc Trăng và Bạc Liêu được cấp mã số "
            "vùng trồng, đáp ứng yêu cầu truy xuất nguồn gốc của các nhà nhập khẩu.",
            "Hiệp hội Lương thực Việt Nam dự báo kim ngạch xuất khẩu gạo cả năm có thể vượt 5 tỷ USD.",
        ],
    ),
    "cang": (
        "Khánh thành bến cảng container Phước An giai đoạn 1",
        [
            "Chiều 5/6, tỉnh Đồng Nai khánh thành bến cảng container Phước An giai đoạn 1 với công suất "
            "thiết kế 1,2 triệu TEU mỗi năm, tổng vốn đầu tư 6.000 tỷ đồng.",
            "Bến cảng có hai cầu tàu dài 620 m, tiếp nhận tàu trọng tải đến 50.000 tấn, kết nối với "
            "đường cao tốc Bến Lức - Long Thành để giảm chi phí vận chuyển cho doanh nghiệp.",
            "Lãnh đạo tỉnh cho biết giai đoạn 2 sẽ khởi công vào năm sau.",
        ],
    ),
    "sach": (
        "Hội sách mùa hè thu hút 80.000 lượt khách",
        [
            "Tối 7/6, Hội sách mùa hè tại công viên Lê Văn Tám bế mạc sau một tuần với 80.000 lượt khách "
            "tham quan và hơn 150.000 bản sách được bán ra.",
            "Ban tổ chức cho biết các gian hàng sách thiếu nhi và sách kỹ năng bán chạy nhất; nhiều buổi "
            "giao lưu tác giả thu hút đông bạn đọc trẻ.",
            "Hội sách năm sau dự kiến kéo dài mười ngày.",
        ],
    ),
    "moi": (
        "Mở tuyến xe buýt điện nối sân bay với trung tâm",
        [
            "Sáng 9/6, thành phố đưa vào khai thác tuyến xe buýt điện số 109 nối sân bay với trung tâm, "
            "tần suất 15 phút một chuyến, giá vé 20.000 đồng.",
            "Tuyến dài 28 km với 30 điểm dừng; 24 xe buýt điện mới được đưa vào phục vụ hành khách.",
            "Sở Giao thông vận tải cho biết sẽ mở thêm ba tuyến xe buýt điện trong năm nay.",
        ],
    ),
}


def page(key: str, extra: str = "") -> str:
    title, paragraphs = PARAGRAPHS[key]
    body = "".join(f"<p>{p}</p>" for p in paragraphs) + (f"<p>{extra}</p>" if extra else "")
    return (
        f"<!DOCTYPE html><html lang='vi'><head><meta charset='utf-8'><title>{title} | Trang tin thử</title>"
        f"</head><body><nav><a href='/'>Trang chủ</a></nav><article><h1>{title}</h1>{body}</article></body></html>"
    )


def rss(site: Site, items: list[tuple[str, str, str]], title: str = "Kênh tin thử") -> str:
    """An RSS 2.0 channel; items are (path, title, pubDate)."""
    entries = "".join(
        f"<item><title>{t}</title><link>{site.url(p)}</link><pubDate>{d}</pubDate>"
        f"<author>bientap@example.vn (Minh Châu)</author><guid>{site.url(p)}</guid></item>"
        for p, t, d in items
    )
    return f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>{title}</title>{entries}</channel></rss>'


def setup_site(site: Site) -> None:
    site.set("/robots.txt", "User-agent: *\nDisallow: /rieng/\n", content_type="text/plain")
    site.set("/tin/lua.html", page("lua"))
    site.set("/tin/cang.html", page("cang"))
    site.set("/tin/sach.html", page("sach"))
    site.set("/tin/moi.html", page("moi"))
    site.set("/tin/mat.html", "không có", status=404)
    site.set("/tin/pdf.html", b"%PDF-1.4 ...", content_type="application/pdf")
    site.set("/tin/trong.html", "<html><body><nav>Trang chủ</nav><p>Xem thêm</p></body></html>")
    site.set("/rieng/bi-mat.html", page("sach"))
    site.set("/tin/cham.html", page("sach"), delay=2.0)
    site.set(
        "/rss.xml",
        rss(
            site,
            [
                ("/tin/lua.html", "Xuất khẩu 120.000 tấn gạo thơm sang châu Âu", "Mon, 03 Jun 2024 08:00:00 +0700"),
                ("/tin/cang.html", "Đồng Nai khánh thành cảng Phước An", "Wed, 05 Jun 2024 23:30:00 +0700"),
                ("/tin/mat.html", "Bài đã gỡ", "Wed, 05 Jun 2024 10:00:00 +0700"),
                ("/tin/pdf.html", "Tài liệu PDF", "Wed, 05 Jun 2024 10:00:00 +0700"),
                ("/tin/trong.html", "Trang không có bài", "Wed, 05 Jun 2024 10:00:00 +0700"),
                ("/rieng/bi-mat.html", "Trang robots.txt cấm", "Wed, 05 Jun 2024 10:00:00 +0700"),
                ("/tin/cham.html", "Máy chủ chậm", "Wed, 05 Jun 2024 10:00:00 +0700"),
            ],
        ),
        content_type="application/rss+xml",
    )


def workspace(tmp: Path, site: Site, **feeds) -> Path:
    """A settings file with an empty corpus folder, a fast and impatient fetch policy."""
    (tmp / "config").mkdir(exist_ok=True)
    settings = yaml.safe_load((ROOT / "config" / "settings.yaml").read_text(encoding="utf-8"))
    settings.update(corpus=str(tmp / "corpus"), index_dir=str(tmp / "index"))
    settings["feeds"] = {"delay": "0.05s", "timeout": "0.5s", "retries": 1, "backoff": "0.05s", **feeds}
    (tmp / "corpus").mkdir(exist_ok=True)
    path = tmp / "config" / "settings.yaml"
    path.write_text(yaml.safe_dump(settings, allow_unicode=True), encoding="utf-8")
    return path


def run(capsys, *args: str) -> tuple[int, str]:
    code = cli.main(["--lang", "en", *args])
    out = capsys.readouterr()
    return code, out.out + out.err


def lines(out: str, word: str) -> list[str]:
    return [line for line in out.splitlines() if line.startswith(word + " ")]


@pytest.mark.slow
def test_first_and_second_pull_new_and_changed_items(tmp_path, capsys) -> None:
    with serve_site() as site:
        setup_site(site)
        config = workspace(tmp_path, site, sources=[{"url": site.url("/rss.xml"), "name": "Báo Thử Nghiệm"}])

        code, out = run(capsys, "pull", "--config", str(config))
        assert code == 1, out  # some items failed; the others were added
        added, failed = lines(out, "added"), lines(out, "failed")
        assert len(added) == 2 and len(failed) == 5, out
        assert "2 added, 0 updated, 0 skipped, 5 failed" in out
        reasons = {line.split()[1].rsplit("/", 1)[-1].rstrip(":"): line.split(": ", 1)[1] for line in failed}
        assert reasons["mat.html"] == "HTTP 404"
        assert reasons["pdf.html"] == "not a web page (application/pdf)"
        assert reasons["trong.html"] == "no article found in the page"
        assert reasons["bi-mat.html"] == "disallowed by robots.txt"
        assert reasons["cham.html"].startswith("timed out after 0.5 s")
        assert not site.requests("/rieng/bi-mat.html")  # never asked for

        corpus = {a.url: a for a in load_corpus(tmp_path / "corpus").articles}
        lua = corpus[site.url("/tin/lua.html")]
        assert (lua.title, lua.date, lua.source, lua.author) == (
            "Xuất khẩu 120.000 tấn gạo thơm sang châu Âu",
            dt.date(2024, 6, 3),
            "Báo Thử Nghiệm",
            "bientap@example.vn (Minh Châu)",
        )
        assert corpus[site.url("/tin/cang.html")].date == dt.date(2024, 6, 5)  # the date as the feed writes it
        assert not {"title", "date", "source"} & set(lua.inferred)

        # the new articles are answered from, with the feed's metadata
        code, out = run(capsys, "ask", "Phước An công suất thiết kế bao nhiêu TEU", "--json", "--config", str(config))
        top = json.loads(out.strip().splitlines()[-1])["results"][0]
        assert top["url"] == site.url("/tin/cang.html") and top["source"] == "Báo Thử Nghiệm"

        # a second pull sends conditional requests and adds nothing
        before = len(site.requests("/rss.xml"))
        code, out = run(capsys, "pull", "--config", str(config))
        assert "0 added" in out and "1 feed unchanged (304)" in out, out
        assert code == 1 and len(lines(out, "failed")) == 5  # the items that failed are tried again
        second = site.requests("/rss.xml")[before:]
        assert len(second) == 1 and second[0].headers.get("if-none-match", "").startswith('"')
        assert second[0].headers.get("if-modified-since")
        assert not site.requests("/tin/lua.html")[1:]  # no page fetched again

        # a new item: just it is added; the others are known
        feed = site.routes["/rss.xml"].body.decode()
        new_item = (
            f"<item><title>Xe buýt điện nối sân bay</title><link>{site.url('/tin/moi.html')}</link>"
            "<pubDate>Sun, 09 Jun 2024 07:00:00 +0700</pubDate></item>"
        )
        site.set("/rss.xml", feed.replace("<item>", new_item + "<item>", 1), content_type="application/rss+xml")
        code, out = run(capsys, "pull", "--config", str(config))
        assert len(lines(out, "added")) == 1 and site.url("/tin/moi.html") in lines(out, "added")[0], out
        assert len(lines(out, "skipped")) == 2 and "already in the corpus" in lines(out, "skipped")[0]
        assert len(load_corpus(tmp_path / "corpus").articles) == 3


def test_a_changed_item_is_stored_again_over_its_old_file(tmp_path, capsys) -> None:
    with serve_site() as site:
        site.set("/robots.txt", "", content_type="text/plain")
        site.set("/tin/lua.html", page("lua"))
        atom = (
            '<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom">'
            "<title>Nông nghiệp Online</title><id>urn:x</id><updated>2024-06-03T08:00:00+07:00</updated>"
            "<entry><title>Gạo thơm sang châu Âu</title><link href='{url}'/><id>urn:1</id>"
            "<published>2024-06-03T08:00:00+07:00</published><updated>{updated}</updated>"
            "<author><name>Lan Anh</name></author></entry></feed>"
        )
        url = site.url("/tin/lua.html")
        site.set("/atom.xml", atom.format(url=url, updated="2024-06-03T08:00:00+07:00"))
        config = workspace(tmp_path, site)
        code, out = run(capsys, "pull", site.url("/atom.xml"), "--config", str(config))
        assert code == 0 and len(lines(out, "added")) == 1, out
        first = load_corpus(tmp_path / "corpus").articles[0]
        assert (first.source, first.author, first.date) == ("Nông nghiệp Online", "Lan Anh", dt.date(2024, 6, 3))

        site.set("/tin/lua.html", page("lua", extra="Cập nhật: hợp đồng được nâng lên 150.000 tấn."))
        site.set("/atom.xml", atom.format(url=url, updated="2024-06-04T09:00:00+07:00"))
        code, out = run(capsys, "pull", site.url("/atom.xml"), "--config", str(config))
        assert code == 0 and len(lines(out, "updated")) == 1 and not lines(out, "added"), out
        articles = load_corpus(tmp_path / "corpus").articles
        assert len(articles) == 1 and articles[0].id == first.id and "150.000 tấn" in articles[0].text


def test_news_sitemap_bad_xml_and_a_broken_feed_never_stop_the_others(tmp_path, capsys) -> None:
    with serve_site() as site:
        site.set("/robots.txt", "", content_type="text/plain")
        site.set("/tin/sach.html", page("sach"))
        sitemap = (
            '<?xml version="1.0" encoding="UTF-8"?>'
            '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9" '
            'xmlns:news="http://www.google.com/schemas/sitemap-news/0.9">'
            f"<url><loc>{site.url('/tin/sach.html')}</loc><news:news><news:publication>"
            "<news:name>Văn hóa Thử</news:name><news:language>vi</news:language></news:publication>"
            "<news:publication_date>2024-06-07T21:00:00+07:00</news:publication_date>"
            "<news:title>Hội sách mùa hè bế mạc</news:title></news:news></url></urlset>"
        )
        site.set("/news-sitemap.xml", sitemap, content_type="application/xml")
        site.set("/hong.xml", "<rss version='2.0'><channel><title>x</title><item><link>", content_type="text/xml")
        site.set("/trang.html", "<html><body>Không phải feed</body></html>")
        config = workspace(tmp_path, site)
        urls = [
            site.url("/hong.xml"),
            site.url("/khong-co.xml"),
            site.url("/trang.html"),
            site.url("/news-sitemap.xml"),
        ]
        code, out = run(capsys, "pull", *urls, "--config", str(config))
        assert code == 1
        failed = lines(out, "failed")
        assert len(failed) == 3 and all(": feed: " in line for line in failed), out
        assert "HTTP 404" in failed[1] and "not a feed" in failed[2]
        (added,) = load_corpus(tmp_path / "corpus").articles
        assert (added.title, added.source, added.date) == ("Hội sách mùa hè bế mạc", "Văn hóa Thử", dt.date(2024, 6, 7))


def test_fetching_is_polite(tmp_path) -> None:
    with serve_site() as site:
        site.set("/robots.txt", "User-agent: *\nDisallow: /cam/\n", content_type="text/plain")
        for n in range(3):
            site.set(f"/p{n}", "x" * 10, content_type="text/plain")
        site.set("/lon", "y" * 5000, content_type="text/plain")
        site.set("/vong", "", status=302, location="/vong")
        site.set("/loi", "", status=503)
        policy = FetchPolicy(delay=0.15, timeout=1, max_bytes=2000, retries=2, backoff=0.05, max_redirects=3)
        with Fetcher(policy) as fetcher:
            for n in range(3):
                assert fetcher.get(site.url(f"/p{n}")).content == b"x" * 10
            with pytest.raises(FetchError, match="larger than 2000 bytes"):
                fetcher.get(site.url("/lon"))
            with pytest.raises(FetchError, match="more than 3 redirects"):
                fetcher.get(site.url("/vong"))
            with pytest.raises(FetchError, match="HTTP 503"):
                fetcher.get(site.url("/loi"))
            with pytest.raises(FetchError, match=r"robots\.txt"):
                fetcher.get(site.url("/cam/x"))
        assert len(site.requests("/loi")) == 3  # two retries, then given up
        times = [seen.at for seen in site.log]
        assert all(b - a >= 0.12 for a, b in zip(times, times[1:], strict=False))  # one host: a delay between requests
        assert all(PROJECT_URL in seen.headers["user-agent"] for seen in site.log)
        assert not site.requests("/cam/x")


def test_feed_parsing_is_pure() -> None:
    assert written_date("Wed, 05 Jun 2024 23:30:00 +0700") == dt.date(2024, 6, 5)
    assert written_date("2024-06-05T23:30:00+07:00") == dt.date(2024, 6, 5)
    assert written_date("không rõ") is None
    with pytest.raises(FeedError, match="bad XML"):
        parse_feed(b"<urlset><url><loc>x</loc>")
    with pytest.raises(FeedError):
        parse_feed(b"")
    index = parse_feed(
        b'<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
        b"<sitemap><loc>http://x/a.xml</loc></sitemap></sitemapindex>"
    )
    assert index.kind == "sitemapindex" and index.sitemaps == ("http://x/a.xml",)


@pytest.mark.slow
def test_a_pull_killed_mid_way_loses_nothing_it_reported(tmp_path) -> None:
    with serve_site() as site:
        setup_site(site)
        gate = threading.Event()
        site.routes["/tin/mat.html"] = Route(page("sach").encode(), gate=gate)
        config = workspace(tmp_path, site, timeout="20s")
        env = dict(os.environ, PYTHONPATH=str(ROOT))
        process = subprocess.Popen(
            [sys.executable, "-m", "bot", "--lang", "en", "pull", site.url("/rss.xml"), "--config", str(config)],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        reported: list[str] = []
        deadline = time.monotonic() + 60
        assert process.stdout is not None
        while len(reported) < 2 and time.monotonic() < deadline:
            line = process.stdout.readline()
            if not line:
                break
            if line.startswith("added "):
                reported.append(line)
        deadline = time.monotonic() + 10
        while not site.requests("/tin/mat.html") and time.monotonic() < deadline:
            time.sleep(0.05)  # the pull now waits on the third page
        process.kill()
        process.wait(timeout=10)
        gate.set()
        assert len(reported) == 2
        stored = {a.id: a for a in load_corpus(tmp_path / "corpus").articles}
        for line in reported:
            assert line.split()[1].rstrip(":") in stored
        assert not list((tmp_path / "corpus").glob(".tmp*"))
        # the next pull finishes the job: nothing reported is lost or added twice
        out = subprocess.run(
            [sys.executable, "-m", "bot", "--lang", "en", "pull", "--config", str(config), site.url("/rss.xml")],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert "skipped" in out.stdout and len(load_corpus(tmp_path / "corpus").articles) == 3, out.stdout


def test_failed_items_are_tried_again_even_when_the_feed_is_unchanged(tmp_path, capsys) -> None:
    with serve_site() as site:
        site.set("/robots.txt", "", content_type="text/plain")
        site.set("/tin/lua.html", page("lua"))
        site.set("/tin/cang.html", "tạm thời lỗi", status=404)
        items = [
            ("/tin/lua.html", "Gạo thơm sang châu Âu", "Mon, 03 Jun 2024 08:00:00 +0700"),
            ("/tin/cang.html", "Cảng Phước An", "Wed, 05 Jun 2024 08:00:00 +0700"),
        ]
        site.set("/rss.xml", rss(site, items), content_type="application/rss+xml")
        config = workspace(tmp_path, site)
        code, out = run(capsys, "pull", site.url("/rss.xml"), "--config", str(config))
        assert code == 1 and len(lines(out, "added")) == 1 and len(lines(out, "failed")) == 1
        code, out = run(capsys, "pull", site.url("/rss.xml"), "--config", str(config))
        assert code == 1 and "1 feed unchanged (304)" in out and "HTTP 404" in lines(out, "failed")[0]
        site.set("/tin/cang.html", page("cang"))
        code, out = run(capsys, "pull", site.url("/rss.xml"), "--config", str(config))
        assert code == 0 and "1 feed unchanged (304)" in out and site.url("/tin/cang.html") in lines(out, "added")[0]
        assert len(site.requests("/tin/lua.html")) == 1  # an article stored once is never fetched again
        code, out = run(capsys, "pull", site.url("/rss.xml"), "--config", str(config))
        assert (
            code == 0 and "0 added, 0 updated, 0 skipped, 0 failed; 1 feed unchanged (304); 2 requests" in out
        )  # robots.txt, feed
