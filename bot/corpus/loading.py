"""Loading articles from the corpus: Markdown/text files with YAML front matter, and
JSON Lines exports (optionally gzipped).

A bad file (broken front matter, a bad date, not UTF-8, no text) is reported with its
name and the reason; the other files still load.
"""

from __future__ import annotations

import datetime as dt
import gzip
import hashlib
import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import yaml

from bot.corpus.article import Article, ArticleError, Corpus, LoadProblem
from bot.corpus.metadata import infer_title, parse_date_text

ARTICLE_SUFFIXES = (".md", ".txt", ".jsonl", ".jsonl.gz")


def parse_date(value: Any) -> dt.date | None:
    """A date from ISO text ('2020-08-04', '2020-08-04T09:00:00+07:00'), 'YYYYMMDD',
    'dd/mm/yyyy', a Vietnamese date ('Thứ Ba, ngày 30 tháng 11 năm 2021', '30/11/2021 08:15'),
    or a date/datetime object. None stays None; anything else is an error."""
    if value is None or value == "":
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    text = str(value).strip()
    try:
        if re.fullmatch(r"\d{8}", text):
            return dt.date(int(text[:4]), int(text[4:6]), int(text[6:]))
        match = re.fullmatch(r"(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})", text)
        if match:
            return dt.date(int(match.group(3)), int(match.group(2)), int(match.group(1)))
        return dt.date.fromisoformat(text[:10])
    except ValueError:
        pass
    written = parse_date_text(text)
    if written:
        return written
    raise ArticleError(f"bad date {text!r} (expected YYYY-MM-DD)")


def _optional_text(data: dict[str, Any], key: str) -> str | None:
    value = data.get(key)
    if value is None:
        return None
    value = str(value).strip()
    return value or None


UNKNOWN_DATE_NOTE = "loaded with an unknown date"


def article_from_record(record: Any, default_id: str, path: str, notes: list[LoadProblem] | None = None) -> Article:
    """An Article from a dict (front matter plus text, or one JSON line).

    A missing title is read from the text (``infer_title``, as ``add`` does) and listed in
    ``inferred``. A date that cannot be read is an ArticleError, or, with ``notes``, a note
    appended there (the article then has an unknown date)."""
    if not isinstance(record, dict):
        raise ArticleError("not a JSON object")
    text = record.get("text")
    if not isinstance(text, str) or not text.strip():
        raise ArticleError("no article text")
    title = _optional_text(record, "title") or ""
    inferred = record.get("inferred") or ()
    if isinstance(inferred, str):
        inferred = (inferred,)
    inferred = tuple(str(x) for x in inferred)
    if not title:
        title = infer_title(text) or ""
        if title and "title" not in inferred:
            inferred += ("title",)
    try:
        date = parse_date(record.get("date"))
    except ArticleError as exc:
        if notes is None:
            raise
        notes.append(LoadProblem(path, f"{exc}: {UNKNOWN_DATE_NOTE}", loaded=True))
        date = None
    known = {"id", "title", "text", "source", "date", "url", "author", "inferred"}
    return Article(
        id=str(record.get("id") or default_id).strip(),
        title=title,
        text=text,
        source=_optional_text(record, "source"),
        date=date,
        url=_optional_text(record, "url"),
        author=_optional_text(record, "author"),
        inferred=inferred,
        path=path,
        extra={k: v for k, v in record.items() if k not in known},
    )


class _FrontMatterLoader(yaml.SafeLoader):
    """YAML without implicit timestamps: dates stay text and go through parse_date."""


_FrontMatterLoader.yaml_implicit_resolvers = {
    first: [r for r in resolvers if r[0] != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}

_FRONT_MATTER_RE = re.compile(r"\A---[ \t]*\n(.*?)\n---[ \t]*(?:\n|\Z)", re.DOTALL)


def split_front_matter(text: str) -> tuple[dict[str, Any], str]:
    """YAML front matter (between '---' lines at the top) and the body after it."""
    text = text.lstrip("\ufeff")
    match = _FRONT_MATTER_RE.match(text)
    if not match:
        if text.startswith("---\n"):
            raise ArticleError("front matter is not closed with a '---' line")
        return {}, text
    try:
        data = yaml.load(match.group(1), Loader=_FrontMatterLoader) or {}
    except yaml.YAMLError as exc:
        raise ArticleError(f"broken front matter: {str(exc).splitlines()[0]}") from None
    if not isinstance(data, dict):
        raise ArticleError("front matter is not a mapping of keys to values")
    return data, text[match.end() :]


def default_article_id(path: Path) -> str:
    """A file's article id: its numeric prefix ('004-dai-hoi.md' -> '004') or its stem."""
    name = path.name
    for suffix in ARTICLE_SUFFIXES:
        if name.endswith(suffix):
            name = name[: -len(suffix)]
            break
    match = re.match(r"^(\d+)[-_ ]", name)
    return match.group(1) if match else name


def read_text_file(path: Path) -> str:
    """A file's text; a file that is not UTF-8 is an error, not mojibake."""
    try:
        return path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ArticleError(f"not UTF-8 text (byte {exc.start})") from None


def load_document_file(path: Path, notes: list[LoadProblem] | None = None) -> Article:
    """An article from a .md/.txt file with optional front matter (``notes``: see
    ``article_from_record``)."""
    data, body = split_front_matter(read_text_file(path))
    record = dict(data)
    record["text"] = body
    return article_from_record(record, default_article_id(path), str(path), notes)


def iter_jsonl(path: Path) -> Iterator[tuple[int, Any]]:
    """(line number, parsed value) for each non-empty line; a bad line yields an ArticleError."""
    opener = gzip.open if path.name.endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                yield number, json.loads(line)
            except json.JSONDecodeError as exc:
                yield number, ArticleError(f"not valid JSON ({exc.msg})")


def load_jsonl_file(
    path: Path, build: Callable[[Any, str, str, list[LoadProblem]], Article] | None = None
) -> tuple[list[Article], list[LoadProblem]]:
    """Articles from a JSON Lines export; bad lines are reported, the rest load.

    ``build(value, default_id, where, notes)`` makes each line's article (default:
    article_from_record); an ArticleError it raises is reported for that line, and what it
    appends to ``notes`` (a line loaded with an unknown date) is reported too."""
    build = build or article_from_record
    articles: list[Article] = []
    problems: list[LoadProblem] = []
    stem = default_article_id(path)
    try:
        for number, value in iter_jsonl(path):
            where = f"{path}:{number}"
            try:
                if isinstance(value, ArticleError):
                    raise value
                articles.append(build(value, f"{stem}:{number}", where, problems))
            except ArticleError as exc:
                problems.append(LoadProblem(where, str(exc)))
    except (OSError, UnicodeDecodeError, EOFError) as exc:
        problems.append(LoadProblem(str(path), f"cannot read: {exc}"))
    return articles, problems


def corpus_files(root: Path) -> list[Path]:
    """The article files under a folder (recursively, sorted), or the file itself."""
    if root.is_file():
        return [root]
    return sorted(
        p
        for p in root.rglob("*")
        if p.is_file()
        and p.name.endswith(ARTICLE_SUFFIXES)
        and not any(part.startswith(".") for part in p.relative_to(root).parts)
        and p.name.lower() != "readme.md"
    )


ParsedFiles = dict[Path, tuple[list[Article], list[LoadProblem]]]  # a corpus file's articles and problems


def load_corpus(root: Path, parsed: ParsedFiles | None = None) -> Corpus:
    """All articles under ``root``. Raises FileNotFoundError when ``root`` does not exist.

    ``parsed`` (a file's articles and problems by path) is filled as files are read and
    files already in it are not read again: loading after writing a few files (``add``)
    parses only those."""
    if not root.exists():
        raise FileNotFoundError(str(root))
    articles: list[Article] = []
    problems: list[LoadProblem] = []
    for path in corpus_files(root):
        if parsed is not None and path in parsed:
            found, bad = parsed[path]
        else:
            found, bad = _load_file(path)
            if parsed is not None:
                parsed[path] = found, bad
        articles.extend(found)
        problems.extend(bad)
    seen: set[str] = set()
    unique: list[Article] = []
    for article in articles:
        if article.id in seen:
            problems.append(LoadProblem(article.path or "?", f"duplicate article id {article.id!r}"))
            continue
        seen.add(article.id)
        unique.append(article)
    return Corpus(unique, problems)


def _load_file(path: Path) -> tuple[list[Article], list[LoadProblem]]:
    """The articles of one corpus file, or why it did not load."""
    if path.name.endswith((".jsonl", ".jsonl.gz")):
        return load_jsonl_file(path)
    notes: list[LoadProblem] = []
    try:
        return [load_document_file(path, notes)], notes
    except ArticleError as exc:
        return [], [LoadProblem(str(path), str(exc))]
    except OSError as exc:
        return [], [LoadProblem(str(path), f"cannot read: {exc.strerror or exc}")]
    except Exception as exc:  # noqa: BLE001 - one odd file must never stop the rest from loading
        return [], [LoadProblem(str(path), f"cannot load: {type(exc).__name__}: {exc}")]


def corpus_fingerprint(root: Path) -> str:
    """A hash of every corpus file's name and bytes: it changes when any article changes."""
    digest = hashlib.sha256()
    base = root if root.is_dir() else root.parent
    for path in corpus_files(root):
        digest.update(str(path.relative_to(base)).encode())
        digest.update(b"\0")
        with open(path, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
        digest.update(b"\0")
    return digest.hexdigest()
