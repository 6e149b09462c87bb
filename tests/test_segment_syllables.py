"""Index terms without pyvi's word model (``text.words: false``) are those of the full pyvi path."""

from __future__ import annotations

from dataclasses import replace

import pytest

from bot.text import terms as T
from bot.text.normalize import normalize

TEXTS = [
    "Ngày 4/8/2020, UBND TP. Hồ Chí Minh ban hành Nghị quyết 128/NQ-CP về phòng, chống COVID-19.",
    "Thủ tướng Phạm Minh Chính: \u201cPhải làm ngay!\u201d – ông nói tại Hà Nội (ngày 1.000 của dự án)...",
    "Ông Nguyễn Văn A, Ủy viên Trung ương Đảng khóa XIII. Ủy viên Bộ Chính trị; email: a@b.vn, web http://x.vn/y",
    "Giá vàng tăng 1,5% lên 67,2 triệu đồng/lượng >> các NHTM điều chỉnh lãi suất...",
]


@pytest.mark.parametrize("text", TEXTS)
def test_syllables_and_runs_match_pyvi_words(text: str) -> None:
    normal = normalize(text)
    flat = lambda runs: [[s for word in run for s in word] for run in runs]  # noqa: E731
    assert flat(T.segment(normal, words=False)) == flat(T.segment(normal))
    options = replace(T.TermOptions(), words=False)
    fast = T.index_terms(normal, options)
    full = [t for t in T.index_terms(normal, replace(options, words=True)) if "_" not in t]
    assert fast == full
