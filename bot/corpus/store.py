"""Writing articles into the corpus folder as readable Markdown with YAML front matter,
and removing them. Every write is atomic (temporary file, fsync, rename), so an
interrupted run leaves either the whole article or none of it.
"""

from __future__ import annotations

import contextlib
import fcntl
import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import yaml

from bot.corpus.article import Article
from bot.files import TEMP_PREFIX, fsync_dir, write_atomic
from bot.text.normalize import fold_accents, normalize

_FIELDS = ("id", "title", "source", "date", "url", "author")


def slugify(title: str, max_chars: int = 60) -> str:
    """'Hà Nội khánh thành cầu Vĩnh Tuy' -> 'ha-noi-khanh-thanh-cau-vinh-tuy' (cut at a word)."""
    slug = re.sub(r"[^a-z0-9]+", "-", fold_accents(normalize(title)).lower()).strip("-")
    if len(slug) > max_chars:
        cut = slug.rfind("-", 0, max_chars + 1)
        slug = slug[: cut if cut > 0 else max_chars]
    return slug or "bai-viet"


def next_id(existing: Iterable[str]) -> str:
    """The number after the largest numeric id, zero-padded like the corpus ('005')."""
    numbers = [(int(i), len(i)) for i in existing if i.isdigit()]
    if not numbers:
        return "001"
    top = max(n for n, _ in numbers)
    width = max(3, max(w for _, w in numbers))
    return str(top + 1).zfill(width)


def article_document(article: Article, extra: dict[str, Any] | None = None) -> str:
    """The article as a Markdown file: front matter (metadata, ``inferred:``), blank line, text."""
    meta: dict[str, Any] = {name: getattr(article, name) for name in _FIELDS}
    meta["date"] = article.date.isoformat() if article.date else None
    meta["inferred"] = list(article.inferred)
    for key, value in {**article.extra, **(extra or {})}.items():
        if key not in meta and key != "text" and value is not None:
            meta[key] = value
    head = yaml.safe_dump(meta, allow_unicode=True, sort_keys=False, width=10**6, default_flow_style=False)
    body = article.text.strip("\n")
    return f"---\n{head}---\n{body}\n"


def file_name(article: Article) -> str:
    return f"{article.id}-{slugify(article.title)}.md"


def write_article(article: Article, corpus_dir: Path, extra: dict[str, Any] | None = None) -> Path:
    """Store a new article as ``<id>-<slug>.md`` in the corpus folder; returns its path."""
    corpus_dir.mkdir(parents=True, exist_ok=True)
    path = corpus_dir / file_name(article)
    if path.exists():
        raise FileExistsError(str(path))
    write_atomic(path, article_document(article, extra))
    return path


def remove_file(path: Path) -> None:
    """Delete an article's file for good (and make the deletion durable)."""
    path.unlink()
    fsync_dir(path.parent)


def remove_stale_temp_files(corpus_dir: Path) -> int:
    """Delete temporary files an interrupted write left behind; returns how many."""
    removed = 0
    for path in corpus_dir.glob(f"{TEMP_PREFIX}*"):
        with contextlib.suppress(OSError):
            path.unlink()
            removed += 1
    return removed


@contextlib.contextmanager
def corpus_lock(lock_file: Path) -> Iterator[None]:
    """One writer at a time (two adds at once would hand out the same ids)."""
    lock_file.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_file, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
