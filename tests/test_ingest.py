"""`python -m bot add` / `remove` end to end: real pages, text files and JSON Lines that the
tests write themselves, real trafilatura, real index, real answers."""

from __future__ import annotations

import datetime as dt
import gzip
import hashlib
import json
import shutil
from pathlib import Path

import pytest
import yaml

from bot import files as durable_files  # the corpus store's atomic writes
from bot.corpus.ingest import article_from_html
from bot.corpus.loading import load_corpus, split_front_matter
from bot.frontends import cli
from bot.index.builder import ensure_index
from bot.settings import load_settings

ROOT = Path(__file__).resolve().parent.parent

NAV = """<header><nav class="menu"><ul>
<li><a href="/">Trang chủ</a></li><li><a href="/thoi-su">Thời sự</a></li><li><a href="/kinh-te">Kinh tế</a></li>
<li><a href="/xa-hoi">Xã hội</a></li><li><a href="/the-thao">Thể thao</a></li><li><a href="/giai-tri">Giải trí</a></li>
</ul></nav><div class="ads">Quảng cáo: Mở bán căn hộ cao cấp ven sông, chiết khấu tới 15%</div></header>"""

NEWS_PAGE = f"""<!DOCTYPE html>
<html lang="vi"><head><meta charset="utf-8">
<title>Hà Nội khánh thành cầu Vĩnh Tuy giai đoạn 2 | Báo Tin tức Thủ đô</title>
<meta property="og:title" content="Hà Nội khánh thành cầu Vĩnh Tuy giai đoạn 2">
<meta property="og:site_name" content="Báo Tin tức Thủ đô">
<meta property="og:url" content="https://tintucthudo.example.vn/ha-noi-khanh-thanh-cau-vinh-tuy-2-12345.html">
<meta property="article:published_time" content="2023-06-30T08:15:00+07:00">
<meta name="author" content="Minh Anh">
</head><body>{NAV}
<main><article>
<h1>Hà Nội khánh thành cầu Vĩnh Tuy giai đoạn 2</h1>
<div class="byline"><span class="author">Minh Anh</span> - <time>30/06/2023 08:15</time></div>
<p class="sapo">Sáng 30/6, UBND thành phố Hà Nội tổ chức lễ khánh thành cầu Vĩnh Tuy giai đoạn 2, công trình trọng điểm chào mừng kỷ niệm 69 năm Ngày Giải phóng Thủ đô.</p>
<p>Cầu Vĩnh Tuy giai đoạn 2 có tổng mức đầu tư hơn 2.538 tỷ đồng, dài 3,47 km, rộng 19,25 m với 4 làn xe. Công trình được khởi công từ tháng 1/2021 và hoàn thành vượt tiến độ gần ba tháng.</p>
<p>Phát biểu tại buổi lễ, Chủ tịch UBND thành phố Trần Sỹ Thanh cho biết cây cầu sẽ góp phần giảm ùn tắc giao thông cho cầu Chương Dương và cầu Long Biên, kết nối quận Long Biên với trung tâm thành phố.</p>
<p>Theo Ban Quản lý dự án đầu tư xây dựng công trình giao thông thành phố, trong quá trình thi công, nhà thầu đã huy động hơn 1.000 kỹ sư và công nhân làm việc ba ca liên tục.</p>
</article>
<section class="related"><h3>Tin liên quan</h3><ul>
<li><a href="/a">Hà Nội đẩy nhanh tiến độ đường Vành đai 4 qua ba tỉnh thành...</a></li>
<li><a href="/b">Khởi công cầu Tứ Liên bắc qua sông Hồng với vốn 19.000 tỷ...</a></li>
<li><a href="/c">Phân luồng giao thông phục vụ lễ khánh thành cầu mới...</a></li></ul></section>
<section id="comments" class="comments"><h3>Bình luận (2)</h3>
<div class="comment"><b>Nguyễn Văn Bình</b><p>Cầu đẹp quá, mong thành phố sớm xây thêm cầu mới cho người dân ngoại thành đi lại thuận tiện hơn nữa.</p></div>
<div class="comment"><b>Lê Thu Hà</b><p>Giờ cao điểm sáng nay vẫn còn kẹt xe kéo dài ở đầu cầu phía Long Biên, đề nghị bố trí thêm cảnh sát giao thông.</p></div>
<form><textarea>Gửi bình luận của bạn</textarea><button>Gửi</button></form></section>
</main>
<footer><p>© 2023 Báo Tin tức Thủ đô. Giấy phép số 123/GP-BTTTT. Tòa soạn: 15 Hàng Bài, Hà Nội.</p></footer>
</body></html>"""

PLAIN_PAGE = """<html><body><div id="content">
<p>Sáng 12/3, Sở Giáo dục và Đào tạo Hà Nội công bố phương án tuyển sinh vào lớp 10 trung học phổ thông công lập năm học 2024-2025 với ba môn thi là Ngữ văn, Toán và Ngoại ngữ.</p>
<p>Theo phương án, kỳ thi tuyển sinh lớp 10 năm 2024 dự kiến diễn ra trong hai ngày 8 và 9/6. Toàn thành phố có khoảng 126.000 học sinh tốt nghiệp trung học cơ sở, tăng hơn 7.000 em so với năm trước.</p>
<p>Sở cũng lưu ý các trường công khai chỉ tiêu tuyển sinh trước ngày 15/4 để học sinh và phụ huynh chủ động lựa chọn nguyện vọng phù hợp với năng lực.</p>
<p>Theo VnExpress</p>
</div></body></html>"""

BROKEN_PAGE = """<html><head><meta property="og:title" content="Bão số 3 đổ bộ vào Quảng Ninh và Hải Phòng">
<body><div class="main"><p>Chiều 7/9/2024, bão số 3 (Yagi) đổ bộ vào Quảng Ninh và Hải Phòng với sức gió mạnh cấp 12, giật cấp 15, gây mưa lớn trên diện rộng ở các tỉnh Bắc Bộ.
<p>Theo Trung tâm Dự báo khí tượng thủy văn quốc gia, đây là cơn bão mạnh nhất đổ bộ vào đất liền miền Bắc trong 30 năm qua; hàng nghìn cây xanh bị quật đổ.
<div class="cmt"><h3>Bình lu"""

NO_ARTICLE_PAGE = (
    "<html><head><title>Trang chủ</title></head><body>"
    + NAV
    + "".join(
        f'<div class="item"><a href="/a{i}"><h3>Tiêu đề tin số {i}</h3></a><span>2 giờ trước</span></div>'
        for i in range(12)
    )
    + "</body></html>"
)

TXT_WITH_HEADER = """Thứ Ba, ngày 30 tháng 11 năm 2021

Thành phố Thủ Đức ra mắt Trung tâm hành chính công phục vụ người dân

(Thanhuytphcm.vn) - Chiều 25/11, UBND TP Thủ Đức tổ chức lễ ra mắt Trung tâm hành chính công, tiếp nhận hồ sơ của 34 phường trên địa bàn theo cơ chế một cửa liên thông.

Trung tâm có 86 quầy giao dịch, giải quyết hơn 300 thủ tục hành chính thuộc các lĩnh vực đất đai, xây dựng, hộ tịch, kinh doanh; người dân có thể đặt lịch hẹn trực tuyến và theo dõi tiến độ hồ sơ qua ứng dụng điện thoại.

Chủ tịch UBND TP Thủ Đức Hoàng Tùng đề nghị cán bộ, công chức tại trung tâm nâng cao tinh thần phục vụ, không để hồ sơ trễ hẹn trong năm 2021.

Thu Hương
"""

MD_WITH_FRONT_MATTER = """---
title: Đà Nẵng đón 1,2 triệu lượt khách dịp lễ hội pháo hoa quốc tế
source: Báo Đà Nẵng
date: 2023-07-17
tags: [du lịch, Đà Nẵng]
---
Trong tháng diễn ra Lễ hội pháo hoa quốc tế Đà Nẵng 2023, thành phố đón khoảng 1,2 triệu lượt khách tham quan, lưu trú, tăng 40% so với cùng kỳ năm trước.

Công suất phòng khách sạn ven biển đạt trên 85% vào các đêm thi; doanh thu du lịch ước đạt 5.700 tỷ đồng.
"""

JSONL_LINES = [
    {
        "id": "cms-881",
        "url": "https://cantho.example.vn/can-tho-khoi-cong-cau-tran-hoang-na.html",
        "date": "20221109",
        "source": "Báo Cần Thơ",
        "category": "giao-thong",
        "title": "Cần Thơ khởi công cầu Trần Hoàng Na",
        "text": "Ngày 9/11, UBND TP Cần Thơ khởi công xây dựng cầu Trần Hoàng Na với tổng vốn đầu tư 622 tỷ đồng. "
        "Cầu dài 322 m, rộng 33 m, bắc qua sông Cần Thơ, dự kiến hoàn thành trong 24 tháng để giảm tải cho cầu Cái Răng.",
    },
    [1, 2, 3],
    {"title": "Không có nội dung", "text": "   "},
    {
        "title": "Ngày sai",
        "text": "Một bài viết có ngày không đọc được nhưng có đủ nội dung để thêm vào kho.",
        "date": "32/13/2020",
    },
    {
        "title": "Huế mở cửa Đại Nội về đêm",
        "text": "Tối 1/5, Trung tâm Bảo tồn di tích cố đô Huế mở cửa Đại Nội về đêm phục vụ du khách dịp nghỉ lễ năm 2023. "
        "Du khách được tham quan Điện Thái Hòa, Thế Miếu và xem biểu diễn nhã nhạc cung đình dưới ánh đèn lồng.",
    },
]


@pytest.fixture()
def workspace(tmp_path: Path) -> dict[str, Path]:
    """A copy of the shipped corpus, an index folder and a folder of inputs of every kind."""
    corpus = tmp_path / "corpus"
    shutil.copytree(ROOT / "corpus", corpus)
    inputs = tmp_path / "inbox"
    (inputs / "pages" / "news_files").mkdir(parents=True)
    (inputs / "pages" / "news.html").write_text(NEWS_PAGE, encoding="utf-8")
    (inputs / "pages" / "news_files" / "style.css").write_text("body{}", encoding="utf-8")
    (inputs / "pages" / "plain.htm").write_text(PLAIN_PAGE, encoding="utf-8")
    (inputs / "pages" / "broken.html").write_text(BROKEN_PAGE, encoding="utf-8")
    (inputs / "pages" / "home.html").write_text(NO_ARTICLE_PAGE, encoding="utf-8")
    (inputs / "thu-duc.txt").write_text(TXT_WITH_HEADER, encoding="utf-8")
    (inputs / "da-nang.md").write_text(MD_WITH_FRONT_MATTER, encoding="utf-8")
    (inputs / "empty.txt").write_text("\n  \n", encoding="utf-8")
    (inputs / "photo.txt").write_bytes(bytes(range(256)) * 8)
    (inputs / "latin1.txt").write_bytes("Bài viết lỗi mã hóa".encode("cp1258", errors="replace") + b"\xe9\xe8")
    with gzip.open(inputs / "export.jsonl.gz", "wt", encoding="utf-8") as handle:
        for line in JSONL_LINES:
            handle.write(json.dumps(line, ensure_ascii=False) + "\n")
        handle.write("{not json\n")
    return {"corpus": corpus, "index": tmp_path / "index", "inputs": inputs, "tmp": tmp_path}


def run(capsys, *args: str) -> tuple[int, str]:
    """The command line in English (the texts these tests read)."""
    code = cli.main(["--lang", "en", *args])
    out = capsys.readouterr()
    return code, out.out + out.err


def paths(ws: dict[str, Path]) -> list[str]:
    return ["--corpus", str(ws["corpus"]), "--index-dir", str(ws["index"])]


def corpus_state(corpus: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(corpus.iterdir())}


def ask(capsys, ws, question: str) -> list[dict]:
    code, out = run(capsys, "ask", question, "--json", *paths(ws))
    assert code == 0, out
    return json.loads(out.strip().splitlines()[-1])["results"]


def test_add_a_batch_reports_each_input_and_answers_from_the_new_articles(workspace, capsys) -> None:
    ws = workspace
    code, out = run(capsys, "add", str(ws["inputs"]), str(ws["tmp"] / "missing.html"), *paths(ws))
    assert code == 1  # some inputs failed; the rest were added
    assert "8 added, 0 skipped as duplicate, 8 failed" in out
    assert "1 other file in folders ignored" in out  # the saved page's style sheet
    failures = {
        line.split(": ", 1)[0]: line.split(": ", 1)[1] for line in out.splitlines() if line.startswith("failed ")
    }
    reasons = {Path(k.split()[1]).name: v for k, v in failures.items()}
    assert reasons["missing.html"] == "no such file or folder"
    assert reasons["home.html"] == "no article found in the page"
    assert reasons["empty.txt"] == "empty file"
    assert reasons["photo.txt"] == "binary file, not text"
    assert reasons["latin1.txt"].startswith("not UTF-8 text")
    assert reasons["export.jsonl.gz:2"] == "not a JSON object"
    assert reasons["export.jsonl.gz:3"] == "no article text"
    warnings = [line for line in out.splitlines() if line.startswith("warning ")]
    assert len(warnings) == 1 and "export.jsonl.gz:4: bad date '32/13/2020'" in warnings[0]
    assert "unknown date" in warnings[0]  # the article is added all the same, its date unknown
    assert "export.jsonl.gz:6" in " ".join(failures)  # the line that is not JSON

    corpus = load_corpus(ws["corpus"])
    assert not corpus.problems
    by_title = {a.title: a for a in corpus.articles}
    assert len(corpus.articles) == 13
    assert by_title["Ngày sai"].date is None
    news = by_title["Hà Nội khánh thành cầu Vĩnh Tuy giai đoạn 2"]
    assert (news.source, news.date, news.author) == ("Báo Tin tức Thủ đô", dt.date(2023, 6, 30), "Minh Anh")
    assert news.url.endswith("-12345.html") and news.inferred == ()
    assert Path(news.path).name == f"{news.id}-ha-noi-khanh-thanh-cau-vinh-tuy-giai-doan-2.md"

    plain = next(a for a in corpus.articles if "tuyển sinh" in a.title)
    assert (plain.source, plain.date) == ("VnExpress", dt.date(2024, 3, 12))
    assert set(plain.inferred) == {"title", "date", "source"} and plain.author is None

    storm = by_title["Bão số 3 đổ bộ vào Quảng Ninh và Hải Phòng"]
    assert storm.date == dt.date(2024, 9, 7) and "Bình lu" not in storm.text

    thu_duc = by_title["Thành phố Thủ Đức ra mắt Trung tâm hành chính công phục vụ người dân"]
    assert (thu_duc.source, thu_duc.date, thu_duc.author) == ("Thanhuytphcm.vn", dt.date(2021, 11, 25), "Thu Hương")
    assert set(thu_duc.inferred) == {"title", "date", "source", "author"}

    da_nang = by_title["Đà Nẵng đón 1,2 triệu lượt khách dịp lễ hội pháo hoa quốc tế"]
    assert (da_nang.source, da_nang.date, da_nang.inferred) == ("Báo Đà Nẵng", dt.date(2023, 7, 17), ())
    assert da_nang.extra["tags"] == ["du lịch", "Đà Nẵng"]

    can_tho = by_title["Cần Thơ khởi công cầu Trần Hoàng Na"]
    assert (can_tho.source, can_tho.date) == ("Báo Cần Thơ", dt.date(2022, 11, 9))
    assert can_tho.extra["original_id"] == "cms-881" and can_tho.extra["category"] == "giao-thong"
    hue = by_title["Huế mở cửa Đại Nội về đêm"]
    assert hue.date == dt.date(2023, 5, 1) and hue.source is None and "date" in hue.inferred

    # the stored files are plain Markdown with front matter a person can review
    data, body = split_front_matter(Path(thu_duc.path).read_text(encoding="utf-8"))
    assert data["inferred"] == ["title", "date", "source", "author"] and data["added_from"] == "thu-duc.txt"
    assert body.startswith("Thứ Ba, ngày 30 tháng 11 năm 2021")

    # questions about the new articles find their passages with title, source and date
    top = ask(capsys, ws, "Cầu Vĩnh Tuy giai đoạn 2 có tổng mức đầu tư bao nhiêu?")[0]
    assert top["title"] == news.title and top["source"] == "Báo Tin tức Thủ đô" and top["date"] == "2023-06-30"
    assert "2.538 tỷ đồng" in top["text"]
    top = ask(capsys, ws, "Trung tâm hành chính công Thủ Đức có bao nhiêu quầy giao dịch?")[0]
    assert (top["title"], top["source"], top["date"]) == (thu_duc.title, "Thanhuytphcm.vn", "2021-11-25")
    top = ask(capsys, ws, "Kỳ thi tuyển sinh lớp 10 Hà Nội năm 2024 diễn ra ngày nào?")[0]
    assert (top["source"], top["date"]) == ("VnExpress", "2024-03-12")
    top = ask(capsys, ws, "cau Tran Hoang Na von dau tu bao nhieu")[0]
    assert (top["title"], top["date"]) == (can_tho.title, "2022-11-09")

    # nothing of the pages' navigation, ads, comments or related lists became a passage
    index, _ = ensure_index(load_settings().with_paths(ws["corpus"], ws["index"]))
    texts = [index.passage_text(i) for i in range(index.n_passages)]
    for debris in (
        "Trang chủ",
        "Thể thao",
        "Quảng cáo",
        "Tin liên quan",
        "Vành đai 4",
        "Nguyễn Văn Bình",
        "kẹt xe",
        "Gửi bình luận",
        "Bình luận",
        "Giấy phép",
        "2 giờ trước",
    ):
        assert not any(debris in text for text in texts), debris

    # an article without a date is shown as "date unknown" ("không rõ ngày"), never with an invented one
    code, out = run(capsys, "add", str(_write(ws["tmp"] / "undated.txt", UNDATED)), *paths(ws))
    assert code == 0 and "source unknown, date unknown" in out


UNDATED = """Người dân Thủ đô hưởng ứng Giờ Trái đất

Hàng nghìn người dân Thủ đô đã tắt đèn, rút phích cắm các thiết bị không cần thiết trong một giờ để hưởng ứng chiến dịch Giờ Trái đất, góp phần tiết kiệm điện và nâng cao ý thức bảo vệ môi trường.
"""


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_adding_again_changes_nothing_and_republished_copies_are_skipped(workspace, capsys) -> None:
    ws = workspace
    run(capsys, "add", str(ws["inputs"]), *paths(ws))
    before = corpus_state(ws["corpus"])
    code, out = run(capsys, "add", str(ws["inputs"]), *paths(ws))
    assert "0 added, 8 skipped as duplicate" in out
    assert "index rebuilt" not in out  # nothing changed, so nothing to rebuild
    assert corpus_state(ws["corpus"]) == before

    news_id = next(a.id for a in load_corpus(ws["corpus"]).articles if a.url and "12345" in a.url)
    # the same story saved from another address, with another footer, is still the same article
    copy = NEWS_PAGE.replace("tintucthudo.example.vn", "mirror.example.com").replace(
        "</article>", "<p>Mời quý độc giả đón đọc các tin bài tiếp theo trên trang điện tử của chúng tôi.</p></article>"
    )
    code, out = run(capsys, "add", str(_write(ws["tmp"] / "copy.html", copy)), *paths(ws))
    assert f"skipped copy.html: duplicate of {news_id} (near-identical text" in out
    # and the shipped articles, pasted as text with a different title, are recognised too
    shipped = load_corpus(ROOT / "corpus").articles[4]
    pasted = _write(ws["tmp"] / "pasted.txt", "Đại hội Đảng bộ Khối Hà Nội\n\n" + shipped.text)
    code, out = run(capsys, "add", str(pasted), *paths(ws))
    assert f"duplicate of {shipped.id}" in out and "0 added" in out
    assert corpus_state(ws["corpus"]) == before


def test_remove_and_edit_are_reflected_by_the_next_index(workspace, capsys) -> None:
    ws = workspace
    run(capsys, "add", str(ws["inputs"] / "pages" / "news.html"), str(ws["inputs"] / "da-nang.md"), *paths(ws))
    articles = load_corpus(ws["corpus"]).articles
    news = next(a for a in articles if a.url and "12345" in a.url)
    assert ask(capsys, ws, "cầu Vĩnh Tuy giai đoạn 2 dài bao nhiêu km")[0]["doc_id"] == news.id

    typed = str(int(news.id))  # '6' for article '006', as a person types it
    code, out = run(capsys, "remove", typed, *paths(ws))
    assert code == 0 and f"removed {typed}: {news.path}" in out and "0 articles segmented" in out
    assert "incremental: +0 -1 articles" in out  # a tombstone, no rebuild
    assert not Path(news.path).exists()
    assert all(r["doc_id"] != news.id for r in ask(capsys, ws, "cầu Vĩnh Tuy giai đoạn 2 dài bao nhiêu km"))
    code, out = run(capsys, "remove", news.id, *paths(ws))
    assert code == 2 and "no article with id" in out

    # editing a stored file by hand: the next index segments that article only
    da_nang = next(a for a in articles if a.title.startswith("Đà Nẵng"))
    path = Path(da_nang.path)
    edited = path.read_text(encoding="utf-8").replace("Báo Đà Nẵng", "Đà Nẵng Online").replace("5.700", "5.800")
    path.write_text(edited, encoding="utf-8")
    code, out = run(capsys, "index", *paths(ws))
    assert "1 article segmented" in out and "incremental: +1 -1 articles" in out
    top = ask(capsys, ws, "doanh thu du lịch Đà Nẵng dịp lễ hội pháo hoa ước đạt bao nhiêu")[0]
    assert top["source"] == "Đà Nẵng Online" and "5.800 tỷ đồng" in top["text"]

    # removing it again is possible after the manual edit; the news page can be added back
    code, out = run(capsys, "add", str(ws["inputs"] / "pages" / "news.html"), *paths(ws))
    assert "1 added" in out


def test_an_interrupted_add_leaves_whole_articles_and_the_index_catches_up(workspace, capsys, monkeypatch) -> None:
    ws = workspace
    run(capsys, "index", *paths(ws))
    real_replace = durable_files.os.replace
    calls = {"n": 0}

    def replace_then_die(src, dst):
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt  # the process is stopped while storing the second article
        return real_replace(src, dst)

    monkeypatch.setattr(durable_files.os, "replace", replace_then_die)
    code, _ = run(capsys, "add", str(ws["inputs"] / "thu-duc.txt"), str(ws["inputs"] / "da-nang.md"), *paths(ws))
    monkeypatch.setattr(durable_files.os, "replace", real_replace)
    assert code == 130
    assert not list(ws["corpus"].glob(".tmp-*"))  # no half-written file is left
    corpus = load_corpus(ws["corpus"])
    assert not corpus.problems and len(corpus.articles) == 6
    # a hard kill leaves a temporary file: it is never read and the next add clears it
    (ws["corpus"] / ".tmp-999-099-half.md").write_text("---\ntitle: nửa bài", encoding="utf-8")
    code, out = run(capsys, "index", *paths(ws))
    assert "6 articles" in out and "1 article segmented" in out
    code, out = run(capsys, "add", str(ws["inputs"] / "thu-duc.txt"), str(ws["inputs"] / "da-nang.md"), *paths(ws))
    assert "1 added, 1 skipped as duplicate" in out and not list(ws["corpus"].glob(".tmp-*"))


def test_html_metadata_and_inference(tmp_path: Path) -> None:
    article = article_from_html(PLAIN_PAGE.encode(), "plain.htm", today=dt.date(2025, 1, 1))
    assert article.title.startswith("Sở Giáo dục và Đào tạo Hà Nội công bố phương án tuyển sinh")
    assert article.date == dt.date(2024, 3, 12)
    with_bom = b"\xef\xbb\xbf" + NEWS_PAGE.encode("utf-8")
    assert article_from_html(with_bom, "news.html").title == "Hà Nội khánh thành cầu Vĩnh Tuy giai đoạn 2"


def test_add_into_a_new_folder_and_refusals(workspace, capsys) -> None:
    ws = workspace
    fresh = ws["tmp"] / "new-corpus"
    code, out = run(
        capsys, "add", str(ws["inputs"] / "da-nang.md"), "--corpus", str(fresh), "--index-dir", str(ws["index"])
    )
    assert code == 0 and (fresh / "001-da-nang-don-1-2-trieu-luot-khach-dip-le-hoi-phao-hoa-quoc-te.md").is_file()
    jsonl_corpus = ws["tmp"] / "one.jsonl"
    jsonl_corpus.write_text(json.dumps({"id": "x1", "title": "T", "text": "Nội dung bài."}, ensure_ascii=False) + "\n")
    code, out = run(
        capsys, "add", str(ws["inputs"] / "da-nang.md"), "--corpus", str(jsonl_corpus), "--index-dir", str(ws["index"])
    )
    assert code == 2 and "adding needs a corpus folder" in out
    code, out = run(capsys, "remove", "x1", "--corpus", str(jsonl_corpus), "--index-dir", str(ws["index"]))
    assert code == 2 and "not a folder" in out
    stored = (fresh / "001-da-nang-don-1-2-trieu-luot-khach-dip-le-hoi-phao-hoa-quoc-te.md").read_text(encoding="utf-8")
    assert yaml.safe_load(stored.split("---\n")[1])["id"] == "001"
