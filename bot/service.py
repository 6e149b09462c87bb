"""The service every front end calls (CLI, console chat, Telegram bot).

It opens or refreshes the index, answers, lists and shows sources, adds and removes
articles and reloads: the policy lives here, once. Front ends parse their input, call it
and format the result.

This is the one module that imports the index package: when the index's modules move,
only these imports change.
"""

from __future__ import annotations

import dataclasses
import enum
import logging
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from bot.answer.compose import Answer, AnswerStatus, answer_question
from bot.answer.filters import NO_FILTER, ArticleFilter, FilterError, filter_text, split_filters
from bot.answer.sources import SourceDetail, SourceInfo, example_id, get_source, list_sources, source_info
from bot.corpus.adding import AddReport, CorpusWriteError, add_files, remove_article
from bot.corpus.article import same_id
from bot.corpus.ingest import load_outlets
from bot.corpus.loading import ParsedFiles, load_corpus
from bot.corpus.pulling import PullEvent, PullReport, pull_feeds, state_path
from bot.index.builder import BuildReport, build_index, ensure_index, refresh_index
from bot.index.fingerprint import full_fingerprint
from bot.index.parts import PassageIndex
from bot.index.storage import (
    IndexError_,
    current_version,
    load_configured_index,
    read_manifest,
    recorded_corpus,
)
from bot.settings import FeedSource, Settings

WARM_UP_QUESTION = "Thủ tướng Chính phủ chỉ đạo những gì về phát triển kinh tế?"

log = logging.getLogger(__name__)


class ServiceError(Exception):
    """A problem the user can fix (no corpus, an unusable index, a corpus that cannot take a change).

    ``key`` names its text in config/messages.yaml (``error_<key>``), filled in with ``values``;
    ``str()`` is a plain English form for logs."""

    def __init__(self, key: str, **values: object):
        super().__init__(f"{key.replace('_', ' ')}: " + ", ".join(f"{k}={v}" for k, v in values.items()))
        self.key = key
        self.values = values


class IndexRebuilding(ServiceError):
    """The index was damaged under the running process and is being rebuilt: ask again later."""


class IndexAction(enum.StrEnum):
    """What opening the index did (``BuildReport.action``)."""

    LOADED = "loaded"
    BUILT = "built"
    REBUILT = "rebuilt"


class BuildMode(enum.StrEnum):
    """How a build was made (``BuildReport.mode``)."""

    FULL = "full"
    DELTA = "delta"
    COMPACTED = "compacted"


class ReloadStatus(enum.StrEnum):
    UNCHANGED = "unchanged"  # the index was up to date
    REBUILT = "rebuilt"  # the corpus or the settings had changed
    CHANGED = "changed"  # another process had built a new index (e.g. ``python -m bot add``)


@dataclass(frozen=True)
class ReloadResult:
    status: ReloadStatus
    articles: int
    passages: int


@dataclass(frozen=True)
class AddResult:
    report: AddReport
    build: BuildReport | None  # None: the index was up to date


@dataclass(frozen=True)
class RemoveResult:
    path: Path
    build: BuildReport | None  # None: the index was up to date


@dataclass(frozen=True)
class PullResult:
    report: PullReport
    build: BuildReport | None  # None: nothing was added, or the index was up to date


def _version_of(index: PassageIndex) -> object:
    """What tells two loads of an index apart: its version folder (or its manifest)."""
    return index.files.version if index.files is not None else index.manifest.get("files")


def configure(settings: Settings, corpus: str | Path | None = None, index_dir: str | Path | None = None) -> Settings:
    """``settings`` with the corpus and index folder given (if any). An index folder given
    without a corpus remembers the corpus it was built from."""
    corpus = Path(corpus) if corpus else None
    index_dir = Path(index_dir) if index_dir else None
    if index_dir is not None and corpus is None:
        recorded = recorded_corpus(index_dir)
        corpus = recorded if recorded is not None and recorded.exists() else None
    return settings.with_paths(corpus, index_dir)


def build(settings: Settings, force: bool = False, progress: bool = False) -> BuildReport:
    """Build or refresh the index (``force``: all of it again, in one part)."""
    if not settings.corpus.exists():
        raise ServiceError("corpus_not_found", path=settings.corpus)
    if force:
        report = build_index(settings, progress=progress, full=True)
        report.reason = "forced"
        return report
    return refresh_index(settings, progress=progress)


class Service:
    """The answering service over one index (swapped by ``reload``)."""

    def __init__(self, settings: Settings, index: PassageIndex | None = None):
        self.settings = settings
        self._index = index
        self._reload_lock = threading.Lock()
        self._swap_lock = threading.Lock()
        self._rebuilder: threading.Thread | None = None

    @classmethod
    def open(
        cls, settings: Settings, progress: bool = False, as_is: bool = False
    ) -> tuple[Service, BuildReport | None]:
        """The service with its index, built or refreshed when needed, and what was done.

        ``as_is``: an index folder was given without a corpus; when the corpus it was built
        from is unknown or not on this machine, the index is used as it is (report None),
        never rebuilt from another corpus."""
        if as_is:
            recorded = recorded_corpus(settings.index_dir)
            if current_version(settings.index_dir) is not None and (recorded is None or not recorded.exists()):
                try:
                    return cls(settings, load_configured_index(settings)), None
                except IndexError_ as exc:
                    raise ServiceError("index_unusable", path=settings.index_dir, reason=exc) from None
        try:
            index, report = ensure_index(settings, progress=progress)
        except FileNotFoundError:
            raise ServiceError("corpus_not_found", path=settings.corpus) from None
        return cls(settings, index), report

    @property
    def index(self) -> PassageIndex:
        """The index to read, checked first: when a file of it was changed in place (reading it
        could kill the process with SIGBUS) it is dropped, rebuilt in the background and
        ``IndexRebuilding`` is raised until the new one is in use."""
        with self._swap_lock:
            if self._rebuilder is not None and self._rebuilder.is_alive():
                raise IndexRebuilding("index_rebuilding")
            if self._index is None:
                self._index = ensure_index(self.settings)[0]
            problem = self._index.damaged()
            if problem is None:
                return self._index
            log.warning("index changed under the bot, rebuilding: %s", problem)
            self._index = None  # never read again (its old mappings go with the last reader)
            self._rebuilder = threading.Thread(target=self._rebuild, name="index-rebuild", daemon=True)
            self._rebuilder.start()
        raise IndexRebuilding("index_rebuilding")

    def _rebuild(self) -> None:
        try:
            index, report = ensure_index(self.settings)
        except Exception:
            log.exception("rebuilding the index failed; the next question tries again")
            return
        with self._swap_lock:
            if self._index is None:
                self._index = index
        log.warning("index rebuilt: %s articles, %s passages", report.articles, report.passages)

    @property
    def articles(self) -> int:
        return len(self.index.articles)

    @property
    def passages(self) -> int:
        return self.index.n_live

    @property
    def corpus_lock(self) -> Path:
        """The lock file of corpus changes (adding, removing)."""
        return self.settings.index_dir / ".corpus.lock"

    # --- questions and sources -------------------------------------------------------------

    def ask(
        self, question: str, top_k: int | None = None, offset: int = 0, filters: ArticleFilter = NO_FILTER
    ) -> Answer:
        """The best passages for ``question`` (``top_k`` of them, skipping ``offset``), of the
        articles that ``filters`` and the filters typed at the question's end ('từ:2021-04-01
        đến:2021-04-30 nguồn:dantri') let through. The answer's question keeps the typed
        filters, so that asking it again (a "more" button) filters the same way."""
        try:
            text, typed = split_filters(question)
        except FilterError as exc:
            return Answer(question, AnswerStatus.BAD_FILTER, bad_filter=exc.value)
        answer = answer_question(self.index, text, self.settings, top_k, offset, filters.merged(typed))
        if typed:
            answer = dataclasses.replace(answer, question=f"{answer.question} {filter_text(typed)}".strip())
        return answer

    def sources(self, query: str = "") -> list[SourceInfo]:
        """The articles (newest first), or those whose title, source or id contain ``query``."""
        return list_sources(self.index, query)

    def latest(self, count: int = 5) -> list[SourceInfo]:
        """The ``count`` newest articles (undated ones last)."""
        return list_sources(self.index)[: max(0, count)]

    def source(self, article_id: str) -> SourceDetail | None:
        """One article's details and passages, or None when there is no such id (ids match as
        users type them: '4' finds article '004')."""
        return get_source(self.index, self.article_id(article_id))

    def article_id(self, typed: str) -> str:
        """The id of the article ``typed`` names (see ``same_id``), or ``typed`` stripped when
        no article has it."""
        typed = typed.strip()
        index = self.index
        if index.find_article(typed) is not None or not typed.isdigit():
            return typed
        ids = (index.articles[number].id for number in range(len(index.articles)))
        return next((found for found in ids if same_id(found, typed)), typed)

    def cited_sources(self, question: str, offset: int = 0) -> list[SourceInfo]:
        """The articles behind the passages an answer to ``question`` shows at ``offset``.

        Buttons keep no server-side state, so the answer is found again (from the question
        read back from the message); the articles come from its results."""
        index = self.index
        answer = self.ask(question, offset=offset)
        infos = [source_info(index, doc_id) for doc_id in dict.fromkeys(r.doc_id for r in answer.results)]
        return [info for info in infos if info is not None]

    def example_id(self) -> str:
        """An article id for usage lines ('/source 004')."""
        return example_id(self.index)

    def warm_up(self) -> None:
        """Load the word segmenter and touch the index, so the first question is answered quickly."""
        self.ask(WARM_UP_QUESTION)

    # --- changes -------------------------------------------------------------------------------

    def reload(self) -> ReloadResult:
        """Bring the index in line with the corpus and use it; on failure the old one stays."""
        with self._reload_lock:
            before = self._index
            index, report = ensure_index(self.settings)
            with self._swap_lock:
                self._index = index
        if report.action != IndexAction.LOADED:
            status = ReloadStatus.REBUILT
        elif before is not None and _version_of(before) != _version_of(index):
            status = ReloadStatus.CHANGED  # built by another process since this one loaded its index
        else:
            status = ReloadStatus.UNCHANGED
        return ReloadResult(status, report.articles, report.passages)

    def add(self, paths: Iterable[Path], progress: bool = False) -> AddResult:
        """Add the articles of ``paths`` (files or folders) to the corpus folder and index them.
        The corpus is parsed once and the index loaded once."""
        parsed: ParsedFiles = {}
        try:
            report = add_files(
                list(paths),
                self.settings.corpus,
                self.corpus_lock,
                load_outlets(self.settings.outlets_file),
                parsed=parsed,
            )
        except CorpusWriteError as exc:
            raise ServiceError("corpus_write", reason=exc) from None
        return AddResult(report, self._refresh(parsed, progress))

    def feed_sources(self, urls: Iterable[str] = ()) -> list[FeedSource]:
        """The feeds to pull: ``urls`` (with their configured names), else the configured ones."""
        configured = {source.url: source for source in self.settings.feeds.sources}
        urls = [url.strip() for url in urls if url.strip()]
        if urls:
            return [configured.get(url, FeedSource(url)) for url in urls]
        if not configured:
            raise ServiceError("no_feeds")
        return list(configured.values())

    def pull(
        self,
        urls: Iterable[str] = (),
        on_event: Callable[[PullEvent], None] = lambda _event: None,
        progress: bool = False,
    ) -> PullResult:
        """Pull feeds (``urls``, else the configured ones) into the corpus folder and update
        the index; each article's line goes to ``on_event`` as it happens. A pull and a
        reload never run at the same time; questions keep being answered from the old index
        until the new one is swapped in."""
        sources = self.feed_sources(urls)
        with self._reload_lock:
            parsed: ParsedFiles = {}
            try:
                report = pull_feeds(
                    sources,
                    self.settings.corpus,
                    self.corpus_lock,
                    self.settings.feeds,
                    state_path(self.settings.feeds, self.settings.index_dir),
                    load_outlets(self.settings.outlets_file),
                    on_event=on_event,
                    parsed=parsed,
                )
            except CorpusWriteError as exc:
                raise ServiceError("corpus_write", reason=exc) from None
            build = self._refresh(parsed, progress) if report.changed or self._index is None else None
        return PullResult(report, build)

    def remove(self, article_id: str, progress: bool = False) -> RemoveResult:
        """Delete an article's file from the corpus folder and update the index."""
        parsed: ParsedFiles = {}
        try:
            path = remove_article(self.settings.corpus, article_id, self.corpus_lock, parsed=parsed)
        except CorpusWriteError as exc:
            raise ServiceError("corpus_write", reason=exc) from None
        return RemoveResult(path, self._refresh(parsed, progress))

    def _refresh(self, parsed: ParsedFiles, progress: bool) -> BuildReport | None:
        """Update the index after a corpus change, from the files already parsed (only files
        written since are read); None when it was up to date."""
        settings = self.settings
        version = current_version(settings.index_dir)
        if version is None or not version.is_dir():
            manifest, reason = None, f"no index in {settings.index_dir}"
        else:
            try:
                manifest, reason = read_manifest(version), "the corpus or the settings changed"
            except IndexError_ as exc:
                manifest, reason = None, str(exc)
        if manifest is not None and manifest.get("fingerprint") == full_fingerprint(settings):
            return None
        report = build_index(settings, corpus=load_corpus(settings.corpus, parsed), progress=progress)
        report.action = IndexAction.BUILT if reason.startswith("no index") else IndexAction.REBUILT
        report.reason = reason
        if self._index is not None:
            self._index = load_configured_index(settings)
        return report
