"""Command line: ``python -m bot index|ask|sources|source|chat|serve``."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path
from typing import Sequence

from bot.answer import answer_question
from bot.config import ConfigError, Settings, load_settings
from bot.index import BuildReport, build_index, ensure_index, recorded_corpus
from bot.messages import load_messages
from bot.render import render_answer, render_source, render_sources
from bot.sources import get_source, list_sources

log = logging.getLogger("bot")


class UserError(Exception):
    """A problem the user can fix; printed as one line, exit status 2."""


def _add_paths(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--corpus", help="corpus folder or file (default: from config)")
    parser.add_argument("--index-dir", help="index folder (default: from config)")
    parser.add_argument("--config", help="settings file (default: config/settings.yaml)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bot",
        description="Hỏi đáp tin tức tiếng Việt / Vietnamese news Q&A. "
        "With no command: the Telegram bot when TELEGRAM_BOT_TOKEN is set, else a console chat.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log more")
    sub = parser.add_subparsers(dest="command")

    p = sub.add_parser("index", help="build or refresh the index")
    _add_paths(p)
    p.add_argument("--force", action="store_true", help="rebuild even when up to date")

    p = sub.add_parser("ask", help="answer a question ('-' reads one question per line from stdin)")
    p.add_argument("question", help="the question, or '-' for standard input")
    p.add_argument("--top-k", type=int, default=None, help="number of passages (default: from config)")
    p.add_argument("--json", action="store_true", help="print JSON")
    _add_paths(p)

    p = sub.add_parser("sources", help="list the articles")
    p.add_argument("query", nargs="?", default="", help="only articles whose title or source contains this")
    p.add_argument("--json", action="store_true", help="print JSON")
    _add_paths(p)

    p = sub.add_parser("source", help="show one article's metadata and passages")
    p.add_argument("id", help="article id (see 'sources')")
    p.add_argument("--json", action="store_true", help="print JSON")
    _add_paths(p)

    p = sub.add_parser("chat", help="console chat (no Telegram token needed)")
    _add_paths(p)
    return parser


def _settings(args: argparse.Namespace) -> Settings:
    settings = load_settings(getattr(args, "config", None))
    corpus = Path(args.corpus) if getattr(args, "corpus", None) else None
    index_dir = Path(args.index_dir) if getattr(args, "index_dir", None) else None
    if index_dir is not None and corpus is None:
        recorded = recorded_corpus(index_dir)  # an index folder remembers the corpus it was built from
        corpus = recorded if recorded is not None and recorded.exists() else None
    return settings.with_paths(corpus, index_dir)


def _report(report: BuildReport, stream=sys.stderr) -> None:
    for problem in report.problems:
        print(f"warning: skipped {problem}", file=stream)
    if report.action == "loaded":
        return
    print(
        f"index {report.action}: {report.articles} articles, {report.passages} passages "
        f"({report.segmented} segmented, {report.seconds:.1f} s)"
        + (f" — {report.reason}" if report.action == "rebuilt" else ""),
        file=stream,
    )


def open_index(settings: Settings, quiet: bool = False):
    """The index, built or refreshed when needed; missing corpus is a UserError."""
    try:
        index, report = ensure_index(settings, progress=sys.stderr.isatty())
    except FileNotFoundError:
        raise UserError(f"corpus not found: {settings.corpus}") from None
    if not quiet or report.action != "loaded":
        _report(report)
    return index


def cmd_index(args: argparse.Namespace) -> int:
    settings = _settings(args)
    if not settings.corpus.exists():
        raise UserError(f"corpus not found: {settings.corpus}")
    if args.force:
        report = build_index(settings, progress=sys.stderr.isatty())
        report.reason = "forced"
    else:
        _, report = ensure_index(settings, progress=sys.stderr.isatty())
    for problem in report.problems:
        print(f"warning: skipped {problem}", file=sys.stderr)
    if report.action == "loaded":
        print(f"index up to date: {report.articles} articles, {report.passages} passages in {settings.index_dir}")
    else:
        print(
            f"index {report.action}: {report.articles} articles, {report.passages} passages, "
            f"{report.segmented} articles segmented, {report.seconds:.1f} s -> {settings.index_dir}"
        )
    return 0


def cmd_ask(args: argparse.Namespace) -> int:
    settings = _settings(args)
    if args.top_k is not None and not 1 <= args.top_k <= settings.answer.max_top_k:
        raise UserError(f"--top-k must be between 1 and {settings.answer.max_top_k}")
    index = open_index(settings, quiet=True)
    messages = load_messages()
    questions = sys.stdin if args.question == "-" else [args.question]
    for line in questions:
        question = line.rstrip("\n") if args.question == "-" else line
        answer = answer_question(index, question, settings, args.top_k)
        if args.json:
            print(json.dumps(answer.to_json(), ensure_ascii=False), flush=True)
        else:
            print(render_answer(answer, messages, limit=10**9, limit_question=settings.answer.max_question_chars))
            if args.question == "-":
                print()
    return 0


def cmd_sources(args: argparse.Namespace) -> int:
    index = open_index(_settings(args), quiet=True)
    sources = list_sources(index, args.query)
    if args.json:
        print(json.dumps([s.to_json() for s in sources], ensure_ascii=False, indent=1))
    else:
        print(render_sources(sources, load_messages(), query=args.query))
    return 0


def cmd_source(args: argparse.Namespace) -> int:
    index = open_index(_settings(args), quiet=True)
    found = get_source(index, args.id)
    messages = load_messages()
    if found is None:
        raise UserError(messages.get("source_not_found", id=args.id))
    info, passages = found
    if args.json:
        print(json.dumps(dict(info.to_json(), passages_text=passages), ensure_ascii=False, indent=1))
    else:
        print(render_source(info, passages, messages, first_chars=10**9, limit=10**9))
    return 0


def cmd_chat(args: argparse.Namespace) -> int:
    from bot.console import run_console

    settings = _settings(args)
    return run_console(open_index(settings), settings, load_messages())


COMMANDS = {
    "index": cmd_index,
    "ask": cmd_ask,
    "sources": cmd_sources,
    "source": cmd_source,
    "chat": cmd_chat,
}


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if args.command is None:
        args.command = "serve" if os.environ.get("TELEGRAM_BOT_TOKEN") and "serve" in COMMANDS else "chat"
        for name in ("corpus", "index_dir", "config"):
            setattr(args, name, None)
    try:
        return COMMANDS[args.command](args)
    except (UserError, ConfigError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0
