"""Keeping the bot token out of logs and error messages (request URLs hold it)."""

from __future__ import annotations

import functools
import logging
import re

SEPARATORS = (":", "%3a", "%253a", "\\u003a", "\\x3a")  # the colon: literal, percent-encoded (once, twice), escaped
MIN_SECRET = 8  # the part after the colon is redacted on its own when at least this long


def _char_forms(char: str) -> str:
    """A regex for one character of the token: itself, or percent-encoded (once or twice)."""
    code = f"{ord(char):02x}"
    return f"(?:{re.escape(char)}|%{code}|%25{code})"


@functools.lru_cache(maxsize=8)
def token_pattern(token: str) -> re.Pattern[str]:
    """Every form of ``token`` in a text: literal, percent-encoded (``123%3Aabc``, also each
    character), escaped, in any letter case; and its secret part (after the colon) alone, so a
    token split at the colon is still hidden."""
    bot_id, colon, secret = token.partition(":")
    forms = []
    if colon:
        separator = "|".join(re.escape(s) for s in SEPARATORS)
        forms.append("".join(_char_forms(c) for c in bot_id) + f"(?:{separator})" + _secret(secret))
        if len(secret) >= MIN_SECRET:
            forms.append(_secret(secret))
    else:
        forms.append(_secret(token))
    return re.compile("|".join(forms), re.IGNORECASE)


def _secret(text: str) -> str:
    return "".join(_char_forms(c) for c in text)


def redact_token(text: str, token: str) -> str:
    """``text`` with the bot token replaced by '<token>', in any form (``token_pattern``): PTB
    changes the case of error descriptions, and error pages echo request URLs percent-encoded."""
    return token_pattern(token).sub("<token>", text) if token else text


class RedactToken(logging.Filter):
    """Replaces the bot token in log records (httpx and PTB log request URLs, which hold it)."""

    def __init__(self, secret: str):
        super().__init__()
        self.secret = secret

    def filter(self, record: logging.LogRecord) -> bool:
        if not self.secret:
            return True
        message = record.getMessage()
        redacted = redact_token(message, self.secret)
        if redacted != message:
            record.msg, record.args = redacted, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact_token(record.exc_text, self.secret)
        return True


def protect_token_in_logs(token: str) -> None:
    """Quiet the request loggers and redact the token from every log handler."""
    for name in ("httpx", "httpcore"):
        logging.getLogger(name).setLevel(logging.WARNING)
    root = logging.getLogger()
    if not root.handlers:
        logging.basicConfig(level=logging.WARNING)
    redact = RedactToken(token)
    for handler in root.handlers:
        handler.addFilter(redact)
