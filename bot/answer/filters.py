"""Date and source filters on answers: ``ask --since/--until/--source`` and, in chats, filters
at the end of a question ("... từ:2021-04-01 đến:2021-04-30 nguồn:dantri"; also typed
``tu:``, ``den:``, ``nguon:``). Pure: text in, a question and an ``ArticleFilter`` out.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
import unicodedata
from dataclasses import dataclass
from urllib.parse import urlsplit

from bot.corpus.article import Article, ArticleError
from bot.corpus.loading import parse_date
from bot.text.normalize import fold_accents

_KEYS = {"từ": "since", "tu": "since", "đến": "until", "den": "until", "nguồn": "source", "nguon": "source"}
_FILTER_RE = re.compile(r"(?:^|(?<=\s))(từ|tu|đến|den|nguồn|nguon)\s*:\s*", re.IGNORECASE)


class FilterError(ValueError):
    """A filter that cannot be read; ``key`` (since, until, source) and ``value`` say which."""

    def __init__(self, key: str, value: str):
        super().__init__(f"{key}: {value!r}")
        self.key = key
        self.value = value


def _compact(text: str) -> str:
    """'Dân trí' -> 'dantri': accent-free, lower case, no spaces or punctuation."""
    return re.sub(r"[\W_]+", "", fold_accents(unicodedata.normalize("NFC", text)).lower())


@dataclass(frozen=True)
class ArticleFilter:
    """Which articles may answer: published from ``since`` to ``until`` (both included),
    from a source whose name or web address holds ``source`` (accents, case and spaces do not
    matter: 'dantri' is 'Dân trí'). An empty filter lets every article through; an article
    of unknown date never passes a date filter."""

    since: dt.date | None = None
    until: dt.date | None = None
    source: str = ""

    def __bool__(self) -> bool:
        return bool(self.since or self.until or self.source)

    def matches(self, article: Article) -> bool:
        if self.since or self.until:
            if article.date is None:
                return False
            if self.since and article.date < self.since:
                return False
            if self.until and article.date > self.until:
                return False
        if self.source:
            wanted = _compact(self.source)
            host = urlsplit(article.url).hostname or "" if article.url else ""
            if not wanted or not (wanted in _compact(article.source or "") or wanted in _compact(host)):
                return False
        return True

    def merged(self, other: ArticleFilter) -> ArticleFilter:
        """This filter with ``other``'s fields where it has them."""
        return ArticleFilter(other.since or self.since, other.until or self.until, other.source or self.source)

    def to_json(self) -> dict[str, str | None]:
        return {
            "since": self.since.isoformat() if self.since else None,
            "until": self.until.isoformat() if self.until else None,
            "source": self.source or None,
        }


NO_FILTER = ArticleFilter()


def read_filter_date(key: str, value: str) -> dt.date:
    """A filter's date (2021-04-01, 1/4/2021, 01-04-2021); FilterError when it is none."""
    try:
        date = parse_date(value.strip())
    except ArticleError:
        date = None
    if date is None:
        raise FilterError(key, value)
    return date


def make_filter(since: str | None = None, until: str | None = None, source: str | None = None) -> ArticleFilter:
    """A filter from option values (``ask --since --until --source``); FilterError on a bad date."""
    return ArticleFilter(
        read_filter_date("since", since) if since else None,
        read_filter_date("until", until) if until else None,
        (source or "").strip(),
    )


def split_filters(text: str) -> tuple[str, ArticleFilter]:
    """The question without the filters at its end, and those filters.

    'Giá vàng hôm nay từ:2021-04-01 nguồn:dantri' -> ('Giá vàng hôm nay', since 2021-04-01,
    source 'dantri'). A source may be several words ('nguồn:Tuổi Trẻ'). A date that cannot be
    read is a FilterError. Text without filters comes back as it is."""
    text = unicodedata.normalize("NFC", text)
    matches = list(_FILTER_RE.finditer(text))
    if not matches:
        return text, ArticleFilter()
    found = ArticleFilter()
    for match, following in zip(matches, [*matches[1:], None], strict=True):
        key = _KEYS[match.group(1).lower()]
        value = text[match.end() : following.start() if following else len(text)].strip()
        if key == "source":
            found = dataclasses.replace(found, source=value.strip(" .,;?"))
        elif key == "since":
            found = dataclasses.replace(found, since=read_filter_date(key, value.rstrip(" .,;?")))
        else:
            found = dataclasses.replace(found, until=read_filter_date(key, value.rstrip(" .,;?")))
    return text[: matches[0].start()].strip(), found


def filter_text(filters: ArticleFilter) -> str:
    """The filters as a chat question ends with them: 'từ:2021-04-01 đến:2021-04-30 nguồn:dantri'."""
    parts = []
    if filters.since:
        parts.append(f"từ:{filters.since.isoformat()}")
    if filters.until:
        parts.append(f"đến:{filters.until.isoformat()}")
    if filters.source:
        parts.append(f"nguồn:{filters.source}")
    return " ".join(parts)
