"""The inbox of fetched updates and the fair scheduler, on their own (no Telegram, no processes)."""

from __future__ import annotations

import asyncio
import sqlite3
import time

from bot.frontends.telegram.inbox import Inbox
from bot.frontends.telegram.limits import SlidingWindow
from bot.frontends.telegram.scheduler import Job, JobKind, Scheduler


def _update(update_id: int, chat_id: int = 1) -> dict:
    return {"update_id": update_id, "message": {"message_id": update_id, "chat": {"id": chat_id}, "text": "hỏi"}}


def test_inbox_keeps_updates_until_done_and_never_takes_one_twice(tmp_path):
    path = tmp_path / "inbox.sqlite"
    inbox = Inbox(path)
    assert inbox.next_offset() == 0
    fresh = inbox.add([_update(5), _update(6), _update(7)])
    assert [u.update_id for u in fresh] == [5, 6, 7]
    assert inbox.next_offset() == 8
    inbox.mark_done(6)
    assert [u.update_id for u in inbox.add([_update(6), _update(7), _update(8)])] == [8]  # re-delivered: not new
    inbox.close()

    reopened = Inbox(path)  # a restart (or a crash: every commit is synced)
    assert [u.update_id for u in reopened.pending()] == [5, 7, 8]
    assert reopened.pending()[0].body == _update(5)
    assert reopened.outcome(6) == "answered" and reopened.outcome(5) is None
    reopened.mark_done(5, "dropped")
    reopened.mark_done(5)  # idempotent: the first outcome stays
    assert reopened.outcome(5) == "dropped"
    assert reopened.counts() == {"answered": 1, "dropped": 1, "pending": 2}
    assert reopened.next_offset() == 9
    assert reopened.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert reopened.db.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL: fsync on every commit
    assert reopened.prune(keep_s=-1) == 2 and reopened.next_offset() == 9  # the last id outlives the rows
    reopened.close()


def test_inbox_commits_are_visible_to_another_connection_at_once(tmp_path):
    """What a crash leaves is what another reader sees: nothing waits in a buffer of the process."""
    inbox = Inbox(tmp_path / "inbox.sqlite")
    inbox.add([_update(1), _update(2)])
    inbox.mark_done(1)
    other = sqlite3.connect(tmp_path / "inbox.sqlite")
    rows = other.execute("SELECT update_id, outcome FROM updates ORDER BY update_id").fetchall()
    assert rows == [(1, "answered"), (2, None)]
    other.close()
    inbox.close()


class Clock:
    """Per-chat windows as the bot's rate limiter keeps them (a real SlidingWindow per chat)."""

    def __init__(self, rate: tuple[int, float]):
        self.rate = rate
        self.windows: dict[int, SlidingWindow] = {}

    def window(self, chat_id: int) -> SlidingWindow:
        return self.windows.setdefault(chat_id, SlidingWindow(*self.rate))

    def wait_s(self, chat_id: int) -> float:
        return self.window(chat_id).wait_s(asyncio.get_running_loop().time())


def _scheduler(clock: Clock, done: list, cap: int = 100, workers: int = 2, work_s: float = 0.01):
    notices: list[Job] = []

    async def run(job: Job) -> None:
        await asyncio.sleep(work_s)
        if job.chat_id is not None:
            await clock.window(job.chat_id).acquire()  # the reply is sent through the chat's window
        done.append((job.kind, job.chat_id, job.update_id, time.monotonic()))

    def dropped(job: Job, first: bool) -> Job | None:
        if first:
            notices.append(job)
            return Job(job.update_id, job.chat_id, job.payload, JobKind.NOTICE)
        return None

    return Scheduler(run, clock.wait_s, lambda chat_id: cap, dropped, workers=workers), notices


def test_a_flooding_chat_does_not_hold_the_workers():
    """Chat 1 sends 30 questions at once (one a second at most); 10 other chats ask one each,
    then a button press comes: each is answered at once, chat 1's answers stay in order."""
    done: list = []

    async def main() -> float:
        clock = Clock((1, 0.3))  # one message per 0.3 s per chat
        scheduler, _ = _scheduler(clock, done, workers=2)
        started = time.monotonic()
        for n in range(30):
            scheduler.submit(Job(n, 1, None))
        for chat in range(2, 12):
            scheduler.submit(Job(100 + chat, chat, None))
        scheduler.submit(Job(999, None, None))  # a button press: no chat pace
        await asyncio.sleep(1.0)
        await scheduler.close(grace_s=1.0)
        return started

    started = asyncio.run(main())
    others = [at - started for kind, chat, _, at in done if chat not in (1, None)]
    press = [at - started for _, chat, _, at in done if chat is None]
    flood = [update_id for _, chat, update_id, _ in done if chat == 1]
    assert len(others) == 10 and max(others) < 0.3  # not behind chat 1's pace
    assert press and press[0] < 0.1
    assert flood == sorted(flood) and 2 <= len(flood) <= 5  # one per 0.3 s, in order; the rest left queued


def test_a_flood_is_capped_with_one_notice_and_the_rest_waits():
    done: list = []

    async def main() -> tuple[list, int]:
        clock = Clock((3, 0.2))
        scheduler, notices = _scheduler(clock, done, cap=5, workers=4)
        accepted = [scheduler.submit(Job(n, 7, None)) for n in range(20)]
        deadline = time.monotonic() + 5
        while scheduler.busy and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        return accepted, len(notices)

    accepted, notices = asyncio.run(main())
    assert notices == 1
    assert accepted == [True] * 5 + [False] * 15  # five waiting: the cap
    kinds = [kind for kind, *_ in done]
    assert kinds.count(JobKind.NOTICE) == 1 and kinds.count(JobKind.UPDATE) == 5
    assert [u for k, _, u, _ in done if k == JobKind.UPDATE] == list(range(5))
    assert kinds[-1] == JobKind.NOTICE  # after the questions it kept


def test_close_lets_running_jobs_finish_and_leaves_the_queued_ones():
    done: list = []

    async def main() -> tuple[int, int]:
        clock = Clock((100, 1.0))
        scheduler, _ = _scheduler(clock, done, workers=2, work_s=0.3)
        for n in range(10):
            scheduler.submit(Job(n, n % 3 + 1, None))
        await asyncio.sleep(0.1)  # two are running
        started = time.monotonic()
        late = await scheduler.close(grace_s=2.0)
        assert not scheduler.submit(Job(50, 1, None))  # closed: nothing new
        return late, round(time.monotonic() - started)

    late, seconds = asyncio.run(main())
    assert late == 0 and seconds == 0 and len(done) == 2


def test_close_cancels_what_outlives_the_grace():
    done: list = []

    async def main() -> int:
        scheduler, _ = _scheduler(Clock((100, 1.0)), done, workers=2, work_s=5.0)
        scheduler.submit(Job(1, 1, None))
        await asyncio.sleep(0.05)
        return await scheduler.close(grace_s=0.2)

    assert asyncio.run(main()) == 1 and not done


def test_the_transport_tells_when_a_reply_is_handed_over(shipped):
    """The moment a request's body is written (before Telegram answers) is reported, so the
    update is recorded as handed over before a crash could strike between the reply and the mark."""
    from bot.frontends.messages import load_messages
    from bot.frontends.telegram.app import build_application
    from bot.service import Service
    from fake_bot_api import TOKEN, FakeBotApi

    settings, index = shipped
    written: list[tuple[str, float]] = []
    with FakeBotApi() as api:
        api.delay("sendMessage", 0.3)
        application = build_application(Service(settings, index), load_messages(), TOKEN, api.base_url, updater=False)
        application.bot_data["transport"].writing = lambda method: written.append((method, time.monotonic()))

        async def main() -> float:
            async with application:
                await application.bot.send_message(1001, "xin chào")
                return time.monotonic()

        answered = asyncio.run(main())
    sends = [at for method, at in written if method == "sendMessage"]
    assert len(sends) == 1 and answered - sends[0] >= 0.25  # reported when written, not when answered


def test_the_handover_log_survives_the_process_and_forgets_failed_attempts(tmp_path):
    from bot.frontends.telegram.handover import SLOTS, HandoverLog

    log = HandoverLog(tmp_path / "inbox.handover")
    for update_id in (5, 6, 7):
        log.note(update_id)
    log.clear(6)
    assert log.recorded() == {5, 7}
    log.close()  # no flush: the stores are in the file's pages
    again = HandoverLog(tmp_path / "inbox.handover")
    assert again.recorded() == {5, 7}
    again.reset()
    for update_id in range(1, SLOTS + 3):  # a ring: the oldest slots are reused
        again.note(update_id)
    assert len(again.recorded()) == SLOTS and 1 not in again.recorded()
    again.close()
