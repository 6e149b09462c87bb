"""Settings from YAML under config/, checked on load; a bad value names its key."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import MISSING, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import yaml

from bot.search.bm25 import BM25Params
from bot.text.normalize import canonical_syllable, normalize
from bot.text.terms import TEXT_VERSION, TermOptions

PACKAGE_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_INDEX_DIR = ".cache/index"
DEFAULT_MESSAGES = "config/messages.yaml"
DEFAULT_OUTLETS = "config/outlets.yaml"
DEFAULT_SUBSCRIPTIONS = ".cache/subscriptions.sqlite"


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
    # score times (1 + this * strength) when the best sentence holds a phrase of the asked kind
    phrase_weight: float = 0.0
    answer_depth: int = 10  # best passages (after the proximity re-rank) re-ranked by their answer sentence
    # questions without diacritics: weight of the terms with diacritics restored (0: off)
    restored_weight: float = 0.0
    # "no answer" when a foreign name or code of the question is nowhere in the corpus
    refuse_absent_words: bool = False
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
    concurrent_updates: int = 8  # chat messages handled at the same time (button presses, inline queries: at once)
    inbox: Path = Path(".cache/telegram-inbox.sqlite")  # fetched updates, kept until answered
    chat_backlog: int = 25  # questions a chat may have waiting; later ones are dropped with one notice
    stop_grace_s: float = 4.0  # on SIGTERM, answers in flight get this long to finish

    def allows(self, chat_id: int | None) -> bool:
        """Whether a chat (or, for inline queries, a user) may use the bot."""
        return not self.allowed_chat_ids or chat_id in self.allowed_chat_ids


@dataclass(frozen=True)
class FeedSource:
    """One feed to pull: its address and the name its articles are cited under ('' : the
    feed's own title)."""

    url: str
    name: str = ""


@dataclass(frozen=True)
class FeedSettings:
    """The ``feeds:`` section: what ``pull`` reads, how often ``serve`` pulls, how politely."""

    sources: tuple[FeedSource, ...] = ()
    every: float = 900.0  # seconds between two pulls in ``serve`` (0: never)
    delay: float = 1.0  # seconds between two requests to one host
    timeout: float = 10.0  # seconds to connect and for each read
    max_bytes: int = 5_000_000  # a larger feed or page is refused
    retries: int = 2  # more tries after a network error, a timeout, 429 or 5xx
    backoff: float = 1.0  # seconds before the first retry, doubled each time
    max_redirects: int = 5
    max_items: int = 100  # items read from one feed per pull (the newest first, as feeds list them)
    user_agent: str = ""  # '' : the bot's name and project address
    state_file: Path | None = None  # validators (ETag, Last-Modified) kept between pulls; None: in index_dir
    subscriptions_file: Path | None = None  # /follow topics (SQLite); None: .cache/subscriptions.sqlite
    max_follows: int = 10  # topics one chat may follow
    max_alerts: int = 10  # alerts sent to one chat per pull (more: the first ones and a count)


@dataclass(frozen=True)
class Settings:
    """Everything the pipeline needs; passed in, never read from globals."""

    corpus: Path
    index_dir: Path
    preload_index: bool = False  # read the index files into the page cache at load (see config/settings.yaml)
    index_memory_mb: float = 0  # index pages kept mapped at most, in MB (0: no bound)
    index_workers: int = 0  # processes that segment a build's articles (0: every core)
    min_chars: int = 200
    max_chars: int = 900
    terms: TermOptions = TermOptions()
    title_in_passages: bool = True
    bm25: BM25Params = BM25Params()
    answer: AnswerSettings = AnswerSettings()
    stopwords: frozenset[str] = frozenset()
    function_words: frozenset[str] = frozenset()
    telegram: TelegramSettings = TelegramSettings()
    messages_file: Path = PACKAGE_ROOT / DEFAULT_MESSAGES  # the user-facing texts
    outlets_file: Path = PACKAGE_ROOT / DEFAULT_OUTLETS  # known news outlets, for ``add``
    feeds: FeedSettings = FeedSettings()  # feeds and sitemaps for ``pull``
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

    def with_workers(self, workers: int | None) -> Settings:
        """The same settings with ``workers`` build processes (None: as configured)."""
        return self if workers is None else replace(self, index_workers=workers)

    def with_paths(self, corpus: Path | None = None, index_dir: Path | None = None) -> Settings:
        """The same settings with another corpus or index folder."""
        return replace(
            self,
            corpus=corpus if corpus is not None else self.corpus,
            index_dir=index_dir if index_dir is not None else self.index_dir,
        )


@dataclass(frozen=True)
class Environment:
    """What the environment says; the only place environment variables are read."""

    token: str = ""  # TELEGRAM_BOT_TOKEN, from BotFather (stripped)
    token_given: bool = False  # TELEGRAM_BOT_TOKEN is set at all (no command then means "serve")
    api_base_url: str | None = None  # TELEGRAM_API_BASE_URL: another Bot API server
    webhook_secret: str | None = None  # TELEGRAM_WEBHOOK_SECRET: checked on webhook posts
    config_file: str | None = None  # BOT_CONFIG: the settings file
    locale: str = ""  # LC_ALL, LC_MESSAGES or LANG (the first set): 'en_US.UTF-8' means English
    data_home: Path = Path("~/.local/share")  # XDG_DATA_HOME (``~`` expanded when read)

    @classmethod
    def read(cls, environ: Mapping[str, str] | None = None) -> Environment:
        env = os.environ if environ is None else environ
        return cls(
            token=env.get("TELEGRAM_BOT_TOKEN", "").strip(),
            token_given=bool(env.get("TELEGRAM_BOT_TOKEN")),
            api_base_url=env.get("TELEGRAM_API_BASE_URL") or None,
            webhook_secret=env.get("TELEGRAM_WEBHOOK_SECRET") or None,
            config_file=env.get("BOT_CONFIG") or None,
            locale=next((env[k] for k in ("LC_ALL", "LC_MESSAGES", "LANG") if env.get(k)), ""),
            data_home=Path(os.path.expanduser(env.get("XDG_DATA_HOME") or "~/.local/share")),
        )


def find_config_file(explicit: str | os.PathLike | None = None) -> Path:
    """The settings file: given explicitly, $BOT_CONFIG, ./config/settings.yaml, or the project's."""
    for candidate in (explicit, Environment.read().config_file):
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


def default(cls: type, name: str) -> Any:
    """The default of field ``name`` of dataclass ``cls``: every default is written once, there."""
    for f in fields(cls):
        if f.name == name:
            if f.default is MISSING:
                raise TypeError(f"{cls.__name__}.{name} has no default")
            return f.default
    raise AttributeError(f"{cls.__name__} has no field {name!r}")


def _is_int(cls: type, name: str) -> bool:
    return next(f.type for f in fields(cls) if f.name == name) in ("int", int)


def _numbers(read: _Reader, cls: type, section: str, bounds: dict[str, tuple[float, float]]) -> dict[str, Any]:
    """The numeric settings ``section.<field>`` of dataclass ``cls``, each checked against its bounds."""
    return {
        name: read.number(f"{section}.{name}", default(cls, name), low, high, integer=_is_int(cls, name))
        for name, (low, high) in bounds.items()
    }


def _flags(read: _Reader, cls: type, section: str, names: tuple[str, ...]) -> dict[str, bool]:
    return {name: read.flag(f"{section}.{name}", default(cls, name)) for name in names}


ANSWER_BOUNDS = {
    "top_k": (1, 100),
    "max_top_k": (1, 1000),
    "fold_weight": (0, 1),
    "bigram_weight": (0, 10),
    "word_weight": (0, 10),
    "min_coverage": (0, 1),
    "rerank_depth": (0, 1000),
    "answer_depth": (0, 1000),
    "window_width": (1, 1000),
    "window_weight": (0, 100),
    "title_weight": (0, 100),
    "name_weight": (0, 100),
    "duplicate_similarity": (0, 1),
    "max_question_chars": (10, 100_000),
    "phrase_weight": (0, 100),
    "max_missing_names": (0, 1),
    "restored_weight": (0, 10),
}
TELEGRAM_BOUNDS = {
    "sources_page_size": (1, 30),
    "inline_results": (1, 50),
    "concurrent_updates": (1, 256),
    "chat_backlog": (1, 1000),
    "stop_grace_s": (0, 60),
}


def _config_file(read: _Reader, key: str, base: Path, shipped_default: str | None) -> Path | None:
    """A file named by setting ``key`` (relative to the project folder); a settings file kept
    elsewhere still gets the project's file for a relative path. None when not configured."""
    if not read.has(key) and shipped_default is None:
        return None
    name = str(read._get(key, shipped_default))
    path = read.path(key, base, shipped_default)
    if not path.exists():
        shipped = PACKAGE_ROOT / name
        path = shipped if shipped.is_file() else path
    return path


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
    min_chars = read.number("passages.min_chars", default(Settings, "min_chars"), 1, 100_000, integer=True)
    max_chars = read.number("passages.max_chars", default(Settings, "max_chars"), 50, 100_000, integer=True)
    if min_chars > max_chars:
        raise read.fail("passages.min_chars", f"at most passages.max_chars ({max_chars})", min_chars)
    abbreviations = _config_file(read, "text.abbreviations", base, None)
    answer = AnswerSettings(
        **_numbers(read, AnswerSettings, "answer", ANSWER_BOUNDS),
        **_flags(read, AnswerSettings, "answer", ("refuse_absent_words",)),
    )
    return Settings(
        corpus=read.path("corpus", base),
        telegram=load_telegram_settings(read, base),
        index_dir=read.path("index_dir", base, DEFAULT_INDEX_DIR),
        preload_index=read.flag("preload_index", default(Settings, "preload_index")),
        index_memory_mb=read.number("index_memory_mb", default(Settings, "index_memory_mb"), 0, 1_000_000),
        index_workers=read.number("index.workers", default(Settings, "index_workers"), 0, 4096, integer=True),
        min_chars=min_chars,
        max_chars=max_chars,
        terms=TermOptions(
            **_flags(read, TermOptions, "text", ("bigrams", "words")),
            **_numbers(read, TermOptions, "text", {"min_word_syllables": (2, 10)}),
            **_flags(read, TermOptions, "text", ("codes", "folded")),
            abbreviations=read_abbreviations(abbreviations),
        ),
        title_in_passages=read.flag("text.title_in_passages", default(Settings, "title_in_passages")),
        bm25=BM25Params(**_numbers(read, BM25Params, "bm25", {"k1": (0, 100), "b": (0, 1), "epsilon": (0, 100)})),
        answer=answer,
        stopwords=read.words("stopwords"),
        function_words=read.words("function_words"),
        messages_file=_config_file(read, "messages", base, DEFAULT_MESSAGES),
        outlets_file=_config_file(read, "outlets", base, DEFAULT_OUTLETS),
        feeds=load_feed_settings(read, base),
        raw=data,
    )


def load_telegram_settings(read: _Reader, base: Path) -> TelegramSettings:
    """The ``telegram:`` section, checked; webhook mode needs a public https URL."""
    mode = read.choice("telegram.mode", default(TelegramSettings, "mode"), ("polling", "webhook"))
    webhook_url = read.text("telegram.webhook.url", default(TelegramSettings, "webhook_url"))
    if mode == "webhook" and not webhook_url.startswith(("https://", "http://")):
        raise read.fail("telegram.webhook.url", "the bot's public URL (https://...) in webhook mode", webhook_url)
    listen = default(TelegramSettings, "webhook_listen")
    return TelegramSettings(
        mode=mode,
        **_numbers(read, TelegramSettings, "telegram", {"polling_timeout": (0, 600)}),
        webhook_url=webhook_url,
        webhook_listen=read.text("telegram.webhook.listen", listen) or listen,
        webhook_port=read.number(
            "telegram.webhook.port", default(TelegramSettings, "webhook_port"), 1, 65535, integer=True
        ),
        webhook_path=read.text("telegram.webhook.path", default(TelegramSettings, "webhook_path")).strip("/"),
        inbox=read.path("telegram.inbox", base, str(default(TelegramSettings, "inbox"))),
        allowed_chat_ids=read.ids("telegram.allowed_chat_ids"),
        admin_user_ids=read.ids("telegram.admin_user_ids"),
        **_numbers(read, TelegramSettings, "telegram", TELEGRAM_BOUNDS),
    )


_DURATION_UNITS = {"": 1.0, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


def parse_duration(value: Any) -> float | None:
    """Seconds of a duration: 15, '15m', '2s', '1h30m', '1.5h'; None when it is not one."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value) if value >= 0 else None
    import re

    text = str(value).strip().lower().replace(" ", "")
    parts = re.findall(r"(\d+(?:\.\d+)?)([smhd]?)", text)
    if not text or "".join(n + u for n, u in parts) != text:
        return None
    return sum(float(n) * _DURATION_UNITS[u] for n, u in parts)


def load_feed_settings(read: _Reader, base: Path) -> FeedSettings:
    """The ``feeds:`` section: a list of feeds, or a mapping with ``sources:`` and options.
    A feed is an address or ``{url: ..., name: ...}``."""
    raw = read._get("feeds", None)
    if raw is None:
        return FeedSettings()
    listed: Any
    if isinstance(raw, list):
        raw, listed = {}, raw
    elif isinstance(raw, dict):
        listed = raw.get("sources") or []
    else:
        raise read.fail("feeds", "a list of feeds or a mapping with sources:", raw)
    sources = []
    for item in listed if isinstance(listed, list) else [listed]:
        if isinstance(item, str) and item.strip():
            sources.append(FeedSource(item.strip()))
        elif isinstance(item, dict) and isinstance(item.get("url"), str) and item["url"].strip():
            sources.append(FeedSource(item["url"].strip(), str(item.get("name") or "").strip()))
        else:
            raise read.fail("feeds.sources", "a list of addresses or {url, name} entries", item)
    for source in sources:
        if not source.url.startswith(("http://", "https://")):
            raise read.fail("feeds.sources", "http(s) addresses", source.url)
    durations: dict[str, float] = {}
    for key, low, high in (("every", 0, 7 * 86400), ("delay", 0, 600), ("timeout", 0.1, 600), ("backoff", 0, 600)):
        value = raw.get(key, default(FeedSettings, key))
        seconds = parse_duration(value)
        if seconds is None or not low <= seconds <= high:
            raise read.fail(f"feeds.{key}", f"a duration such as 15m, 30s or 2s (from {low} to {high} s)", value)
        durations[key] = seconds
    numbers: dict[str, int] = {}
    limits = (
        ("max_bytes", 1000, 10**9),
        ("retries", 0, 10),
        ("max_redirects", 0, 30),
        ("max_items", 1, 10_000),
        ("max_follows", 1, 1000),
        ("max_alerts", 1, 100),
    )
    for key, low, high in limits:
        value = raw.get(key, default(FeedSettings, key))
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise read.fail(f"feeds.{key}", f"a whole number from {low} to {high}", value)
        numbers[key] = value
    user_agent = raw.get("user_agent") or ""
    if not isinstance(user_agent, str):
        raise read.fail("feeds.user_agent", "a text", user_agent)
    state_file = read.path("feeds.state_file", base) if raw.get("state_file") else None
    follows = read.path("feeds.subscriptions_file", base) if raw.get("subscriptions_file") else None
    return FeedSettings(
        sources=tuple(sources),
        user_agent=user_agent.strip(),
        state_file=state_file,
        subscriptions_file=follows or base / DEFAULT_SUBSCRIPTIONS,
        every=durations["every"],
        delay=durations["delay"],
        timeout=durations["timeout"],
        backoff=durations["backoff"],
        max_bytes=numbers["max_bytes"],
        retries=numbers["retries"],
        max_redirects=numbers["max_redirects"],
        max_items=numbers["max_items"],
        max_follows=numbers["max_follows"],
        max_alerts=numbers["max_alerts"],
    )
