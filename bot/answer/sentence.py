"""The sentence of a passage that answers a question, and the answer phrase in it.

A passage is judged by its best sentence: the share of the question's weight it holds, and
whether a phrase of the kind the question asks for (a number, a date, a name) that the
question does not already contain stands in it. Pure functions over text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from bot.answer.question import Expected, QuestionAnalysis
from bot.search.proximity import TermFinder
from bot.text.normalize import fold_accents, split_sentences


@dataclass(frozen=True)
class AnswerSentence:
    """The best sentence of a passage for a question."""

    sentence: str
    phrase: str | None  # the number, date or name that answers, when one is found
    share: float  # of the question's weight found in the sentence (0..1)
    start: int  # where the sentence starts in the passage text
    strength: float = 0.0  # of the phrase: 2 a number with the asked unit, 1 a clear match, 0.5 a weak one

    def to_json(self) -> dict[str, str | None]:
        return {"sentence": self.sentence, "phrase": self.phrase}


_UPPER = "A-ZÀÁẢÃẠĂẰẮẲẴẶÂẦẤẨẪẬĐÈÉẺẼẸÊỀẾỂỄỆÌÍỈĨỊÒÓỎÕỌÔỒỐỔỖỘƠỜỚỞỠỢÙÚỦŨỤƯỪỨỬỮỰỲÝỶỸỴ"
_LOWER = _UPPER.lower().replace("a-z", "a-z")
_NAME_WORD = rf"[{_UPPER}][{_LOWER}]+"  # "Nguyễn", "Lệ"; not an acronym ("HĐND")
_NAME_RE = re.compile(rf"(?<![\w.]){_NAME_WORD}(?:[ -]{_NAME_WORD}){{1,5}}(?!\w)")
_ACRONYM_RE = re.compile(rf"(?<!\w)[{_UPPER}]{{2,}}(?:[ -][{_UPPER}0-9]{{1,}})*(?!\w)")

_UNIT = (
    r"%|phần trăm|tỷ|tỉ|triệu|nghìn|ngàn|trăm|đồng|usd|euro|km|m2|m|ha|kg|tấn|lít|người|ca|bệnh nhân|trường hợp|"
    r"học sinh|sinh viên|đảng viên|đồng chí|doanh nghiệp|công ty|xe|chiếc|căn|phòng|ngày|tháng|năm|tuần|giờ|phút|"
    r"giây|lần|bàn|điểm|huy chương|vị trí|hạng|tuổi|hộ|xã|tỉnh|dự án|đơn vị|bộ|sản phẩm|con|cây|tập|mét|lượt"
)
_NUMBER_RE = re.compile(
    rf"(?<![\w/.,])\d+(?:[.,]\d+)*(?:\s*(?:{_UNIT})(?:\s+(?:{_UNIT}))?)?(?![\w/])|"
    r"(?<!\w)(?:hai|ba|bốn|năm|sáu|bảy|tám|chín|mười)\s+(?:người|ngày|tháng|năm|lần|đội|nhóm)(?!\w)",
    re.IGNORECASE,
)
_DATE_RE = re.compile(
    r"(?<![\w/])(?:(?:sáng|chiều|tối|trưa|đêm|rạng sáng|ngày|hôm)\s+)?"
    r"(?:\d{1,2}\s*/\s*\d{1,2}(?:\s*/\s*\d{2,4})?|\d{1,2}\s+tháng\s+\d{1,2}(?:\s+năm\s+\d{4})?)(?![\w/])|"
    r"(?<!\w)(?:tháng\s+\d{1,2}(?:\s*/\s*\d{4}|\s+năm\s+\d{4})?|năm\s+\d{4}|(?:sáng|chiều|tối|trưa|đêm)\s+(?:nay|qua|mai)|"
    r"\d{1,2}\s*(?:h|giờ)\s*\d{0,2}(?:\s*phút)?|(?:thứ\s+(?:hai|ba|tư|năm|sáu|bảy)|chủ nhật))(?!\w)",
    re.IGNORECASE,
)
_PERSON_CUE = re.compile(
    r"(?:ông|bà|anh|chị|em|cô|thầy|đồng chí|HLV|tiền đạo|thủ môn|tiền vệ|hậu vệ|cầu thủ|ca sĩ|diễn viên|tác giả|"
    r"bác sĩ|PGS|TS|GS|ThS|Thủ tướng|Chủ tịch|Bộ trưởng|Thứ trưởng|Giám đốc|Tổng giám đốc|Bí thư|Phó|Trưởng|"
    r"Tổng thống|Đại tá|Thượng tá|Trung tá|Thiếu tướng|Trung tướng|luật sư|nhà báo)\s+$",
    re.IGNORECASE,
)
_PLACE_CUE = re.compile(
    r"(?:tại|ở|tỉnh|thành phố|TP\.?|huyện|quận|thị xã|xã|phường|thị trấn|nước|đến|sang|về|từ)\s+$", re.IGNORECASE
)
_ORG_START = re.compile(
    r"^(?:Công ty|Tập đoàn|Ngân hàng|Bộ|Sở|Ủy ban|UBND|HĐND|CLB|Câu lạc bộ|Đội tuyển|Trường|Bệnh viện|Viện|Hội|"
    r"Tổng cục|Cục|Đảng ủy|Quỹ|Hãng|Tổ chức|Liên đoàn|Học viện|Đại học|Công an|Tòa án|Viện kiểm sát)\b"
)
_SENTENCE_START_WORDS = frozenset({"theo", "trong", "tại", "sau", "khi", "với", "đây", "ngoài", "bên", "hiện", "từ"})


_FAMILY_NAMES = frozenset(
    [
        "nguyễn",
        "trần",
        "lê",
        "phạm",
        "hoàng",
        "huỳnh",
        "phan",
        "vũ",
        "võ",
        "đặng",
        "bùi",
        "đỗ",
        "hồ",
        "ngô",
        "dương",
        "lý",
        "lương",
        "trịnh",
        "đinh",
        "đào",
        "mai",
        "cao",
        "lâm",
        "hà",
        "tạ",
        "thái",
        "châu",
        "quách",
        "kiều",
        "vương",
        "doãn",
        "phùng",
        "tô",
        "triệu",
        "chu",
        "lưu",
        "la",
        "từ",
        "khổng",
        "mạc",
        "đoàn",
        "thân",
        "trương",
        "hứa",
        "tăng",
        "lại",
        "văn",
    ]
)
_PLACES = frozenset({"hà nội", "hồ chí minh", "hà giang", "hà nam", "hà tĩnh", "cao bằng", "lâm đồng", "tây ninh"})
_MONEY_UNITS = frozenset({"dong", "trieu", "ty", "ti", "nghin", "ngan", "usd", "euro", "yen", "te", "won", "bang"})
_NUMBER_SPAN_RE = re.compile(r"(?<![\w/.,])\d+(?:[.,]\d+)*(?:\s*%)?(?![\w/])")
NEAR_CHARS = 40  # question words this close to a phrase count for it
AFTER_SHARE = 0.5  # ... those after it at this share
_WORD_RE = re.compile(r"[^\W_]+|%")


def _number_candidates(sentence: str, unit: str) -> list[tuple[int, str, float]]:
    """Numbers with what follows them: strength 2 when followed by the asked unit (or money
    when a price is asked), 1 with a known unit, 0.5 bare."""
    found: list[tuple[int, str, float]] = []
    wanted = unit.split()
    for m in _NUMBER_SPAN_RE.finditer(sentence):
        if _is_date_part(m, sentence):
            continue
        following = []  # the words right after the number, up to punctuation
        position = m.end()
        for word in _WORD_RE.finditer(sentence, m.end(), min(len(sentence), m.end() + 40)):
            if sentence[position : word.start()].strip() or len(following) == 4:
                break
            following.append(word)
            position = word.end()
        folded = [fold_accents(w.group(0)).lower() for w in following]
        end, strength = m.end(), 0.25 if unit else 0.5
        if m.group(0).endswith("%"):
            strength = 1.0
        if unit == "money":
            hit = next((i for i, w in enumerate(folded[:2]) if w in _MONEY_UNITS), None)
        else:
            hit = next((i for i, w in enumerate(folded[:2]) if wanted and w == wanted[0]), None)
        if hit is not None:
            strength = 2.0
            last = hit + (len(wanted) if unit != "money" and folded[hit : hit + len(wanted)] == wanted else 1)
            end = following[last - 1].end()
        elif following and _UNIT_RE.fullmatch(following[0].group(0).lower()):
            strength = max(strength, 1.0)
            end = following[0].end()
        found.append((m.start(), sentence[m.start() : end], strength))
    return found


_UNIT_RE = re.compile(_UNIT)


def _candidates(sentence: str, expected: Expected, unit: str = "") -> list[tuple[int, str, float]]:
    """(position, phrase, strength) of every phrase of the expected kind in the sentence."""
    if expected is Expected.NUMBER:
        return _number_candidates(sentence, unit)
    if expected is Expected.DATE:
        return [
            (m.start(), m.group(0).strip(), 1.0 if re.search(r"\d", m.group(0)) else 0.5)
            for m in _DATE_RE.finditer(sentence)
        ]
    found: list[tuple[int, str, float]] = []
    for m in _NAME_RE.finditer(sentence):
        name = m.group(0)
        before = sentence[: m.start()]
        words = name.split()
        if expected is Expected.PERSON:
            if _ORG_START.match(name):
                continue
            start = next(
                (i for i, w in enumerate(words) if w.lower() in _FAMILY_NAMES and 2 <= len(words) - i <= 4), None
            )
            if start is not None:
                person = " ".join(words[start:])
                if person.lower() not in _PLACES:
                    found.append((m.start() + name.index(person), person, 1.0))
            elif _PERSON_CUE.search(before):
                found.append((m.start(), name, 1.0))
        elif expected is Expected.PLACE:
            if _PLACE_CUE.search(before) and not _ORG_START.match(name):
                found.append((m.start(), name, 1.0))
        elif expected is Expected.ORGANISATION and _ORG_START.match(name):
            found.append((m.start(), name, 1.0))
    if expected is Expected.ORGANISATION:
        found.extend((m.start(), m.group(0), 0.5) for m in _ACRONYM_RE.finditer(sentence))
    return found


def _is_date_part(match: re.Match[str], sentence: str) -> bool:
    """A number that is the day, month or year of a date ("15/10", "năm 2020"), not an amount."""
    after = sentence[match.end() : match.end() + 1]
    before = sentence[max(0, match.start() - 5) : match.start()].lower()
    return after == "/" or (before.endswith("năm ") and match.group(0).isdigit()) or before.endswith("/")


def _folded_words(text: str) -> set[str]:
    return set(fold_accents(text).lower().split())


def answer_phrase(
    sentence: str,
    analysis: QuestionAnalysis,
    question: str,
    finder: TermFinder | None = None,
    hits: list[tuple[int, str]] | None = None,
) -> tuple[str, float] | None:
    """The phrase of the expected kind in ``sentence`` that the question does not contain, and its
    strength: the strongest, nearest the question's words when several are found. ``hits`` are
    the question's terms in the sentence by offset, when already known (``finder`` finds them)."""
    if analysis.expected is Expected.NONE:
        return None
    asked = _folded_words(question)
    phrases = [c for c in _candidates(sentence, analysis.expected, analysis.unit) if not _folded_words(c[1]) <= asked]
    if not phrases:
        return None
    strongest = max(c[2] for c in phrases)
    phrases = [c for c in phrases if c[2] == strongest]
    if len(phrases) == 1 or finder is None:
        return phrases[0][1], strongest
    if hits is None:
        hits = finder.match(sentence).within(0, len(sentence))
    weights = finder.weights
    return max(phrases, key=lambda c: _nearby_weight(c, hits, weights))[1], strongest


def _nearby_weight(
    candidate: tuple[int, str, float], hits: list[tuple[int, str]], weights: dict[str, float], reach: int = NEAR_CHARS
) -> float:
    """The weight of the distinct question terms within ``reach`` characters around a phrase
    (outside it: its own words do not count); those after it count less (Vietnamese puts the verb
    before the number it counts: "kết nạp 64 đảng viên")."""
    start, end = candidate[0], candidate[0] + len(candidate[1])
    before = {term for at, term in hits if start - reach <= at < start}
    after = {term for at, term in hits if end <= at <= end + reach} - before
    return sum(weights[t] for t in before) + AFTER_SHARE * sum(weights[t] for t in after) - 1e-6 * start


def sentences_of(text: str) -> list[tuple[int, str]]:
    """(start, sentence) for each sentence of a passage (lines, then sentence ends)."""
    found: list[tuple[int, str]] = []
    offset = 0
    for line in text.split("\n"):
        position = offset
        for sentence in split_sentences(line):
            start = text.find(sentence, position)
            found.append((start, sentence))
            position = start + len(sentence)
        offset += len(line) + 1
    return found


def best_sentence(
    text: str, finder: TermFinder, total: float, analysis: QuestionAnalysis, question: str, phrase_weight: float = 0.5
) -> AnswerSentence | None:
    """The sentence of ``text`` that holds the most question weight, a phrase of the asked kind
    counting as ``phrase_weight`` times its strength; None for a text without sentences."""
    best: AnswerSentence | None = None
    best_score = -1.0
    weights = finder.weights
    sentences = sentences_of(text)
    in_sentences = finder.match(text).split([(start, start + len(sentence)) for start, sentence in sentences])
    for (start, sentence), found_hits in zip(sentences, in_sentences, strict=True):
        hits = [(at - start, term) for at, term in found_hits]
        share = sum(weights[t] for t in {term for _, term in hits}) / total if total > 0 else 0.0
        found = answer_phrase(sentence, analysis, question, finder, hits) if share > 0 else None
        phrase, strength = found if found else (None, 0.0)
        score = share + phrase_weight * strength
        if score > best_score:
            best, best_score = AnswerSentence(sentence, phrase, share, start, strength), score
    return best
