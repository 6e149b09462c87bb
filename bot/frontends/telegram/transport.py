"""The HTTP transport of the bot's requests, which says when a request was handed over.

A reply counts as given once its request's body is written to the socket: the kernel
delivers those bytes even if the process is killed the next instant, and Telegram acts on
them. ``writing(method)`` is called right before the body's bytes go to the socket (with
nothing in between that lets other work run), so the update can be recorded as handed over
(``handover.HandoverLog``) without a gap in which a crash would leave the reply sent and the
update pending (answered twice after the restart). httpcore's ``trace`` extension reports
the moment.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx

BODY_STARTS = "http11.send_request_body.started"
POOL_SIZE = 256  # as python-telegram-bot's default request


class HandOverTransport(httpx.AsyncHTTPTransport):
    """``AsyncHTTPTransport`` that calls ``writing(method)`` (the Bot API method, e.g.
    ``sendMessage``) right before a request's body is written."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(limits=httpx.Limits(max_connections=POOL_SIZE), **kwargs)
        self.writing: Callable[[str], None] | None = None

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        writing = self.writing
        if writing is not None:
            method = request.url.path.rsplit("/", 1)[-1]

            async def trace(event: str, info: dict[str, Any]) -> None:
                if event == BODY_STARTS:
                    writing(method)

            request.extensions = {**request.extensions, "trace": trace}
        return await super().handle_async_request(request)
