"""The lines ``python -m bot pull`` prints: one per article (or feed) as it happens, then a summary."""

from __future__ import annotations

from bot.corpus.pulling import Outcome, PullEvent, PullReport
from bot.frontends.messages import Messages, format_date, format_source


def pull_line(event: PullEvent, messages: Messages) -> str:
    """'added 012: Title — Source, 10/06/2024 <- URL', 'skipped URL: why', 'failed URL: why'."""
    a = event.article
    if a is not None and event.outcome in (Outcome.ADDED, Outcome.UPDATED):
        return (
            f"{event.outcome} {a.id}: {a.title} — {format_source(a.source, messages)}, "
            f"{format_date(a.date, messages)} <- {event.url}"
        )
    return f"{event.outcome} {event.url}: {event.reason}"


def print_pull_event(event: PullEvent, messages: Messages) -> None:
    print(pull_line(event, messages), flush=True)


def pull_summary(report: PullReport) -> str:
    """'2 added, 0 updated, 3 skipped, 1 failed; 1 feed unchanged (304); 9 requests'."""
    unchanged = report.count(Outcome.UNCHANGED)
    feeds = f"; {unchanged} feed{'s' if unchanged != 1 else ''} unchanged (304)" if unchanged else ""
    return (
        f"{report.count(Outcome.ADDED)} added, {report.count(Outcome.UPDATED)} updated, "
        f"{report.count(Outcome.SKIPPED)} skipped, {report.failed} failed{feeds}; {report.requests} requests"
    )
