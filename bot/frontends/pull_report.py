"""The lines ``python -m bot pull`` prints: one per article (or feed) as it happens, then a summary."""

from __future__ import annotations

from bot.corpus.pulling import Outcome, PullEvent, PullReport
from bot.frontends.messages import Messages, stored_line


def pull_line(event: PullEvent, messages: Messages, lang: str = "vi") -> str:
    """'added 012: Title — Source, 10/06/2024 <- URL', 'skipped URL: why', 'failed URL: why'."""
    a = event.article
    if a is not None and event.outcome in (Outcome.ADDED, Outcome.UPDATED):
        key = "cli_added" if event.outcome is Outcome.ADDED else "pull_updated"
        return stored_line(key, a, event.url, messages, lang)
    return messages.get(
        "pull_other",
        lang,
        outcome=messages.get(f"pull_outcome_{event.outcome}", lang),
        url=event.url,
        reason=event.reason,
    )


def pull_summary(report: PullReport, messages: Messages, lang: str = "vi") -> str:
    """'2 added, 0 updated, 3 skipped, 1 failed; 1 feed unchanged (304); 9 requests'."""
    unchanged = report.count(Outcome.UNCHANGED)
    return messages.get(
        "pull_summary",
        lang,
        added=report.count(Outcome.ADDED),
        updated=report.count(Outcome.UPDATED),
        skipped=report.count(Outcome.SKIPPED),
        failed=report.failed,
        unchanged=messages.get("pull_unchanged", lang, count=unchanged) if unchanged else "",
        requests=report.requests,
    )
