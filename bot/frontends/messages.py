"""User-facing texts from config/messages.yaml, by language, and the shared ways of
showing dates and sources."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from bot.corpus.article import Article
from bot.settings import ConfigError, Settings, default

DEFAULT_LANGUAGE = "vi"


@dataclass(frozen=True)
class Messages:
    """Texts by language; unknown languages fall back to Vietnamese."""

    texts: dict[str, dict[str, Any]]

    def language(self, code: str | None) -> str:
        """'en' for English speakers (Telegram's language_code 'en', 'en-US'), else 'vi'."""
        if code and code.lower().split("-")[0] in self.texts:
            return code.lower().split("-")[0]
        return DEFAULT_LANGUAGE

    def get(self, key: str, lang: str = DEFAULT_LANGUAGE, **values: Any) -> str:
        """Text ``key`` in ``lang`` with ``values`` filled in. A text written as ``{one: …,
        other: …}`` is chosen by ``values["count"]`` ("1 article", "2 articles")."""
        table = self.texts.get(lang) or self.texts[DEFAULT_LANGUAGE]
        template = table.get(key, self.texts[DEFAULT_LANGUAGE].get(key))
        if template is None:
            raise KeyError(f"message {key!r} missing from config/messages.yaml")
        if isinstance(template, dict):
            template = template["one" if values.get("count") == 1 else "other"]
        return str(template).format(**values) if values else str(template)

    def mapping(self, key: str, lang: str = DEFAULT_LANGUAGE) -> dict[str, str]:
        """A table of texts under ``key`` (e.g. command descriptions), falling back to Vietnamese."""
        table = self.texts.get(lang) or self.texts[DEFAULT_LANGUAGE]
        value = table.get(key) or self.texts[DEFAULT_LANGUAGE].get(key)
        if not isinstance(value, dict):
            raise KeyError(f"message table {key!r} missing from config/messages.yaml")
        return {str(k): str(v) for k, v in value.items()}

    def example(self, lang: str = DEFAULT_LANGUAGE, n: int = 0) -> str:
        """Example question ``n`` (cycling), or '' when there are none."""
        examples = self.examples(lang)
        return examples[n % len(examples)] if examples else ""

    def examples(self, lang: str = DEFAULT_LANGUAGE) -> list[str]:
        table = self.texts.get(lang) or self.texts[DEFAULT_LANGUAGE]
        return list(table.get("examples") or self.texts[DEFAULT_LANGUAGE].get("examples") or [])


def run_language(flag: str | None, locale: str) -> str:
    """The language of a command-line run: ``--lang`` when given, English for an English
    locale (``LANG=en_US.UTF-8``), else Vietnamese."""
    if flag:
        return flag
    return "en" if locale.lower().startswith("en") else DEFAULT_LANGUAGE


def load_messages(path: Path | None = None) -> Messages:
    """Read the messages file (``Settings.messages_file``; the project's by default)."""
    path = path or default(Settings, "messages_file")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"{path}: cannot read messages ({exc})") from None
    if not isinstance(data, dict) or DEFAULT_LANGUAGE not in data:
        raise ConfigError(f"{path}: expected a '{DEFAULT_LANGUAGE}' section of messages")
    return Messages(data)


def format_date(value: dt.date | None, messages: Messages, lang: str = DEFAULT_LANGUAGE) -> str:
    """A date the Vietnamese way (04/08/2020), or 'không rõ ngày'."""
    if not value:
        return messages.get("unknown_date", lang)
    return value.strftime("%d/%m/%Y")


def format_source(source: str | None, messages: Messages, lang: str = DEFAULT_LANGUAGE) -> str:
    return source or messages.get("unknown_source", lang)


def stored_line(key: str, article: Article, origin: str, messages: Messages, lang: str = DEFAULT_LANGUAGE) -> str:
    """A line saying an article was stored ('cli_added', 'pull_updated'): its id, title, source,
    date, what was inferred, and where it came from."""
    inferred = messages.get("cli_inferred", lang, fields=", ".join(article.inferred)) if article.inferred else ""
    return messages.get(
        key,
        lang,
        id=article.id,
        title=article.title,
        source=format_source(article.source, messages, lang),
        date=format_date(article.date, messages, lang),
        inferred=inferred,
        origin=origin,
    )
