"""Recognising articles the corpus already has."""

from __future__ import annotations

from bot.corpus.article import Article
from bot.corpus.dedup import DuplicateFinder, url_key

STORY = (
    "Sáng 30/6, UBND thành phố Hà Nội tổ chức lễ khánh thành cầu Vĩnh Tuy giai đoạn 2, công trình trọng điểm "
    "chào mừng kỷ niệm 69 năm Ngày Giải phóng Thủ đô.\n\n"
    "Cầu Vĩnh Tuy giai đoạn 2 có tổng mức đầu tư hơn 2.538 tỷ đồng, dài 3,47 km, rộng 19,25 m với 4 làn xe. "
    "Công trình được khởi công từ tháng 1/2021 và hoàn thành vượt tiến độ gần ba tháng.\n\n"
    "Phát biểu tại buổi lễ, Chủ tịch UBND thành phố cho biết cây cầu sẽ góp phần giảm ùn tắc giao thông cho "
    "cầu Chương Dương và cầu Long Biên, kết nối quận Long Biên với trung tâm thành phố.\n\n"
    "Theo Ban Quản lý dự án, trong quá trình thi công, nhà thầu đã huy động hơn 1.000 kỹ sư và công nhân "
    "làm việc ba ca liên tục để bảo đảm tiến độ và chất lượng công trình."
)
OTHER = (
    "Chiều 7/9, bão số 3 đổ bộ vào Quảng Ninh và Hải Phòng với sức gió mạnh cấp 12, giật cấp 15, gây mưa lớn "
    "trên diện rộng ở các tỉnh Bắc Bộ. Theo Trung tâm Dự báo khí tượng thủy văn quốc gia, đây là cơn bão mạnh "
    "nhất đổ bộ vào đất liền miền Bắc trong 30 năm qua; hàng nghìn cây xanh bị quật đổ."
)


def _finder(*articles: Article) -> DuplicateFinder:
    finder = DuplicateFinder()
    for article in articles:
        finder.add(article)
    return finder


def test_url_key_ignores_scheme_www_tracking_and_trailing_slash() -> None:
    assert url_key("https://www.Example.vn/tin/bai-1.html?utm_source=fb#top") == url_key(
        "http://example.vn/tin/bai-1.html"
    )
    assert url_key("https://example.vn/tin/") == url_key("https://example.vn/tin")
    assert url_key("https://example.vn/tin?id=1") != url_key("https://example.vn/tin?id=2")
    assert url_key("") is None and url_key(None) is None


def test_same_url_is_a_duplicate_whatever_the_text() -> None:
    finder = _finder(Article("005", "Cầu Vĩnh Tuy", STORY, url="https://example.vn/a.html"))
    found = finder.find(Article("", "Khác", OTHER, url="http://www.example.vn/a.html?utm_medium=zalo"))
    assert found and found.article_id == "005" and found.reason == "same url"


def test_same_title_and_text_after_normalisation() -> None:
    finder = _finder(Article("005", "Cầu Vĩnh Tuy hoà thành", STORY))
    respaced = STORY.replace("\n\n", "\n   \n").replace(", ", " ,  ")
    found = finder.find(Article("", "Cầu  Vĩnh Tuy hòa thành", respaced))
    assert found and found.article_id == "005" and found.reason == "same title and text"


def test_same_story_with_another_footer_is_a_near_duplicate() -> None:
    finder = _finder(Article("005", "Cầu Vĩnh Tuy", STORY + "\n\nMinh Anh"), Article("006", "Bão số 3", OTHER))
    republished = STORY + "\n\nTheo Báo Tin tức Thủ đô. Mời bạn đọc theo dõi các tin bài tiếp theo trên trang."
    found = finder.find(Article("", "Hà Nội: khánh thành cầu Vĩnh Tuy 2", republished))
    assert found and found.article_id == "005" and found.reason.startswith("near-identical text")


def test_a_different_story_on_the_same_subject_is_not_a_duplicate() -> None:
    finder = _finder(Article("005", "Cầu Vĩnh Tuy", STORY))
    other_bridge = (
        "Sáng 12/10, thành phố Hà Nội khởi công cầu Tứ Liên bắc qua sông Hồng, nối quận Tây Hồ với huyện Đông Anh. "
        "Cầu dài 5,9 km với tổng mức đầu tư hơn 19.000 tỷ đồng, dự kiến hoàn thành năm 2027, góp phần giảm ùn tắc "
        "giao thông cho cầu Chương Dương và cầu Long Biên."
    )
    assert finder.find(Article("", "Khởi công cầu Tứ Liên", other_bridge)) is None
    assert finder.find(Article("", "Bão số 3", OTHER)) is None
