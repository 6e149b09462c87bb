"""What a question asks: its kind (who, when, how many, ...) from its Vietnamese question words,
typed with or without diacritics, and the kind of phrase that would answer it.

Pure functions: text in, a ``QuestionAnalysis`` out.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass

from bot.text.normalize import fold_accents, has_diacritics, normalize


class QuestionKind(enum.StrEnum):
    WHO = "who"
    WHEN = "when"
    WHERE = "where"
    HOW_MANY = "how_many"
    WHICH = "which"
    WHAT = "what"
    WHY_HOW = "why_how"
    YES_NO = "yes_no"
    OTHER = "other"  # no question word: a topic or a name typed as a search


class Expected(enum.StrEnum):
    """The kind of phrase that answers a question."""

    NUMBER = "number"  # a number with its unit, an amount of money, a percentage
    DATE = "date"  # a date, a day, a year or a time of day
    PERSON = "person"
    PLACE = "place"
    ORGANISATION = "organisation"
    NONE = "none"  # a clause or a sentence (what, why, how, yes-no)


@dataclass(frozen=True)
class QuestionAnalysis:
    kind: QuestionKind
    expected: Expected
    cue: str  # the question words found (folded), "" when none
    unit: str = ""  # for a number: the counted noun asked about, folded ("dang vien"), "money" or ""


# Question words, written with diacritics and matched on the lower-cased question; a question
# typed without diacritics is matched with the same patterns folded (đ -> d). The first rule that
# matches decides: "ngày bao nhiêu" asks a date, "bao nhiêu" a number.
_ORG_NOUNS = (
    r"(?:đội|clb|câu lạc bộ|công ty|tập đoàn|ngân hàng|đơn vị|cơ quan|tổ chức|trường|trường đại học|đại học|"
    r"bệnh viện|bộ|sở|hãng|doanh nghiệp|đảng|tỉnh ủy|thành ủy|hội|quỹ|nhãn hàng|thương hiệu|ban)"
)
_PLACE_NOUNS = (
    r"(?:tỉnh|thành phố|tp|huyện|quận|xã|phường|nước|quốc gia|địa phương|địa điểm|nơi|vùng|khu vực|sân|bang|"
    r"châu|thủ đô|thị trấn|làng|hang|đảo|biển|sông)"
)
_PERSON_NOUNS = (
    r"(?:người|ông|bà|vị|cầu thủ|hlv|thủ tướng|chủ tịch|giám đốc|tác giả|ca sĩ|nhân vật|ứng viên|đồng chí|"
    r"giáo sư|bác sĩ|nhà khoa học|chuyên gia|diễn viên|vận động viên|nữ|nam|anh|chị|thí sinh|học sinh)"
)

_RULE_TEXT: tuple[tuple[QuestionKind, Expected, str], ...] = (
    (
        QuestionKind.WHEN,
        Expected.DATE,
        r"\b(?:khi nào|bao giờ|lúc nào|hồi nào|ngày nào|ngày bao nhiêu|ngày mấy|năm nào|năm bao nhiêu|"
        r"tháng nào|tháng mấy|thời gian nào|thời điểm nào|mấy giờ|giờ nào|dịp nào|tuần nào|quý nào)\b",
    ),
    (QuestionKind.HOW_MANY, Expected.NUMBER, r"\b(?:bao nhiêu|bao lâu|bao xa|tuổi nào|độ tuổi nào)\b"),
    (QuestionKind.WHERE, Expected.PLACE, r"\b(?:ở đâu|tại đâu|đến đâu|đi đâu|từ đâu|về đâu|đâu)\s*\??$"),
    (QuestionKind.WHERE, Expected.PLACE, r"\b(?:ở đâu|tại đâu|nơi nào|địa điểm nào|chỗ nào)\b"),
    (QuestionKind.WHERE, Expected.PLACE, rf"\b{_PLACE_NOUNS} nào\b"),
    (QuestionKind.WHICH, Expected.ORGANISATION, rf"\b{_ORG_NOUNS} nào\b"),
    (QuestionKind.WHO, Expected.PERSON, r"\b(?:là ai|ai|tên gì|tên là gì|họ tên)\b"),
    (QuestionKind.WHO, Expected.PERSON, rf"\b{_PERSON_NOUNS} nào\b"),
    (QuestionKind.WHY_HOW, Expected.NONE, r"\b(?:vì sao|tại sao|do đâu|vì đâu|lý do|nguyên nhân)\b"),
    (QuestionKind.WHY_HOW, Expected.NONE, r"\b(?:như thế nào|thế nào|ra sao|làm sao|bằng cách nào|cách nào|như nào)\b"),
    (QuestionKind.YES_NO, Expected.NONE, r"\b(?:có|đã|được|phải)\b.*\b(?:không|chưa|phải không)\s*\??$"),
    (QuestionKind.WHAT, Expected.NONE, r"\b(?:là gì|cái gì|những gì|gì)\b"),
    (QuestionKind.WHICH, Expected.NONE, r"\bnào\b"),
)
_RULES = tuple(
    (kind, expected, re.compile(text), re.compile(fold_accents(text))) for kind, expected, text in _RULE_TEXT
)

# "mấy" asks a number; typed without diacritics it is "may", which is also "máy" (machine) and
# "may" (luck, sewing): only a "may" before a counted noun counts.
_MAY_ACCENTED = re.compile(r"(?<!\w)mấy(?!\w)")
_MAY_FOLDED = re.compile(
    r"\bmay (?:nguoi|ngay|nam|thang|tuan|lan|tran|ban|diem|ty|trieu|nghin|tram|km|con|chiec|doi|"
    r"tinh|noi|nhom|muc|loai|vong|cap|giai|so|phan|gio)\b"
)
# the counted noun after "bao nhiêu" / "mấy" (folded): "bao nhiêu đảng viên" -> "dang vien"
_UNIT_AFTER = re.compile(r"\b(?:bao nhieu|may)\s+((?:[^\W\d_]+)(?:\s+[^\W\d_]+)?)")
_UNIT_STOP = frozenset({"la", "thi", "va", "o", "tai", "trong", "khi", "de", "so", "voi", "cua", "da", "duoc", "co"})
_MONEY = frozenset({"gia", "tien", "chi phi", "von", "luong", "doanh thu", "loi nhuan", "lai", "phi"})


def question_key(text: str) -> str:
    """The question folded and lower-cased with single spaces: what the rules are matched on."""
    return re.sub(r"\s+", " ", fold_accents(normalize(text)).lower()).strip()


def analyze_question(text: str) -> QuestionAnalysis:
    """The kind of ``text`` and what would answer it."""
    key = question_key(text)
    accented = has_diacritics(text)
    lowered = re.sub(r"\s+", " ", normalize(text).lower()).strip()
    for kind, expected, exact, folded in _RULES:
        match = exact.search(lowered) if accented else folded.search(key)
        if match and not (kind is QuestionKind.WHO and match.group(0) == "ai" and not _is_question_ai(text)):
            return QuestionAnalysis(kind, expected, fold_accents(match.group(0)).strip(" ?"), _unit(key))
        if kind is QuestionKind.HOW_MANY and _asks_how_many(text, key):
            return QuestionAnalysis(QuestionKind.HOW_MANY, Expected.NUMBER, "may", _unit(key))
    return QuestionAnalysis(QuestionKind.OTHER, Expected.NONE, "")


def _unit(key: str) -> str:
    """What a how-many question counts: the noun after its question word, or "money" for a price."""
    match = _UNIT_AFTER.search(key)
    words = [w for w in (match.group(1).split() if match else []) if w not in _UNIT_STOP][:2]
    if words and (words[0] not in _UNIT_STOP):
        return " ".join(words)
    return "money" if any(re.search(rf"\b{m}\b", key) for m in _MONEY) else ""


def _asks_how_many(text: str, key: str) -> bool:
    """'mấy' (how many) in the question; typed without diacritics, a 'may' before a counted noun."""
    if has_diacritics(text):
        return _MAY_ACCENTED.search(normalize(text).lower()) is not None
    return _MAY_FOLDED.search(key) is not None


def _is_question_ai(text: str) -> bool:
    """'ai' folded is the question word "who" when the question has it as 'ai' or 'Ai' (not
    'ái', 'ải', nor 'AI' the technology)."""
    return re.search(r"(?<!\w)[aA]i(?!\w)", normalize(text)) is not None
