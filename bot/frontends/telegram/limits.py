"""Flood limits for the bot's requests: Telegram's per-chat limits on top of PTB's AIORateLimiter.

``AIORateLimiter`` keeps the bot under 30 requests a second overall and, with ``max_retries``,
waits and retries when Telegram answers 429 ``RetryAfter`` (PTB's default is not to retry, so a
busy moment would lose the reply). Its group limiter is a leaky bucket that lets 40 messages
through in a group's first minute, and it does not pace private chats at all, so here a strict
sliding window per chat takes its place: in a private chat at most 3 messages in any 3 seconds
(Telegram asks for about one a second and allows short bursts, so a user who asks two or three
questions in a row is not kept waiting), and 20 a minute in a group or channel (plus a second of
slack, so network jitter cannot push a 21st message into Telegram's minute; likewise 0.4 s for
private chats). Chat actions ("typing…") are not messages and are not paced:
in a burst they would otherwise take half of the 30 requests a second.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
from collections.abc import Callable, Coroutine
from typing import Any

from telegram.ext import AIORateLimiter

PRIVATE_RATE = (3, 3.4)  # messages, seconds: under one a second on average, bursts of three
GROUP_RATE = (20, 61.0)  # twenty messages a minute in a group, and a second of slack
MAX_RETRIES = 5  # RetryAfter answers retried before a request fails
UNPACED = frozenset({"sendChatAction"})  # not messages: no per-chat window, no overall limit
UNLIMITED = frozenset({"getUpdates"})  # polling is not held behind the replies
_MAX_WINDOWS = 4096


class SlidingWindow:
    """At most ``max_rate`` acquisitions in any ``period`` seconds (waits for a free slot)."""

    def __init__(self, max_rate: int, period: float):
        self.max_rate = max_rate
        self.period = period
        self.times: collections.deque[float] = collections.deque()
        self.lock = asyncio.Lock()

    def _expire(self, now: float) -> None:
        while self.times and now - self.times[0] >= self.period:
            self.times.popleft()

    def wait_s(self, now: float) -> float:
        """Seconds until an acquisition would pass (0: now)."""
        self._expire(now)
        if self.lock.locked():
            return 0.05  # somebody is sending or waiting for the slot
        return 0.0 if len(self.times) < self.max_rate else self.period - (now - self.times[0])

    def idle(self, now: float) -> bool:
        self._expire(now)
        return not self.times and not self.lock.locked()

    async def acquire(self) -> float:
        """Wait for a free slot and take it; returns the slot's time (for ``settle``)."""
        loop = asyncio.get_running_loop()
        async with self.lock:
            while True:
                now = loop.time()
                self._expire(now)
                if len(self.times) < self.max_rate:
                    self.times.append(now)
                    return now
                await asyncio.sleep(self.period - (now - self.times[0]))

    def settle(self, taken: float) -> None:
        """The request of the slot taken at ``taken`` is over: the slot counts from now, since
        Telegram saw the message no later (a request delayed on its way, by a busy machine,
        cannot bring two messages closer together than the window allows). Appending now keeps
        the times in order: every other slot was taken no later."""
        with contextlib.suppress(ValueError):
            self.times.remove(taken)
        self.times.append(asyncio.get_running_loop().time())


class ChatRateLimiter(AIORateLimiter):
    """AIORateLimiter (overall limit, RetryAfter retries) plus a sliding window per chat."""

    def __init__(
        self,
        private_rate: tuple[int, float] = PRIVATE_RATE,
        group_rate: tuple[int, float] = GROUP_RATE,
        max_retries: int = MAX_RETRIES,
    ):
        super().__init__(group_max_rate=0, max_retries=max_retries)  # groups: our windows instead
        self.private_rate = private_rate
        self.group_rate = group_rate
        self.windows: dict[int | str, SlidingWindow] = {}
        self.delivered: Callable[[str], None] | None = None  # told of each message Telegram accepted
        self.refused: Callable[[str], None] | None = None  # told of each attempt that failed (429 included)

    def wait_s(self, chat_id: int) -> float:
        """Seconds until a message to ``chat_id`` would pass its window (0: now)."""
        window = self.windows.get(chat_id)
        return window.wait_s(asyncio.get_running_loop().time()) if window is not None else 0.0

    def window(self, endpoint: str, data: dict[str, Any]) -> SlidingWindow | None:
        """The window a request must pass: its chat's, or None (not a message to a chat)."""
        chat_id = data.get("chat_id")
        if chat_id is None:
            return None
        with contextlib.suppress(TypeError, ValueError):  # "@channelname" stays as it is
            chat_id = int(chat_id)
        if chat_id not in self.windows:
            if len(self.windows) >= _MAX_WINDOWS:
                now = asyncio.get_running_loop().time()
                for key in [k for k, w in self.windows.items() if w.idle(now)]:
                    del self.windows[key]
            private = isinstance(chat_id, int) and chat_id > 0
            self.windows[chat_id] = SlidingWindow(*(self.private_rate if private else self.group_rate))
        return self.windows[chat_id]

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, Any]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: int | None,
    ) -> Any:
        if endpoint in UNLIMITED:
            return await callback(*args, **kwargs)
        if endpoint in UNPACED:
            data = {k: v for k, v in data.items() if k != "chat_id"}  # AIORateLimiter: not a chat request
        window = self.window(endpoint, data)
        if window is None:
            return await super().process_request(callback, args, kwargs, endpoint, data, rate_limit_args)

        async def paced(*a: Any, **kw: Any) -> Any:  # also paces each retry
            taken = await window.acquire()
            try:
                return await callback(*a, **kw)
            except Exception:
                if self.refused is not None:
                    self.refused(endpoint)
                raise
            finally:
                window.settle(taken)

        result = await super().process_request(paced, args, kwargs, endpoint, data, rate_limit_args)
        if self.delivered is not None:
            self.delivered(endpoint)
        return result
