"""Command line: ``python -m bot index|ask|sources|source|add|remove|chat|serve``."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TypeVar

from bot.corpus.adding import AddReport
from bot.corpus.article import Corpus, LoadProblem
from bot.frontends.messages import Messages, format_date, format_source, load_messages
from bot.frontends.render import render_answer, render_source, render_sources
from bot.service import BuildMode, BuildReport, IndexAction, Service, ServiceError, build, configure
from bot.settings import ConfigError, Environment, Settings, load_settings

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
    p.add_argument("--workers", type=int, default=None, help="segmenting processes (default: index.workers)")

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

    p = sub.add_parser(
        "add", help="add articles: saved web pages (.html), .txt/.md files, .jsonl(.gz) exports, folders"
    )
    p.add_argument("paths", nargs="+", metavar="PATH", help="files or folders (read recursively)")
    _add_paths(p)

    p = sub.add_parser("remove", help="remove an article from the corpus (and the index)")
    p.add_argument("id", help="article id (see 'sources')")
    _add_paths(p)

    p = sub.add_parser("chat", help="console chat (no Telegram token needed)")
    _add_paths(p)

    p = sub.add_parser(
        "serve",
        help="run the Telegram bot (token from TELEGRAM_BOT_TOKEN, Bot API address from TELEGRAM_API_BASE_URL)",
    )
    _add_paths(p)

    p = sub.add_parser("eval", help="measure answer quality on a retrieval benchmark")
    p.add_argument("--contexts", required=True, help="JSON Lines of contexts {id, title, text}")
    p.add_argument(
        "--questions",
        required=True,
        help="JSON Lines of {question, gold_context_id}, or a YAML set with answer phrases (eval/)",
    )
    p.add_argument("--top-k", type=int, default=None, help="passages looked at per question (default 60)")
    p.add_argument("--strip-accents", action="store_true", help="remove diacritics from the questions")
    p.add_argument("--refusal", action="store_true", help="also ask each question with its gold context left out")
    p.add_argument("--folds", type=int, default=5, help="indexes built for --refusal (default 5)")
    p.add_argument("--half", choices=("tune", "report"), help="only one half of the questions")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.add_argument("--config", help="settings file (default: config/settings.yaml)")
    return parser


def _settings(args: argparse.Namespace) -> Settings:
    settings = load_settings(getattr(args, "config", None))
    return configure(settings, getattr(args, "corpus", None), getattr(args, "index_dir", None))


def _progress() -> bool:
    return sys.stderr.isatty()


def _print_problems(problems: Sequence[LoadProblem]) -> None:
    """Corpus files (or lines) that were skipped, and why, on stderr."""
    for problem in problems:
        print(f"warning: skipped {problem}", file=sys.stderr)


def describe_build(report: BuildReport, settings: Settings) -> str:
    """One line on what happened to the index: loaded as it was, built or rebuilt (and why)."""
    where = f"({settings.corpus} -> {settings.index_dir})"
    if report.action == IndexAction.LOADED:
        return f"index loaded: {report.articles} articles, {report.passages} passages, up to date {where}"
    reason = f" — {report.reason}" if report.action == IndexAction.REBUILT and report.reason else ""
    how = {
        BuildMode.DELTA: f"; incremental: {report.detail}",
        BuildMode.COMPACTED: "; compacted: all parts merged into one from the segment cache",
    }.get(report.mode, "")
    return (
        f"index {report.action}: {report.articles} articles, {report.passages} passages, "
        f"{report.segmented} articles segmented, {report.seconds:.1f} s{how} {where}{reason}"
    )


def open_service(args: argparse.Namespace, settings: Settings, quiet: bool = False) -> Service:
    """The service over the index (built or refreshed when needed); warnings, and the build
    line when the index had to be built, on stderr (stdout is the answer). ``quiet``: warnings
    only with a build. An ``--index-dir`` without ``--corpus`` is used as it is when its
    corpus is not on this machine."""
    as_is = bool(getattr(args, "index_dir", None) and not getattr(args, "corpus", None))
    service, report = Service.open(settings, progress=_progress(), as_is=as_is)
    if report is not None and (not quiet or report.action != IndexAction.LOADED):
        _print_problems(report.problems)
        if report.action != IndexAction.LOADED:
            print(describe_build(report, settings), file=sys.stderr)
    return service


def cmd_index(args: argparse.Namespace) -> int:
    settings = _settings(args).with_workers(args.workers)
    report = build(settings, force=args.force, progress=_progress())
    _print_problems(report.problems)
    print(describe_build(report, settings))
    return 0


def cmd_ask(args: argparse.Namespace) -> int:
    settings = _settings(args)
    if args.top_k is not None and not 1 <= args.top_k <= settings.answer.max_top_k:
        raise UserError(f"--top-k must be between 1 and {settings.answer.max_top_k}")
    service = open_service(args, settings, quiet=True)
    messages = load_messages(settings.messages_file)
    questions = sys.stdin if args.question == "-" else [args.question]
    for line in questions:
        question = line.rstrip("\n") if args.question == "-" else line
        answer = service.ask(question, args.top_k)
        if args.json:
            print(json.dumps(answer.to_json(), ensure_ascii=False), flush=True)
        else:
            print(render_answer(answer, messages, limit=10**9, limit_question=settings.answer.max_question_chars))
            if args.question == "-":
                print()
    return 0


def cmd_sources(args: argparse.Namespace) -> int:
    settings = _settings(args)
    sources = open_service(args, settings, quiet=True).sources(args.query)
    if args.json:
        print(json.dumps([s.to_json() for s in sources], ensure_ascii=False, indent=1))
    else:
        print(render_sources(sources, load_messages(settings.messages_file), query=args.query))
    return 0


def cmd_source(args: argparse.Namespace) -> int:
    settings = _settings(args)
    found = open_service(args, settings, quiet=True).source(args.id)
    messages = load_messages(settings.messages_file)
    if found is None:
        raise UserError(messages.get("source_not_found", id=args.id))
    if args.json:
        print(json.dumps(dict(found.info.to_json(), passages_text=found.passages), ensure_ascii=False, indent=1))
    else:
        print(render_source(found.info, found.passages, messages, first_chars=10**9, limit=10**9))
    return 0


def _print_add_report(report: AddReport, messages: Messages) -> None:
    for item in report.added:
        a = item.article
        inferred = f" [inferred: {', '.join(a.inferred)}]" if a.inferred else ""
        print(
            f"added {a.id}: {a.title} — {format_source(a.source, messages)}, {format_date(a.date, messages)}"
            f"{inferred} <- {item.origin}"
        )
    for item in report.skipped:
        print(f"skipped {item.origin}: duplicate of {item.duplicate.article_id} ({item.duplicate.reason})")
    for problem in report.failed:
        print(f"failed {problem.path}: {problem.reason}")
    ignored = f"; {report.ignored} other files in folders ignored" if report.ignored else ""
    print(
        f"{len(report.added)} added, {len(report.skipped)} skipped as duplicate, {len(report.failed)} failed{ignored}"
    )


def _print_build(report: BuildReport | None, settings: Settings) -> None:
    """The build line after a corpus change (nothing when the index was up to date)."""
    if report is not None and report.action != IndexAction.LOADED:
        print(describe_build(report, settings))


def cmd_add(args: argparse.Namespace) -> int:
    settings = _settings(args)
    result = Service(settings).add([Path(p) for p in args.paths], progress=_progress())
    _print_add_report(result.report, load_messages(settings.messages_file))
    _print_build(result.build, settings)
    return 1 if result.report.failed else 0


def cmd_remove(args: argparse.Namespace) -> int:
    settings = _settings(args)
    result = Service(settings).remove(args.id, progress=_progress())
    print(f"removed {args.id}: {result.path}")
    _print_build(result.build, settings)
    return 0


def cmd_chat(args: argparse.Namespace) -> int:
    from bot.frontends.console import run_console

    settings = _settings(args)
    return run_console(open_service(args, settings), load_messages(settings.messages_file))


def cmd_serve(args: argparse.Namespace) -> int:
    environment = Environment.read()
    if not environment.token:
        raise UserError(
            "TELEGRAM_BOT_TOKEN is not set: export the token BotFather gave you, "
            "or run 'python -m bot chat' for a console chat"
        )
    from telegram.error import TelegramError

    from bot.frontends.telegram.app import serve
    from bot.frontends.telegram.redact import redact_token

    settings = _settings(args)
    service, report = Service.open(settings, progress=_progress())
    _print_problems(report.problems)
    print(describe_build(report, settings), flush=True)
    messages = load_messages(settings.messages_file)
    service.warm_up()
    try:
        serve(service, messages, environment)
    except TelegramError as exc:
        raise UserError(f"Telegram: {redact_token(str(exc), environment.token)}") from None


Q = TypeVar("Q")


def _eval_inputs(source: Path, load_questions: Callable[[], list[Q]], half: str | None) -> tuple[Corpus, list[Q]]:
    """An eval's contexts (their problems printed) and its questions, one half of them or all."""
    from bot.frontends import evaluate as ev

    try:
        contexts = ev.load_contexts(source)
        questions = ev.select_half(load_questions(), half)
    except ev.EvalError as exc:
        raise UserError(str(exc)) from None
    _print_problems(contexts.problems)
    return contexts, questions


def _eval_question_set(args: argparse.Namespace, settings: Settings, source: Path) -> int:
    """``eval`` with a YAML question set: answer phrases over a news corpus."""
    from bot.frontends import answer_eval

    contexts, questions = _eval_inputs(source, lambda: answer_eval.load_question_set(Path(args.questions)), args.half)
    report = answer_eval.evaluate_question_set(contexts, source, questions, settings)
    print(json.dumps(report.to_json()) if args.json else answer_eval.format_answer_report(report))
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    from bot.frontends import answer_eval
    from bot.frontends import evaluate as ev

    settings = load_settings(args.config)
    depth = ev.PASSAGE_DEPTH if args.top_k is None else args.top_k
    if not 1 <= depth <= 1000:
        raise UserError("--top-k must be between 1 and 1000")
    if not 2 <= args.folds <= 100:
        raise UserError("--folds must be between 2 and 100")
    source = Path(args.contexts)
    if answer_eval.is_question_set(Path(args.questions)):
        return _eval_question_set(args, settings, source)
    contexts, questions = _eval_inputs(source, lambda: ev.load_questions(Path(args.questions)), args.half)
    unknown = ev.unknown_gold(questions, contexts.articles)
    if unknown:
        print(
            f"warning: {len(unknown)} of {len(questions)} questions name a gold context that is not in {source}"
            f" (the first: {unknown[0].gold!r}); they count as misses",
            file=sys.stderr,
        )
    articles = contexts.articles
    report, outcomes = ev.evaluate(articles, source, questions, settings, args.strip_accents, depth)
    refusals = (
        ev.evaluate_refusals(articles, source, questions, outcomes, settings, args.folds, args.strip_accents, depth)
        if args.refusal
        else None
    )
    if args.json:
        print(json.dumps(dict(report.to_json(), **(refusals.to_json() if refusals else {}))))
    else:
        print(ev.format_report(report, "accents stripped" if args.strip_accents else ""))
        if refusals:
            print(ev.format_refusals(refusals))
    return 0


COMMANDS = {
    "index": cmd_index,
    "ask": cmd_ask,
    "sources": cmd_sources,
    "source": cmd_source,
    "add": cmd_add,
    "remove": cmd_remove,
    "chat": cmd_chat,
    "serve": cmd_serve,
    "eval": cmd_eval,
}


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if args.command is None:
        args.command = "serve" if Environment.read().token_given and "serve" in COMMANDS else "chat"
        for name in ("corpus", "index_dir", "config"):
            setattr(args, name, None)
    try:
        return COMMANDS[args.command](args)
    except (UserError, ServiceError, ConfigError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0
