"""The HTTP transport of the bot's requests, which says when a request was handed over.

A reply counts as given once its request has been written to the socket in full: the kernel
delivers those bytes even if the process is killed the next instant, and Telegram acts on
them. Marking the update done at that moment, not after the answer came back, closes the
gap in which a crash would have the reply sent and the update still pending (answered twice
after the restart). httpcore's ``trace`` extension reports the moment.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx

BODY_WRITTEN = "http11.send_request_body.complete"
POOL_SIZE = 256  # as python-telegram-bot's default request


class HandOverTransport(httpx.AsyncHTTPTransport):
    """``AsyncHTTPTransport`` that calls ``written(method)`` (the Bot API method, e.g.
    ``sendMessage``) once a request's body is on its way."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(limits=httpx.Limits(max_connections=POOL_SIZE), **kwargs)
        self.written: Callable[[str], None] | None = None

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        written = self.written
        if written is not None:
            method = request.url.path.rsplit("/", 1)[-1]

            async def trace(event: str, info: dict[str, Any]) -> None:
                if event == BODY_WRITTEN:
                    written(method)

            request.extensions = {**request.extensions, "trace": trace}
        return await super().handle_async_request(request)
