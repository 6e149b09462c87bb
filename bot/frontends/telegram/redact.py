"""Keeping the bot token out of logs and error messages (request URLs hold it)."""

from __future__ import annotations

import logging
import re


def redact_token(text: str, token: str) -> str:
    """``text`` with the bot token replaced by '<token>', in any letter case (PTB changes the
    case of error descriptions, which may echo the request URL)."""
    return re.sub(re.escape(token), "<token>", text, flags=re.IGNORECASE) if token else text


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
