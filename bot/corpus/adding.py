"""Adding input files to the corpus folder once each, and removing articles from it.

Each input article is checked against the corpus (and the articles added before it in
the same batch): a duplicate is skipped with the id of the article it repeats, a bad file
is reported with its reason, the others are stored under the next free ids.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from bot.corpus.article import Article, LoadProblem, same_id
from bot.corpus.dedup import Duplicate, DuplicateFinder, Fingerprint
from bot.corpus.ingest import input_files, read_input
from bot.corpus.loading import ParsedFiles, corpus_files, default_article_id, load_corpus
from bot.corpus.metadata import Outlet
from bot.corpus.store import (
    article_document,
    corpus_lock,
    next_id,
    remove_file,
    remove_stale_temp_files,
    write_article,
)
from bot.files import write_atomic


class CorpusWriteError(ValueError):
    """The corpus cannot take this change (not a folder, no such article, ...)."""


@dataclass(frozen=True)
class Added:
    article: Article
    path: Path
    origin: str


@dataclass(frozen=True)
class Skipped:
    origin: str
    title: str
    duplicate: Duplicate


@dataclass
class AddReport:
    """What ``add_files`` did with each input."""

    added: list[Added] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    failed: list[LoadProblem] = field(default_factory=list)
    warnings: list[LoadProblem] = field(default_factory=list)  # added, but without a field (a bad date)
    ignored: int = 0


def _origin(article: Article) -> str:
    """Where an input article came from: 'page.html', 'export.jsonl:12'."""
    return Path(article.path).name if article.path else "?"


def _taken_ids(corpus_dir: Path, articles: Iterable[Article]) -> set[str]:
    """Ids in use: the loaded articles' and those of files that did not load."""
    return {a.id for a in articles} | {default_article_id(p) for p in corpus_files(corpus_dir)}


def add_files(
    paths: Iterable[Path],
    corpus_dir: Path,
    lock_file: Path,
    outlets: Iterable[Outlet] = (),
    today: dt.date | None = None,
    parsed: ParsedFiles | None = None,
) -> AddReport:
    """Add the articles of ``paths`` (files or folders) to ``corpus_dir``; duplicates and
    bad inputs are reported, not added. Running it again with the same inputs adds nothing.
    ``parsed`` keeps the corpus files read (see ``load_corpus``)."""
    if corpus_dir.exists() and not corpus_dir.is_dir():
        raise CorpusWriteError(f"the corpus {corpus_dir} is a file; adding needs a corpus folder")
    corpus_dir.mkdir(parents=True, exist_ok=True)
    outlets = tuple(outlets)
    report = AddReport()
    with corpus_lock(lock_file):
        writer = _NewArticles(corpus_dir, parsed)
        found = input_files(paths)
        report.failed.extend(found.problems)
        report.ignored = found.ignored
        for path in found.files:
            articles, problems = read_input(path, outlets, today)
            report.failed.extend(p for p in problems if not p.loaded)
            report.warnings.extend(p for p in problems if p.loaded)
            for article in articles:
                writer.add(article, _origin(article), report)
    return report


def add_articles(
    items: Iterable[tuple[Article, str]],
    corpus_dir: Path,
    lock_file: Path,
    parsed: ParsedFiles | None = None,
    extra: dict[str, object] | None = None,
) -> AddReport:
    """Add articles already read (each with where it came from, e.g. its URL) to
    ``corpus_dir``, as ``add_files`` does: duplicates are skipped, each article is written
    atomically before the next. ``extra``: more front-matter fields for each."""
    corpus_dir.mkdir(parents=True, exist_ok=True)
    report = AddReport()
    with corpus_lock(lock_file):
        writer = _NewArticles(corpus_dir, parsed)
        for article, origin in items:
            writer.add(article, origin, report, extra)
    return report


class _NewArticles:
    """Adds articles to a corpus folder (whose lock the caller holds): a duplicate of one it holds
    is skipped, a new one gets the next free id and is written atomically before the next."""

    def __init__(self, corpus_dir: Path, parsed: ParsedFiles | None) -> None:
        remove_stale_temp_files(corpus_dir)
        corpus = load_corpus(corpus_dir, parsed)
        self.corpus_dir = corpus_dir
        self.finder = DuplicateFinder()
        for article in corpus.articles:
            self.finder.add(article)
        self.taken = _taken_ids(corpus_dir, corpus.articles)

    def add(self, article: Article, origin: str, report: AddReport, extra: dict[str, object] | None = None) -> None:
        fingerprint = Fingerprint(article)
        duplicate = self.finder.find(article, fingerprint)
        if duplicate:
            report.skipped.append(Skipped(origin, article.title, duplicate))
            return
        article = dataclasses.replace(article, id=next_id(self.taken), path=None)
        stored = write_article(article, self.corpus_dir, {"added_from": origin, **(extra or {})})
        self.taken.add(article.id)
        self.finder.add(article, fingerprint)  # url, text and title are unchanged by the new id
        report.added.append(Added(dataclasses.replace(article, path=str(stored)), stored, origin))


def replace_article(old: Article, new: Article, lock_file: Path, extra: dict[str, object] | None = None) -> Article:
    """Write ``new`` over the file of ``old`` (same id, same file, in one atomic rename)."""
    if not old.path or not Path(old.path).is_file() or old.path.endswith((".jsonl", ".jsonl.gz")):
        raise CorpusWriteError(f"article {old.id} is not a file of its own; it cannot be replaced")
    article = dataclasses.replace(new, id=old.id, path=old.path)
    with corpus_lock(lock_file):
        write_atomic(Path(old.path), article_document(article, extra))
    return article


def remove_article(corpus_dir: Path, article_id: str, lock_file: Path, parsed: ParsedFiles | None = None) -> Path:
    """Delete the file of article ``article_id`` from the corpus folder; returns its path.
    ``parsed`` keeps the corpus files read (see ``load_corpus``)."""
    if not corpus_dir.is_dir():
        raise CorpusWriteError(f"the corpus {corpus_dir} is not a folder; edit it by hand")
    with corpus_lock(lock_file):
        corpus = load_corpus(corpus_dir, parsed)
        article = next((a for a in corpus.articles if a.id == article_id.strip()), None) or next(
            (a for a in corpus.articles if same_id(a.id, article_id)), None
        )
        if article is None or not article.path:
            raise CorpusWriteError(f"no article with id {article_id!r} in {corpus_dir}")
        path = Path(article.path)
        if not path.is_file() or path.name.endswith((".jsonl", ".jsonl.gz")):
            raise CorpusWriteError(
                f"article {article_id} is one line of {article.path.rsplit(':', 1)[0]}; remove that line by hand"
            )
        remove_file(path)
        return path
