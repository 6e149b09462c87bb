"""Fair scheduling of updates: no chat can stall the others.

Button presses and inline queries are not chat messages and have no chat pace: they run at
once, in slots of their own (``immediate_slots``), never behind chat messages. A chat's
messages queue in order behind the chat's own pace: the chat's queue waits, holding no
worker, until the chat's rate window has room, and only then takes a worker to compose
and send the reply. A chat runs one job at a time, so its answers keep their order. A chat
that floods gets its backlog capped: questions past the cap are dropped (reported through
``dropped``) and one notice job is queued for the episode, so memory and work stay bounded.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import enum
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

log = logging.getLogger(__name__)

MAX_WAIT_STEP_S = 5.0  # a waiting chat re-checks its window at least this often


class JobKind(enum.StrEnum):
    UPDATE = "update"  # a fetched update to handle
    NOTICE = "notice"  # "too many questions, the later ones were dropped" (one per flood)


@dataclass
class Job:
    """One piece of work: an update (``chat_id`` None: no chat pace) or a flood notice."""

    update_id: int
    chat_id: int | None
    payload: Any  # the parsed update
    kind: JobKind = JobKind.UPDATE


class Scheduler:
    """Runs jobs with ``workers`` at a time; chats are paced, queued and capped (module docstring).

    ``run(job)`` handles a job; ``wait_s(chat_id)`` is how long until the chat may get its
    next message (0: now); ``cap(chat_id)`` the most jobs a chat may have waiting;
    ``dropped(job, notify)`` is told of each dropped job (``notify``: the first of a flood,
    the caller may return a notice job to queue)."""

    def __init__(
        self,
        run: Callable[[Job], Awaitable[None]],
        wait_s: Callable[[int], float],
        cap: Callable[[int], int],
        dropped: Callable[[Job, bool], Job | None],
        workers: int = 8,
        immediate_slots: int = 64,
    ):
        self.run = run
        self.wait_s = wait_s
        self.cap = cap
        self.dropped = dropped
        self.workers = asyncio.Semaphore(workers)
        self.immediate = asyncio.Semaphore(immediate_slots)  # presses and inline queries: no pace
        self.queues: dict[int, collections.deque[Job]] = {}
        self.chat_tasks: dict[int, asyncio.Task[None]] = {}
        self.flooded: set[int] = set()  # chats told about their flood (until their queue drains)
        self.tasks: set[asyncio.Task[None]] = set()  # every task, chat queues and immediate jobs
        self.running: set[asyncio.Task[None]] = set()  # tasks holding a worker now
        self.closed = False

    @property
    def waiting(self) -> int:
        """Jobs queued in chats (not yet running)."""
        return sum(len(q) for q in self.queues.values())

    @property
    def busy(self) -> int:
        return len(self.tasks)

    def submit(self, job: Job) -> bool:
        """Queue a job; False when it was dropped (flood cap) or the scheduler is closed."""
        if self.closed:
            return False
        if job.chat_id is None:
            self._spawn(self._run_now(job))
            return True
        queue = self.queues.setdefault(job.chat_id, collections.deque())
        if len([j for j in queue if j.kind == JobKind.UPDATE]) >= self.cap(job.chat_id):
            notice = self.dropped(job, job.chat_id not in self.flooded)
            self.flooded.add(job.chat_id)
            if notice is not None:
                queue.append(notice)
            return False
        queue.append(job)
        if job.chat_id not in self.chat_tasks:
            self.chat_tasks[job.chat_id] = self._spawn(self._drain_chat(job.chat_id))
        return True

    def _spawn(self, coroutine: Awaitable[None]) -> asyncio.Task[None]:
        task = asyncio.ensure_future(coroutine)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        return task

    async def _with_worker(self, job: Job, slots: asyncio.Semaphore | None = None) -> None:
        async with slots or self.workers:
            if self.closed:
                raise asyncio.CancelledError
            task = asyncio.current_task()
            assert task is not None
            self.running.add(task)
            try:
                await self.run(job)
            finally:
                self.running.discard(task)

    async def _run_now(self, job: Job) -> None:
        await self._with_worker(job, self.immediate)

    async def _drain_chat(self, chat_id: int) -> None:
        queue = self.queues[chat_id]
        try:
            while queue:
                wait = self.wait_s(chat_id)
                if wait > 0:
                    await asyncio.sleep(min(wait, MAX_WAIT_STEP_S))  # waiting for the pace holds no worker
                    continue
                job = queue.popleft()
                try:
                    await self._with_worker(job)
                except asyncio.CancelledError:
                    queue.appendleft(job)  # not handled: it stays pending in the inbox
                    raise
        finally:
            if not queue:
                self.queues.pop(chat_id, None)
                self.flooded.discard(chat_id)
            self.chat_tasks.pop(chat_id, None)

    async def close(self, grace_s: float) -> int:
        """Take no new jobs; let the running ones finish (up to ``grace_s``), cancel the rest.
        Returns how many running jobs were cancelled at the deadline."""
        self.closed = True
        running = set(self.running)
        log.info("stopping the scheduler: %d jobs running, %d queued", len(running), self.waiting)
        for task in list(self.tasks):
            if task not in running:
                task.cancel()
        if running:
            _, late = await asyncio.wait(running, timeout=grace_s)
        else:
            late = set()
        for task in late:
            task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.gather(*self.tasks, return_exceptions=True)
        return len(late)

    def cancel_all(self) -> None:
        """Cancel every job at once (a second stop signal)."""
        self.closed = True
        for task in list(self.tasks):
            task.cancel()
