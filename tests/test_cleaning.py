import re

from bot.corpus.loading import load_corpus
from bot.text.cleaning import clean_lines, split_byline
from bot.text.passages import split_article
from conftest import PROJECT

DEBRIS = [
    "leftcenterrightdel",
    "Xem phiên bản mobile",
    "cookies",
    "Ý kiến bạn đọc",
    "Tổng lượt bình luận",
    "Tin khác",
    "Read More",
    "1_wtpe.jpg",
    "chi dao sau sat kip thoi",
    "Trung tâm 114",
    "Thứ Ba, ngày 30 tháng 11 năm 2021",
    "refresh",
]


def test_no_debris_in_any_shipped_passage():
    for article in load_corpus(PROJECT / "corpus").articles:
        for passage in split_article(article):
            for debris in DEBRIS:
                assert debris.lower() not in passage.text.lower(), (article.id, debris)


def test_rules_work_on_a_new_page_of_the_same_kind():
    page = "\n".join(
        [
            "Thứ Hai, ngày 6 tháng 9 năm 2021",
            "Hội nghị tổng kết công tác dân vận năm 2021",
            "hoi nghi tong ket cong tac dan van nam 2021",
            "leftcenterrightdel",
            "anh_hoi_nghi_01.JPG",
            "Sáng 6/9, Ban Dân vận Thành ủy tổ chức hội nghị tổng kết công tác dân vận.",
            "Đại biểu phát biểu tại hội nghị. Đại biểu phát biểu tại hội nghị.",
            "Nguyễn Văn An",
            "Sáng 5/9, UBND quận tổ chức lễ ra quân…",
            "Chiều 4/9, Công an thành phố thông tin về vụ việc…",
            "Chúng tôi sử dụng cookie để cải thiện trải nghiệm. Đồng ý",
            "Bình luận",
            "Bài viết rất hay!",
        ]
    )
    lines = clean_lines(page, title="Hội nghị tổng kết công tác dân vận năm 2021")
    body, byline = split_byline(lines)
    assert byline == "Nguyễn Văn An"
    assert body == [
        "Sáng 6/9, Ban Dân vận Thành ủy tổ chức hội nghị tổng kết công tác dân vận.",
        "Đại biểu phát biểu tại hội nghị.",
    ]


def test_a_real_paragraph_ending_with_an_ellipsis_is_kept():
    text = (
        "Đoạn mở đầu của bài viết về hội nghị.\n"
        + "Báo cáo cũng cần xác định nội dung xây dựng thể chế làm khâu đột phá…"
    )
    assert clean_lines(text)[-1].endswith("đột phá…")


def test_passages_have_reasonable_sizes_and_positions():
    for article in load_corpus(PROJECT / "corpus").articles:
        passages = split_article(article, min_chars=200, max_chars=900)
        assert passages
        assert [p.position for p in passages] == list(range(len(passages)))
        for p in passages:
            assert len(p.text) <= 900 + 200
            assert p.article_id == article.id
        # no passage is just a byline or a caption fragment
        assert all(len(p.text) >= 150 for p in passages[:-1])


def test_long_paragraph_is_cut_at_sentence_ends():
    from bot.text.passages import split_paragraphs

    sentences = [f"Câu số {i} nói về kết quả công tác của đảng bộ khối trong năm." for i in range(40)]
    passages = split_paragraphs([" ".join(sentences)], min_chars=100, max_chars=300)
    assert len(passages) > 1
    for p in passages:
        assert len(p) <= 300
        assert re.search(r"năm\.$", p)
