"""Remove page debris from scraped article text: pure rules, line by line.

Debris is what a news page shows around an article: layout words, "Xem phiên bản mobile",
cookie notices, the comment box and "Tin khác" lists, teasers of other articles, image file
names, the unaccented slug of the title, the page header's date. None of it may become a
passage.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

from bot.text.normalize import fold_accents

# Lines that are debris wherever they stand (compared after folding accents, lower-cased).
_DEBRIS_LINES = {
    "leftcenterrightdel",
    "xem phien ban mobile",
    "xem phien ban desktop",
    "refresh",
    "read more",
    "doc them",
    "xem them",
    "chia se",
    "in bai viet",
    "ban in",
    "quay lai",
    "len dau trang",
    "facebook",
    "twitter",
    "zalo",
    "email",
}
# Lines after which nothing belongs to the article (comment boxes, related lists).
_TAIL_MARKERS = {
    "y kien ban doc",
    "y kien cua ban",
    "binh luan",
    "tong luot binh luan",
    "gui binh luan",
    "tin khac",
    "tin lien quan",
    "bai viet lien quan",
    "cac tin khac",
    "tin cung chuyen muc",
    "tin moi nhat",
    "doc nhieu nhat",
    "xem nhieu nhat",
    "co the ban quan tam",
}
_COOKIE_RE = re.compile(r"\b(cookies?|chinh sach bao mat|privacy policy)\b", re.IGNORECASE)
_IMAGE_FILE_RE = re.compile(r"^\S+\.(jpe?g|png|gif|webp|bmp|svg)(\?\S*)?$", re.IGNORECASE)
_HEADER_DATE_RE = re.compile(
    r"^(thu (hai|ba|tu|nam|sau|bay)|chu nhat)\s*,?\s*(ngay\s*)?\d{1,2}( thang |/)\d{1,2}"
    r"( nam |/)\d{4}(\s*[,|-]?\s*\d{1,2}[:h]\d{2}.*)?$"
)
_ELLIPSIS_RE = re.compile(r"(…|\.\.\.)\s*$")
_TEASER_MAX_CHARS = 160
_BYLINE_RE = re.compile(r"^[\w.]+( [\w.]+){0,4}$")


@lru_cache(maxsize=256)  # clean_lines asks for each line's key up to three times
def _key(line: str) -> str:
    """Folded, lower-cased, punctuation-free form of a line for rule matching."""
    folded = fold_accents(line).lower()
    return re.sub(r"\s+", " ", re.sub(r"[^\w\s]", " ", folded)).strip()


def _is_debris(line: str) -> bool:
    key = _key(line)
    if not key:
        return not any(ch.isalnum() for ch in line)
    if key in _DEBRIS_LINES:
        return True
    if _IMAGE_FILE_RE.match(line.strip()):
        return True
    if _COOKIE_RE.search(fold_accents(line)) and len(line) < 300:
        return True
    return bool(_HEADER_DATE_RE.match(key.replace("  ", " ")))


def _is_slug(line: str, others: list[str]) -> bool:
    """An unaccented lower-case copy of another line (the URL slug of the title)."""
    stripped = line.strip()
    if not stripped or stripped != stripped.lower() or fold_accents(stripped) != stripped:
        return False
    key = _key(stripped)
    if len(key.split()) < 4:
        return False
    return any(other is not line and _key(other) == key for other in others)


def _undouble(line: str) -> str:
    """A caption repeated twice on one line ("X. X.") is kept once."""
    half = len(line) // 2
    for cut in range(max(0, half - 2), min(len(line), half + 3)):
        left, right = line[:cut].strip(), line[cut:].strip()
        if left and left == right:
            return left
    return line


def clean_lines(text: str, title: str | None = None) -> list[str]:
    """The article's paragraphs without page debris, in order.

    ``title`` (when known) is dropped where the page repeats it as a line.
    """
    text = unicodedata.normalize("NFC", text).replace("\r\n", "\n").replace("\r", "\n")
    lines = [re.sub(r"[ \t\u00a0]+", " ", line).strip() for line in text.split("\n")]
    lines = [line for line in lines if line]
    kept: list[str] = []
    title_key = _key(title) if title else None
    for line in lines:
        if _key(line) in _TAIL_MARKERS:
            break
        if _is_debris(line) or _is_slug(line, lines):
            continue
        if title_key and _key(line) == title_key:
            continue
        kept.append(_undouble(line))
    return _drop_teasers(kept)


def _drop_teasers(lines: list[str]) -> list[str]:
    """Drop runs of two or more short lines cut off with an ellipsis (other articles' teasers)."""
    teaser = [bool(_ELLIPSIS_RE.search(line)) and len(line) <= _TEASER_MAX_CHARS for line in lines]
    keep: list[str] = []
    for i, line in enumerate(lines):
        in_run = teaser[i] and ((i > 0 and teaser[i - 1]) or (i + 1 < len(lines) and teaser[i + 1]))
        if not in_run:
            keep.append(line)
    return keep


def split_byline(lines: list[str]) -> tuple[list[str], str | None]:
    """Take a closing byline ("Kim Thành", "Tuổi trẻ Thủ đô") off the end of the article."""
    if len(lines) >= 2:
        last = lines[-1]
        if len(last) <= 40 and last[0].isupper() and _BYLINE_RE.match(last) and not any(c.isdigit() for c in last):
            return lines[:-1], last
    return lines, None
