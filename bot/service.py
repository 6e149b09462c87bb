"""The service every front end calls (CLI, console chat, Telegram bot).

It opens or refreshes the index, answers, lists and shows sources, adds and removes
articles and reloads: the policy lives here, once. Front ends parse their input, call it
and format the result.

This is the one module that imports the index package: when the index's modules move,
only these imports change.
"""

from __future__ import annotations

import enum
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from bot.answer.compose import Answer, answer_question
from bot.answer.sources import SourceDetail, SourceInfo, example_id, get_source, list_sources, source_info
from bot.corpus.adding import AddReport, CorpusWriteError, add_files, remove_article
from bot.corpus.ingest import load_outlets
from bot.corpus.loading import ParsedFiles, load_corpus
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
from bot.settings import Settings

WARM_UP_QUESTION = "Thủ tướng Chính phủ chỉ đạo những gì về phát triển kinh tế?"


class ServiceError(Exception):
    """A problem the user can fix (no corpus, an unusable index, a corpus that cannot take a change)."""


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
        raise ServiceError(f"corpus not found: {settings.corpus}")
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
                    raise ServiceError(
                        f"the index in {settings.index_dir} cannot be used ({exc}); give --corpus to rebuild it"
                    ) from None
        try:
            index, report = ensure_index(settings, progress=progress)
        except FileNotFoundError:
            raise ServiceError(f"corpus not found: {settings.corpus}") from None
        return cls(settings, index), report

    @property
    def index(self) -> PassageIndex:
        if self._index is None:
            self._index = ensure_index(self.settings)[0]
        return self._index

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

    def ask(self, question: str, top_k: int | None = None, offset: int = 0) -> Answer:
        """The best passages for ``question`` (``top_k`` of them, skipping ``offset``)."""
        return answer_question(self.index, question, self.settings, top_k, offset)

    def sources(self, query: str = "") -> list[SourceInfo]:
        """The articles (newest first), or those whose title, source or id contain ``query``."""
        return list_sources(self.index, query)

    def source(self, article_id: str) -> SourceDetail | None:
        """One article's details and passages, or None when there is no such id."""
        return get_source(self.index, article_id)

    def cited_sources(self, question: str, offset: int = 0) -> list[SourceInfo]:
        """The articles behind the passages an answer to ``question`` shows at ``offset``.

        Buttons keep no server-side state, so the answer is found again (from the question
        read back from the message); the articles come from its results."""
        index = self.index
        answer = answer_question(index, question, self.settings, offset=offset)
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
            index, report = ensure_index(self.settings)
            self._index = index
        status = ReloadStatus.UNCHANGED if report.action == IndexAction.LOADED else ReloadStatus.REBUILT
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
            raise ServiceError(str(exc)) from None
        return AddResult(report, self._refresh(parsed, progress))

    def remove(self, article_id: str, progress: bool = False) -> RemoveResult:
        """Delete an article's file from the corpus folder and update the index."""
        parsed: ParsedFiles = {}
        try:
            path = remove_article(self.settings.corpus, article_id, self.corpus_lock, parsed=parsed)
        except CorpusWriteError as exc:
            raise ServiceError(str(exc)) from None
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
