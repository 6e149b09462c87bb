"""Settings from YAML under config/, checked on load; a bad value names its key."""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml

from bot.search.bm25 import BM25Params
from bot.text.terms import TEXT_VERSION, TermOptions
from bot.text.normalize import canonical_syllable, normalize

PACKAGE_ROOT = Path(__file__).resolve().parent.parent


class ConfigError(ValueError):
    """A missing or invalid setting; the message names the file and the key."""


@dataclass(frozen=True)
class AnswerSettings:
    top_k: int = 3
    max_top_k: int = 20
    fold_weight: float = 0.3
    bigram_weight: float = 1.0
    word_weight: float = 1.0
    min_coverage: float = 0.3
    rerank_depth: int = 30  # best BM25 passages re-ranked by proximity and title (0: off)
    window_width: int = 20  # syllables in the proximity window
    window_weight: float = 0.0  # score times (1 + this * share of the question in the best window)
    title_weight: float = 0.0  # score times (1 + this * share of the question in the article's title)
    name_weight: float = 0.0  # score times (1 + this * share of the question's names in the passage or title)
    duplicate_similarity: float = 0.8
    max_question_chars: int = 500
    sentence_weight: float = 0.0  # score times (1 + this * share of the question in the best sentence)
    phrase_weight: float = 0.0  # score times (1 + this) when that sentence holds a phrase of the asked kind
    fragment_chars: int = 0  # a one-line passage shorter than this (a caption) ...
    fragment_factor: float = 1.0  # ... has its score times this
    max_missing_names: float = 1.0  # "no answer" when the best passage lacks more than this share of the names


@dataclass(frozen=True)
class TelegramSettings:
    """How the Telegram bot runs. The token is never here: it comes from TELEGRAM_BOT_TOKEN."""

    mode: str = "polling"  # "polling" or "webhook"
    polling_timeout: int = 30  # seconds a getUpdates long poll may wait
    webhook_url: str = ""  # public https URL Telegram posts updates to (webhook mode)
    webhook_listen: str = "0.0.0.0"
    webhook_port: int = 8443
    webhook_path: str = "telegram"
    allowed_chat_ids: frozenset[int] = frozenset()  # empty: every chat may use the bot
    admin_user_ids: frozenset[int] = frozenset()  # may use /reload
    sources_page_size: int = 10
    inline_results: int = 5
    concurrent_updates: int = 8  # updates handled at the same time

    def allows(self, chat_id: int | None) -> bool:
        """Whether a chat (or, for inline queries, a user) may use the bot."""
        return not self.allowed_chat_ids or chat_id in self.allowed_chat_ids


@dataclass(frozen=True)
class Settings:
    """Everything the pipeline needs; passed in, never read from globals."""

    corpus: Path
    index_dir: Path
    preload_index: bool = False  # read the index files into the page cache at load (see config/settings.yaml)
    index_memory_mb: float = 0  # index pages kept mapped at most, in MB (0: no bound)
    min_chars: int = 200
    max_chars: int = 900
    terms: TermOptions = TermOptions()
    title_in_passages: bool = True
    bm25: BM25Params = BM25Params()
    answer: AnswerSettings = AnswerSettings()
    stopwords: frozenset[str] = frozenset()
    function_words: frozenset[str] = frozenset()
    telegram: TelegramSettings = TelegramSettings()
    raw: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    def index_fingerprint_part(self) -> dict[str, Any]:
        """The settings that change what the index holds."""
        return {
            "min_chars": self.min_chars,
            "max_chars": self.max_chars,
            "terms": vars(self.terms),
            "text_version": TEXT_VERSION,
            "title_in_passages": self.title_in_passages,
            "bm25": vars(self.bm25),
        }

    def with_paths(self, corpus: Path | None = None, index_dir: Path | None = None) -> Settings:
        """The same settings with another corpus or index folder."""
        return replace(
            self,
            corpus=corpus if corpus is not None else self.corpus,
            index_dir=index_dir if index_dir is not None else self.index_dir,
        )


def find_config_file(explicit: str | os.PathLike | None = None) -> Path:
    """The settings file: given explicitly, $BOT_CONFIG, ./config/settings.yaml, or the project's."""
    for candidate in (explicit, os.environ.get("BOT_CONFIG")):
        if candidate:
            path = Path(candidate)
            if not path.is_file():
                raise ConfigError(f"config file {path} not found")
            return path
    local = Path.cwd() / "config" / "settings.yaml"
    if local.is_file():
        return local
    packaged = PACKAGE_ROOT / "config" / "settings.yaml"
    if packaged.is_file():
        return packaged
    raise ConfigError("no config/settings.yaml found (run from the project folder or set BOT_CONFIG)")


class _Reader:
    """Typed access to nested YAML values with error messages that name the key."""

    def __init__(self, data: dict[str, Any], source: Path):
        self.data = data
        self.source = source

    def _get(self, key: str, default: Any) -> Any:
        node: Any = self.data
        for part in key.split("."):
            if not isinstance(node, dict):
                raise ConfigError(f"{self.source}: '{key}' is not a mapping")
            if part not in node:
                return default
            node = node[part]
        return default if node is None else node

    def fail(self, key: str, what: str, value: Any) -> ConfigError:
        return ConfigError(f"{self.source}: setting '{key}' must be {what} (got {value!r})")

    def number(self, key: str, default: float, low: float, high: float, integer: bool = False) -> Any:
        value = self._get(key, default)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise self.fail(key, "a number", value)
        if integer and int(value) != value:
            raise self.fail(key, "a whole number", value)
        if not low <= value <= high:
            raise self.fail(key, f"between {low} and {high}", value)
        return int(value) if integer else float(value)

    def flag(self, key: str, default: bool) -> bool:
        value = self._get(key, default)
        if not isinstance(value, bool):
            raise self.fail(key, "true or false", value)
        return value

    def path(self, key: str, base: Path, default: str | None = None) -> Path:
        value = self._get(key, default)
        if not isinstance(value, str) or not value.strip():
            if value is None:
                raise ConfigError(f"{self.source}: setting '{key}' is missing")
            raise self.fail(key, "a path", value)
        path = Path(os.path.expanduser(value))
        return path if path.is_absolute() else base / path

    def choice(self, key: str, default: str, options: tuple[str, ...]) -> str:
        value = self._get(key, default)
        if value not in options:
            raise self.fail(key, "one of " + ", ".join(options), value)
        return value

    def text(self, key: str, default: str = "") -> str:
        value = self._get(key, default)
        if not isinstance(value, str):
            raise self.fail(key, "a text", value)
        return value.strip()

    def ids(self, key: str) -> frozenset[int]:
        value = self._get(key, [])
        if isinstance(value, int) and not isinstance(value, bool):
            value = [value]
        if not isinstance(value, list) or not all(isinstance(x, int) and not isinstance(x, bool) for x in value):
            raise self.fail(key, "a list of numeric Telegram ids", value)
        return frozenset(value)
    def has(self, key: str) -> bool:
        return self._get(key, None) is not None

    def words(self, key: str) -> frozenset[str]:
        value = self._get(key, [])
        if not isinstance(value, list) or not all(isinstance(x, str) for x in value):
            raise self.fail(key, "a list of words", value)
        return frozenset(w.strip().lower() for x in value for w in x.split() if w.strip())


def read_abbreviations(path: Path | None) -> tuple[tuple[str, str], ...]:
    """(abbreviation, expansion) pairs, lower-case, from a YAML mapping such as
    ``UBND: Ủy ban nhân dân``. None (no file configured) gives none."""
    if path is None:
        return ()
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the abbreviations ({exc.strerror or exc})") from None
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not valid YAML ({str(exc).splitlines()[0]})") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of abbreviation: expansion")
    pairs: list[tuple[str, str]] = []
    for short, long in data.items():
        if not isinstance(short, str) or not isinstance(long, str) or len(short.split()) != 1 or not long.split():
            raise ConfigError(f"{path}: '{short}' must be one word mapped to its expansion (got {long!r})")
        key = canonical_syllable(normalize(short).lower())
        pairs.append((key, " ".join(normalize(long).lower().split())))
    return tuple(sorted(pairs))


def load_settings(config_file: str | os.PathLike | None = None) -> Settings:
    """Read and check the settings. Raises ConfigError naming the bad key."""
    path = find_config_file(config_file)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not valid YAML ({str(exc).splitlines()[0]})") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of settings")
    read = _Reader(data, path)
    base = path.resolve().parent.parent
    min_chars = read.number("passages.min_chars", 200, 1, 100_000, integer=True)
    max_chars = read.number("passages.max_chars", 900, 50, 100_000, integer=True)
    if min_chars > max_chars:
        raise read.fail("passages.min_chars", f"at most passages.max_chars ({max_chars})", min_chars)
    abbreviations = read.path("text.abbreviations", base) if read.has("text.abbreviations") else None
    if abbreviations is not None and not abbreviations.exists():
        # a settings file kept elsewhere still gets the project's list for a relative path
        shipped = PACKAGE_ROOT / str(read._get("text.abbreviations", ""))
        abbreviations = shipped if shipped.is_file() else abbreviations
    answer = AnswerSettings(
        top_k=read.number("answer.top_k", 3, 1, 100, integer=True),
        max_top_k=read.number("answer.max_top_k", 20, 1, 1000, integer=True),
        fold_weight=read.number("answer.fold_weight", 0.3, 0, 1),
        bigram_weight=read.number("answer.bigram_weight", 1.0, 0, 10),
        word_weight=read.number("answer.word_weight", 1.0, 0, 10),
        min_coverage=read.number("answer.min_coverage", 0.3, 0, 1),
        rerank_depth=read.number("answer.rerank_depth", 30, 0, 1000, integer=True),
        window_width=read.number("answer.window_width", 20, 1, 1000, integer=True),
        window_weight=read.number("answer.window_weight", 0.0, 0, 100),
        title_weight=read.number("answer.title_weight", 0.0, 0, 100),
        name_weight=read.number("answer.name_weight", 0.0, 0, 100),
        duplicate_similarity=read.number("answer.duplicate_similarity", 0.8, 0, 1),
        max_question_chars=read.number("answer.max_question_chars", 500, 10, 100_000, integer=True),
        sentence_weight=read.number("answer.sentence_weight", 0.0, 0, 100),
        phrase_weight=read.number("answer.phrase_weight", 0.0, 0, 100),
        fragment_chars=read.number("answer.fragment_chars", 0, 0, 10_000, integer=True),
        fragment_factor=read.number("answer.fragment_factor", 1.0, 0, 1),
        max_missing_names=read.number("answer.max_missing_names", 1.0, 0, 1),
    )
    return Settings(
        corpus=read.path("corpus", base),
        telegram=load_telegram_settings(read),
        index_dir=read.path("index_dir", base, ".cache/index"),
        preload_index=read.flag("preload_index", False),
        index_memory_mb=read.number("index_memory_mb", 0, 0, 1_000_000),
        min_chars=min_chars,
        max_chars=max_chars,
        terms=TermOptions(
            bigrams=read.flag("text.bigrams", True),
            words=read.flag("text.words", True),
            min_word_syllables=read.number("text.min_word_syllables", 3, 2, 10, integer=True),
            codes=read.flag("text.codes", True),
            folded=read.flag("text.folded", True),
            abbreviations=read_abbreviations(abbreviations),
        ),
        title_in_passages=read.flag("text.title_in_passages", True),
        bm25=BM25Params(
            k1=read.number("bm25.k1", 1.5, 0, 100),
            b=read.number("bm25.b", 0.75, 0, 1),
            epsilon=read.number("bm25.epsilon", 0.25, 0, 100),
        ),
        answer=answer,
        stopwords=read.words("stopwords"),
        function_words=read.words("function_words"),
        raw=data,
    )


def load_telegram_settings(read: _Reader) -> TelegramSettings:
    """The ``telegram:`` section, checked; webhook mode needs a public https URL."""
    mode = read.choice("telegram.mode", "polling", ("polling", "webhook"))
    webhook_url = read.text("telegram.webhook.url")
    if mode == "webhook" and not webhook_url.startswith(("https://", "http://")):
        raise read.fail("telegram.webhook.url", "the bot's public URL (https://...) in webhook mode", webhook_url)
    return TelegramSettings(
        mode=mode,
        polling_timeout=read.number("telegram.polling_timeout", 30, 0, 600, integer=True),
        webhook_url=webhook_url,
        webhook_listen=read.text("telegram.webhook.listen", "0.0.0.0") or "0.0.0.0",
        webhook_port=read.number("telegram.webhook.port", 8443, 1, 65535, integer=True),
        webhook_path=read.text("telegram.webhook.path", "telegram").strip("/"),
        allowed_chat_ids=read.ids("telegram.allowed_chat_ids"),
        admin_user_ids=read.ids("telegram.admin_user_ids"),
        sources_page_size=read.number("telegram.sources_page_size", 10, 1, 30, integer=True),
        inline_results=read.number("telegram.inline_results", 5, 1, 50, integer=True),
        concurrent_updates=read.number("telegram.concurrent_updates", 8, 1, 256, integer=True),
    )
