"""Turning the files a newsroom has into articles: saved web pages, text files, JSON Lines.

- HTML pages: trafilatura extracts the article (no navigation, ads, comments or related
  lists) and its metadata (og:title, article:published_time, author, site name).
- .txt/.md: optional YAML front matter; what it does not give is read from the text.
- .jsonl/.jsonl.gz: one article a line (title, text, date, url, source; other fields kept).

Whatever is read from the text rather than given is listed in the article's ``inferred``.
Each bad file (or line) becomes a LoadProblem with its name and reason; the others load.
Articles come back without ids: the corpus store gives them theirs.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import yaml

from bot.corpus.article import Article, ArticleError, LoadProblem
from bot.corpus.loading import article_from_record, load_jsonl_file, parse_date, split_front_matter
from bot.corpus.metadata import (
    FIELDS,
    Outlet,
    infer_metadata,
    known_outlet,
    outlet_from_page_title,
    parse_date_text,
    plausible_site_name,
)
from bot.text.cleaning import clean_lines

log = logging.getLogger(__name__)

HTML_SUFFIXES = (".html", ".htm", ".xhtml", ".shtml")
TEXT_SUFFIXES = (".txt", ".md")
JSONL_SUFFIXES = (".jsonl", ".jsonl.gz")
INPUT_SUFFIXES = HTML_SUFFIXES + TEXT_SUFFIXES + JSONL_SUFFIXES
MIN_PAGE_ARTICLE_CHARS = 100  # less than this after extraction: the page holds no article
_SNIFF_BYTES = 8192


def load_outlets(path: Path) -> tuple[Outlet, ...]:
    """Known outlets from config/outlets.yaml; a missing file means none are known."""
    if not path.is_file():
        return ()
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    return tuple(
        Outlet(str(item["name"]), tuple(str(d).lower() for d in item.get("domains") or ()))
        for item in data.get("outlets") or ()
        if isinstance(item, dict) and item.get("name")
    )


# --- finding the input files ------------------------------------------------------------


@dataclass
class InputFiles:
    """The files to read, the paths that could not be used, and how many were passed over."""

    files: list[Path]
    problems: list[LoadProblem]
    ignored: int = 0


def _supported(path: Path) -> bool:
    return path.name.lower().endswith(INPUT_SUFFIXES)


def input_files(paths: Iterable[Path]) -> InputFiles:
    """Files named on the command line, and the supported files of folders (recursively).

    A missing path or an unsupported file named explicitly is a problem; other kinds of file
    inside a folder (a saved page's images and scripts) are passed over and counted."""
    found = InputFiles([], [])
    for path in paths:
        if not path.exists():
            found.problems.append(LoadProblem(str(path), "no such file or folder"))
        elif path.is_dir():
            for child in sorted(p for p in path.rglob("*") if p.is_file()):
                hidden = any(part.startswith(".") for part in child.relative_to(path).parts)
                if _supported(child) and not hidden:
                    found.files.append(child)
                else:
                    found.ignored += 1
        elif _supported(path):
            found.files.append(path)
        else:
            found.problems.append(
                LoadProblem(str(path), "unsupported file type (expected " + ", ".join(INPUT_SUFFIXES) + ")")
            )
    unique = list(dict.fromkeys(p.resolve() for p in found.files))
    found.files = unique
    return found


# --- bytes to text ----------------------------------------------------------------------


def check_bytes(data: bytes) -> None:
    """Refuse an empty or binary file with a plain reason."""
    if not data.strip():
        raise ArticleError("empty file")
    head = data[:_SNIFF_BYTES]
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return
    if b"\0" in head or sum(b < 9 or 13 < b < 32 for b in head) > len(head) // 20:
        raise ArticleError("binary file, not text")


def decode_text(data: bytes) -> str:
    """UTF-8 (or UTF-16 with a byte-order mark) text; anything else is an error."""
    check_bytes(data)
    try:
        if data.startswith((b"\xff\xfe", b"\xfe\xff")):
            return data.decode("utf-16")
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ArticleError(f"not UTF-8 text (byte {exc.start})") from None


# --- filling in what the text says ------------------------------------------------------


def complete(
    article: Article, outlets: Iterable[Outlet] = (), today: dt.date | None = None, header: dt.date | None = None
) -> Article:
    """The article with its missing title, date, source and author read from its text,
    each such field added to ``inferred``. A field the text does not give stays empty.
    ``header``: a date a page shows outside the article's text (its header)."""
    lines = clean_lines(article.text)
    if not lines:
        raise ArticleError("no article text")
    missing = [name for name in FIELDS if not getattr(article, name)]
    found = infer_metadata(article.text, outlets, today, missing, lines, header)
    changes: dict[str, object] = {}
    inferred = list(article.inferred)
    for name in missing:
        value = getattr(found, name)
        if value:
            changes[name] = value
            if name not in inferred:
                inferred.append(name)
    if not (changes.get("title") or article.title):
        raise ArticleError("no title and none could be read from the text")
    return dataclasses.replace(article, inferred=tuple(inferred), **changes)


# --- readers by kind ----------------------------------------------------------------------


def _source_from_url(url: str | None, outlets: Iterable[Outlet]) -> str | None:
    host = urlsplit(url).hostname if url else None
    if not host:
        return None
    host = re.sub(r"^www\d?\.", "", host.lower())
    outlet = known_outlet(host, outlets)
    return outlet.name if outlet else host


@dataclass(frozen=True)
class PageFacts:
    """What a page says outside its article: <title>, og:site_name, the first whole date its
    visible text shows (a header's 'Thứ Năm, ngày 12 tháng 1 năm 2023')."""

    title: str = ""
    site_name: str = ""
    header_date: dt.date | None = None


def page_facts(data: bytes, today: dt.date | None = None, max_nodes: int = 400) -> PageFacts:
    """The page's title, og:site_name and first shown date (in its first ``max_nodes`` texts)."""
    import lxml.html

    try:
        data.decode("utf-8")
        parser = lxml.html.HTMLParser(encoding="utf-8")
    except UnicodeDecodeError:
        parser = None  # the page's own charset
    try:
        tree = lxml.html.fromstring(data.removeprefix(b"\xef\xbb\xbf"), parser=parser)
    except (ValueError, TypeError, lxml.etree.ParserError):
        return PageFacts()
    title = " ".join((tree.findtext(".//title") or "").split())
    site = tree.xpath('//meta[@property="og:site_name"]/@content')
    texts = tree.xpath("//body//text()[not(ancestor::script) and not(ancestor::style) and not(ancestor::noscript)]")
    header = None
    for node in texts[:max_nodes]:
        value = " ".join(str(node).split())
        if 6 <= len(value) <= 80:
            header = parse_date_text(value, today)
            if header:
                break
    return PageFacts(title, " ".join(str(site[0]).split()) if site else "", header)


def article_from_html(data: bytes, where: str, outlets: Iterable[Outlet] = (), today: dt.date | None = None) -> Article:
    """An article from a saved news page (trafilatura's text and metadata), completed from
    its text. A page without article text (a home page, a broken file) is an ArticleError."""
    import trafilatura  # imported here: loading it takes a moment

    outlets = tuple(outlets)
    check_bytes(data)
    for name in ("trafilatura", "htmldate"):  # a page without an article is reported by us, once
        logging.getLogger(name).setLevel(logging.ERROR)
    try:
        doc = trafilatura.bare_extraction(
            data,
            with_metadata=True,
            include_comments=False,
            include_tables=True,
            favor_precision=True,
            date_extraction_params={"extensive_search": False, "original_date": True},
        )
    except Exception as exc:
        log.debug("trafilatura failed on %s", where, exc_info=True)
        raise ArticleError(f"cannot read the page ({type(exc).__name__})") from None
    text = (getattr(doc, "text", None) or "") if doc is not None else ""
    title = (getattr(doc, "title", None) or "").strip()
    lines = clean_lines(text, title or None)
    if sum(len(line) for line in lines) < MIN_PAGE_ARTICLE_CHARS:
        raise ArticleError("no article found in the page")
    url = getattr(doc, "url", None) or None
    try:
        date = parse_date(getattr(doc, "date", None))
    except ArticleError:
        date = None
    if date and today and date > today:
        date = None
    facts = page_facts(data, today)
    header = facts.header_date if facts.header_date and not (today and facts.header_date > today) else None
    url_outlet = _source_from_url(url, outlets)
    known = known_outlet(url_outlet, outlets) if url_outlet else None
    source = (
        facts.site_name
        or outlet_from_page_title(facts.title, title, outlets)
        or (known.name if known else None)
        or plausible_site_name(getattr(doc, "sitename", None), title or facts.title, outlets)
    )
    record = {
        "title": title,
        "text": "\n\n".join(lines),
        "date": date,
        "url": url,
        "source": source,
        "author": getattr(doc, "author", None),
    }
    article = complete(article_from_record(record, "", where), outlets, today, header)
    if not article.source and url_outlet:  # the text names no outlet either: the site's host
        article = dataclasses.replace(article, source=url_outlet)
    return article


def article_from_text(
    text: str,
    where: str,
    outlets: Iterable[Outlet] = (),
    today: dt.date | None = None,
    notes: list[LoadProblem] | None = None,
) -> Article:
    """An article from a text with optional YAML front matter, completed from its body.
    With ``notes``, a front-matter date that cannot be read is noted there and the date is
    read from the text instead (else it is an ArticleError)."""
    data, body = split_front_matter(text)
    record = dict(data)
    if "id" in record:
        record["original_id"] = record.pop("id")
    record["text"] = body.strip("\n") + "\n"
    return complete(article_from_record(record, "", where, notes), outlets, today)


def read_input(
    path: Path, outlets: Iterable[Outlet] = (), today: dt.date | None = None
) -> tuple[list[Article], list[LoadProblem]]:
    """The articles in one input file and the problems with it (or with its lines); a
    problem with ``loaded`` set names a field of an article that loaded all the same."""
    outlets = tuple(outlets)
    name = path.name.lower()
    try:
        if name.endswith(JSONL_SUFFIXES):
            return read_jsonl(path, outlets, today)
        data = path.read_bytes()
        if name.endswith(HTML_SUFFIXES):
            return [article_from_html(data, str(path), outlets, today)], []
        notes: list[LoadProblem] = []
        return [article_from_text(decode_text(data), str(path), outlets, today, notes)], notes
    except ArticleError as exc:
        return [], [LoadProblem(str(path), str(exc))]
    except OSError as exc:
        return [], [LoadProblem(str(path), f"cannot read: {exc.strerror or exc}")]


def read_jsonl(
    path: Path, outlets: Iterable[Outlet] = (), today: dt.date | None = None
) -> tuple[list[Article], list[LoadProblem]]:
    """Articles from a JSON Lines export; a bad line is reported with its number."""
    if not path.name.endswith(".gz"):
        with open(path, "rb") as handle:
            check_bytes(handle.read(_SNIFF_BYTES))

    def build(value: object, _default_id: str, where: str, notes: list[LoadProblem]) -> Article:
        if isinstance(value, dict) and "id" in value:
            value = {("original_id" if k == "id" else k): v for k, v in value.items()}
        return complete(article_from_record(value, "", where, notes), outlets, today)

    articles, problems = load_jsonl_file(path, build)
    if not articles and not problems:
        problems.append(LoadProblem(str(path), "empty file"))
    return articles, problems
