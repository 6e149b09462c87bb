"""Reading an article's metadata from its own text when nothing else gives it: pure rules.

Vietnamese news text carries its date and outlet in a few habitual forms:

- dates: a page header "Thứ Ba, ngày 30 tháng 11 năm 2021", a lead "Chiều 14/11, ..." or
  "Sáng nay (4/8), ..." whose year comes from the rest of the text, "3/8/2020", ISO;
- outlets: a dateline "(Thanhuytphcm.vn) - ...", a closing line "Tuổi trẻ Thủ đô" or
  "Theo VnExpress", photo credits "(Ảnh: Kinh tế và Đô thị)";
- titles: the first line, when it reads as a headline.

Every function returns None rather than guess when the text does not say.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from bot.text.cleaning import clean_lines, split_byline
from bot.text.normalize import fold_accents, split_sentences

# --- dates ------------------------------------------------------------------------------

MIN_YEAR = 1945

_WEEKDAY = r"(?:(?:thứ\s+(?:hai|ba|tư|năm|sáu|bảy|[2-7])|chủ\s+nhật|t[2-7]|cn)\s*[,-]?\s*)"
_TIME = r"(?:\d{1,2}\s*[:h]\s*\d{2}(?:\s*(?:am|pm|sa|ch))?(?:\s*\(?(?:gmt|utc)\s*[+-]\s*\d{1,2}\)?)?)"
_LONG = r"ngày\s+(\d{1,2})\s+tháng\s+(\d{1,2})\s+năm\s+(\d{4})"
_NUMERIC = r"(\d{1,2})\s*[/.-]\s*(\d{1,2})\s*[/.-]\s*(\d{4})"
_ISO = r"(\d{4})-(\d{1,2})-(\d{1,2})"

# One whole date expression (front matter values, page headers, bylines' dates).
_WHOLE_DATE_RE = re.compile(
    rf"^{_WEEKDAY}?(?:{_TIME}\s*[,|-]?\s*)?(?:ngày\s+)?(?:{_LONG}|{_NUMERIC}|{_ISO})"
    rf"(?:(?:\s*[,|-]?\s*|T){_TIME}?(?::\d{{2}}(?:\.\d+)?)?(?:z|[+-]\d{{2}}:?\d{{2}})?)?\s*$",
    re.IGNORECASE,
)
# Full dates inside running text.
_FULL_DATE_RE = re.compile(rf"{_LONG}|(?<![\d/.,-]){_NUMERIC}(?![\d/-]|\.\d)|(?<![\d/-]){_ISO}(?![\d-])", re.IGNORECASE)
# A range "3/8 - 4/8/2020": the first day with the year of the second.
_RANGE_RE = re.compile(r"(?<![\d/])(\d{1,2})/(\d{1,2})\s*[-–]\s*\d{1,2}/\d{1,2}/(\d{4})(?![\d/])")
# The lead of a news text: "Chiều 14/11,", "Sáng nay (4/8),", "(Thanhuytphcm.vn) - Ngày 22/11/2021,".
_LEAD_DATE_RE = re.compile(
    r"^(?:\([^()]{2,60}\)\s*[-–—]\s*)?(?:[^\W\d][\w.]*\s*[-–—]\s*)?"
    r"(?:(?:rạng\s+sáng|sáng|trưa|chiều|tối|đêm|ngày|hôm\s+nay|hôm\s+qua)(?:\s+(?:nay|qua|mai|ngày))?\s*)"
    r"\(?(\d{1,2})\s*/\s*(\d{1,2})(?:\s*/\s*(\d{4}))?\)?(?![\d/])",
    re.IGNORECASE,
)
# Years the text speaks of: "năm 2019", "nhiệm kỳ 2020-2025", "tháng 1/2021", "quý 1/2020".
_YEAR_RE = re.compile(
    r"(năm)\s+(\d{4})(?!\d)|(?:nhiệm\s+kỳ|giai\s+đoạn|niên\s+khóa)\s+(\d{4})(?!\d)|(?<![\d/])\d{1,2}/(\d{4})(?![\d/])",
    re.IGNORECASE,
)


def make_date(year: int | str, month: int | str, day: int | str, today: dt.date | None = None) -> dt.date | None:
    """A real date not before 1945 and not after tomorrow, or None."""
    try:
        value = dt.date(int(year), int(month), int(day))
    except ValueError:
        return None
    latest = (today or dt.date.today()) + dt.timedelta(days=1)
    return value if value.year >= MIN_YEAR and value <= latest else None


def _match_date(match: re.Match, today: dt.date | None = None) -> dt.date | None:
    """The date of a match of _LONG|_NUMERIC|_ISO groups (9 groups: d m y, d m y, y m d)."""
    g = match.groups()[-9:]
    if g[0]:
        return make_date(g[2], g[1], g[0], today)
    if g[3]:
        return make_date(g[5], g[4], g[3], today)
    return make_date(g[6], g[7], g[8], today)


def parse_date_text(text: str, today: dt.date | None = None) -> dt.date | None:
    """A whole date expression: 'Thứ Ba, ngày 30 tháng 11 năm 2021', '3/8/2020 08:15',
    '2021-11-30T08:00:00+07:00', 'Thứ hai, 30/11/2021, 10:05 (GMT+7)'. None when it is not one."""
    text = unicodedata.normalize("NFC", str(text)).strip()
    match = _WHOLE_DATE_RE.match(text)
    return _match_date(match, today) if match else None


def full_dates(text: str, today: dt.date | None = None) -> list[dt.date]:
    """The complete dates written in a text, in order (ranges give their first day)."""
    found: list[tuple[int, dt.date]] = []
    for match in _RANGE_RE.finditer(text):
        date = make_date(match.group(3), match.group(2), match.group(1), today)
        if date:
            found.append((match.start(), date))
    for match in _FULL_DATE_RE.finditer(text):
        date = _match_date(match, today)
        if date and not any(start <= match.start() < start + 20 for start, _ in found):
            found.append((match.start(), date))
    return [date for _, date in sorted(found, key=lambda item: item[0])]


def context_year(text: str) -> int | None:
    """The year a text speaks of most ('năm 2019' counts 1; 'nhiệm kỳ 2020-2025', 'quý 1/2020'
    count 1/2, as terms and plans look ahead); on a tie the earlier year."""
    latest = dt.date.today().year + 1
    years: Counter[int] = Counter()
    for nam, year, term, month_year in _YEAR_RE.findall(text):
        value = int(year or term or month_year)
        if MIN_YEAR <= value <= latest:
            years[value] += 1.0 if nam else 0.5
    if not years:
        return None
    return min(years, key=lambda y: (-years[y], y))


def lead_date(lines: list[str], anchor: dt.date | None, text: str, today: dt.date | None = None) -> dt.date | None:
    """The day of the event in the lead ('Chiều 14/11, ...'), its year written, taken from the
    page's own date (the day is not after it) or from the years the text speaks of."""
    for line in lines[:4]:
        match = _LEAD_DATE_RE.match(line)
        if not match:
            continue
        day, month, year = match.group(1), match.group(2), match.group(3)
        if year:
            return make_date(year, month, day, today)
        if anchor:
            guess = make_date(anchor.year, month, day, today)
            if guess and guess > anchor:
                guess = make_date(anchor.year - 1, month, day, today)
            return guess
        year_found = context_year(text)
        if year_found:
            return make_date(year_found, month, day, today)
        return _near_year(month, day, full_dates(text, today), today)
    return None


def _near_year(month: str, day: str, written: list[dt.date], today: dt.date | None) -> dt.date | None:
    """The lead's day in the year that puts it nearest the first full date the text writes
    ('Chiều 10/6 ... ngày 12/6/2024' -> 10/6/2024; 'Sáng 28/12 ... từ 5/1/2025' -> 28/12/2024)."""
    if not written:
        return None
    near = written[0]
    guesses = [d for d in (make_date(near.year + k, month, day, today) for k in (-1, 0, 1)) if d]
    return min(guesses, key=lambda d: abs((d - near).days), default=None)


def infer_date(
    text: str, today: dt.date | None = None, lines: list[str] | None = None, header: dt.date | None = None
) -> dt.date | None:
    """The article's date from its text, or None when the text does not tell it.

    In order: a lead date ('Chiều 14/11', with the year from a page-header date or the
    text; the dateline wins over dates further on); a page-header line that is only a date
    (``header``: one found outside the text, in a page's header); the first full date of the
    first paragraph. ``lines`` are the text's clean_lines, when already known."""
    raw_lines = [line.strip() for line in unicodedata.normalize("NFC", text).splitlines() if line.strip()]
    if header is None:
        header = next((d for d in (parse_date_text(line, today) for line in raw_lines[:3]) if d), None)
    body = [line for line in (clean_lines(text) if lines is None else lines) if not _is_headline(line)]
    found = lead_date(body, header, text, today)
    if found or header:
        return found or header
    if body:
        dates = full_dates(body[0], today)
        if dates:
            return dates[0]
    return None


# --- titles -----------------------------------------------------------------------------

_HEADLINE_END_OK = re.compile(r"[^.:;,…\-–—]$")


def _is_headline(line: str) -> bool:
    """A line that reads as a headline: short, capitalised, no closing full stop, not a dateline."""
    words = line.split()
    return (
        3 <= len(words) <= 35
        and len(line) <= 250
        and line[0].isupper()
        and bool(_HEADLINE_END_OK.search(line))
        and not _LEAD_DATE_RE.match(line)
        and parse_date_text(line) is None
    )


def _strip_lead(sentence: str) -> str:
    """A lead sentence without its dateline: '(X) - Chiều 14/11, A làm B.' -> 'A làm B'."""
    match = _LEAD_DATE_RE.match(sentence)
    if match:
        sentence = sentence[match.end() :].lstrip(" ,:-–—")
    else:
        sentence = re.sub(r"^\([^()]{2,60}\)\s*[-–—]\s*", "", sentence)
    return sentence.strip().rstrip(".…").strip()


def infer_title(text: str, max_chars: int = 120, lines: list[str] | None = None) -> str | None:
    """The first line when it reads as a headline; else the lead sentence without its
    dateline, cut at a word to ``max_chars``. None for a text with no words."""
    lines = clean_lines(text) if lines is None else lines
    if not lines:
        return None
    if _is_headline(lines[0]):
        return lines[0]
    sentences = split_sentences(lines[0])
    sentence = _strip_lead(sentences[0]) if sentences else ""
    if not sentence:
        return None
    sentence = sentence[0].upper() + sentence[1:]
    if len(sentence) > max_chars and 20 <= sentence.find(":") < max_chars:
        sentence = sentence[: sentence.find(":")]
    if len(sentence) > max_chars:
        sentence = sentence[: sentence.rfind(" ", 0, max_chars - 1)].rstrip(" ,;:") + "…"
    return sentence


# --- outlets and authors ----------------------------------------------------------------


@dataclass(frozen=True)
class Outlet:
    """A news outlet: its name as cited and the web domains it publishes on."""

    name: str
    domains: tuple[str, ...] = ()


_DOMAIN = r"(?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?\.)+(?:vn|com|net|org|info|gov|edu)(?:\.vn)?"
_DATELINE_DOMAIN_RE = re.compile(rf"\(\s*({_DOMAIN})\s*\)", re.IGNORECASE)
_CREDIT_RE = re.compile(r"\(?\s*(?:ảnh|nguồn ảnh|ảnh minh họa|video|clip)\s*:\s*([^()\n]{2,60}?)\s*\)?\s*$", re.I)
_CITED_RE = re.compile(r"^(?:theo|nguồn)\s*:?\s+(.{2,60}?)\s*\.?$", re.IGNORECASE)
_OUTLET_PREFIX_RE = re.compile(
    r"^(báo|tạp chí|đài|cổng thông tin|trang thông tin|thông tấn xã|kênh|tuần báo|nhật báo)\b", re.I
)


def _folded_key(text: str) -> str:
    return re.sub(r"\s+", " ", fold_accents(unicodedata.normalize("NFC", text)).lower()).strip(" .")


def known_outlet(name: str, outlets: Iterable[Outlet]) -> Outlet | None:
    """The outlet a name or domain stands for ('Tuổi Trẻ', 'tuoitre.vn', 'Theo Tuổi Trẻ')."""
    key = _folded_key(name)
    key = re.sub(r"^(www\.|bao\s+)", "", key)
    for outlet in outlets:
        if key == _folded_key(outlet.name) or re.sub(r"^bao\s+", "", _folded_key(outlet.name)) == key:
            return outlet
        if any(key == d.lower() or key.endswith("." + d.lower()) for d in outlet.domains):
            return outlet
    return None


def _is_person_name(text: str) -> bool:
    """'Kim Thành', 'K Thành', 'Nguyễn Văn A': 1-5 words, each capitalised, no digits."""
    words = text.split()
    return 1 <= len(words) <= 5 and all(w[0].isupper() for w in words) and not any(c.isdigit() for c in text)


def _is_outlet_name(text: str, outlets: Iterable[Outlet]) -> bool:
    """A known outlet, a domain, or an outlet-shaped name ('Kinh tế và Đô thị', 'Báo Nhân Dân')."""
    text = text.strip()
    if known_outlet(text, outlets) or re.fullmatch(_DOMAIN, text, re.IGNORECASE):
        return True
    words = text.split()
    if not 2 <= len(words) <= 7 or any(c.isdigit() for c in text) or not text[0].isupper():
        return False
    if re.search(r"[.!?:;,…\"”]$", text):  # a sentence, not a name
        return False
    return bool(_OUTLET_PREFIX_RE.match(text)) or not _is_person_name(text)


# The outlet in brackets that opens a lead: "(Báo Đà Nẵng) - Chiều 9/9, ...", "(TTXVN) - ...".
_DATELINE_NAME_RE = re.compile(r"^\(\s*([^()\n:]{2,60}?)\s*\)\s*[-–—]")
_ACRONYM_RE = re.compile(r"[A-ZĐ]{2,8}(?:[-/][A-ZĐ]{1,8})?")


def _is_dateline_outlet(name: str, outlets: Iterable[Outlet]) -> bool:
    """An outlet's name, domain or acronym ('TTXVN', 'VOV') in a lead's brackets."""
    return _is_outlet_name(name, outlets) or bool(_ACRONYM_RE.fullmatch(name.strip()))


_TITLE_SEPARATOR_RE = re.compile(r"\s+[|–—-]\s+|\s*\|\s*|\s+::\s+")


def outlet_from_page_title(page_title: str, headline: str = "", outlets: Iterable[Outlet] = ()) -> str | None:
    """The outlet a page's <title> names beside its headline ('Headline | Báo Cần Thơ' ->
    'Báo Cần Thơ'), never the headline itself; None when the title names none."""
    outlets = tuple(outlets)
    parts = [p.strip() for p in _TITLE_SEPARATOR_RE.split(unicodedata.normalize("NFC", page_title)) if p.strip()]
    if len(parts) < 2:
        return None
    head = _folded_key(headline) if headline else ""
    for part in reversed(parts):
        key = _folded_key(part)
        if head and (key == head or key in head or head in key):
            continue
        if len(part) <= 60 and (_is_outlet_name(part, outlets) or _ACRONYM_RE.fullmatch(part)):
            if part is parts[0] and not head:
                continue  # without a headline to tell them apart, the first part is the headline
            return _cited(part, outlets)
    return None


def plausible_site_name(name: str | None, headline: str, outlets: Iterable[Outlet] = ()) -> str | None:
    """A guessed site name, unless it is (part of) the headline or not shaped like an outlet."""
    if not name or len(name.strip()) > 60:
        return None
    key, head = _folded_key(name), _folded_key(headline) if headline else ""
    if head and (key == head or key in head or head in key):
        return None
    return name.strip() if _is_outlet_name(name, outlets) or _ACRONYM_RE.fullmatch(name.strip()) else None


def _cited(name: str, outlets: Iterable[Outlet]) -> str:
    outlet = known_outlet(name, outlets)
    return outlet.name if outlet and not re.search(r"\.\w+$", name) else name.strip()


def infer_source(text: str, outlets: Iterable[Outlet] = (), lines: list[str] | None = None) -> str | None:
    """The outlet the text names for itself, or None.

    In order: a domain in brackets ('(Thanhuytphcm.vn) - ...'), a closing 'Theo X' or
    'Nguồn: X', a closing line naming an outlet ('Tuổi trẻ Thủ đô'), the most frequent
    photo credit that names an outlet ('(Ảnh: Kinh tế và Đô thị)')."""
    outlets = tuple(outlets)
    match = _DATELINE_DOMAIN_RE.search(text)
    if match:
        return match.group(1)
    lines = clean_lines(text) if lines is None else lines
    for line in lines[:4]:
        named = _DATELINE_NAME_RE.match(line)
        if named and _is_dateline_outlet(named.group(1), outlets):
            return _cited(named.group(1), outlets)
    for line in reversed(lines[-3:]):
        cited = _CITED_RE.match(line)
        if cited and _is_outlet_name(cited.group(1), outlets):
            return _cited(cited.group(1), outlets)
    if len(lines) >= 2 and _is_outlet_name(lines[-1], outlets) and len(lines[-1]) <= 60:
        return _cited(lines[-1], outlets)
    credits = Counter(m.group(1).strip() for line in lines for m in [_CREDIT_RE.search(line)] if m)
    for name, _count in credits.most_common():
        if _is_outlet_name(name, outlets):
            return _cited(name, outlets)
    return None


def infer_author(text: str, outlets: Iterable[Outlet] = (), lines: list[str] | None = None) -> str | None:
    """The closing byline when it names a person ('Kim Thành'), not an outlet."""
    outlets = tuple(outlets)
    _lines, byline = split_byline(clean_lines(text) if lines is None else lines)
    if not byline or len(byline.split()) < 2 or not _is_person_name(byline):
        return None
    if known_outlet(byline, outlets) or _CITED_RE.match(byline):
        return None
    return byline


# --- all together -----------------------------------------------------------------------


@dataclass(frozen=True)
class TextMetadata:
    """What the text itself says about the article (None where it says nothing)."""

    title: str | None
    date: dt.date | None
    source: str | None
    author: str | None


FIELDS = ("title", "date", "source", "author")


def infer_metadata(
    text: str,
    outlets: Iterable[Outlet] = (),
    today: dt.date | None = None,
    fields: Iterable[str] = FIELDS,
    lines: list[str] | None = None,
    header: dt.date | None = None,
) -> TextMetadata:
    """Title, date, source and author read from an article's text (only ``fields``;
    the others are None). ``lines`` are the text's clean_lines, when already known;
    ``header`` a date found in a page's header, outside the text."""
    outlets = tuple(outlets)
    wanted = set(fields)
    lines = clean_lines(text) if lines is None else lines
    return TextMetadata(
        title=infer_title(text, lines=lines) if "title" in wanted else None,
        date=infer_date(text, today, lines, header) if "date" in wanted else None,
        source=infer_source(text, outlets, lines) if "source" in wanted else None,
        author=infer_author(text, outlets, lines) if "author" in wanted else None,
    )
