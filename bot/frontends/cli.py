"""Command line: ``vnqa-bot`` / ``python -m bot index|ask|sources|source|add|remove|chat|serve|eval``.

One language per run (``--lang``, else the locale, else Vietnamese) for help, errors,
warnings, progress and answers; the texts are in config/messages.yaml.
"""

from __future__ import annotations

import argparse
import dataclasses
import errno
import json
import logging
import sys
import threading
import traceback
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any, TextIO, TypeVar

from bot.answer.filters import FilterError, make_filter
from bot.corpus.adding import AddReport
from bot.corpus.article import Corpus, LoadProblem
from bot.frontends.messages import Messages, load_messages, run_language, stored_line
from bot.frontends.render import render_answer, render_source, render_sources
from bot.frontends.terminal import for_terminal, terminal_width
from bot.service import BuildMode, BuildReport, IndexAction, Service, ServiceError, build, configure
from bot.settings import AnswerSettings, ConfigError, Environment, Settings, default, load_settings

log = logging.getLogger("bot")

LANGUAGES = ("vi", "en")
NOTICE_AFTER_S = 2.0  # work still running after this long says what it is doing


class UserError(Exception):
    """A problem the user can fix; printed as one line, exit status 2."""


@dataclass(frozen=True)
class Run:
    """What every command of one run shares: its language, texts and name."""

    lang: str
    messages: Messages
    prog: str = "python -m bot"
    verbose: bool = False

    def text(self, key: str, **values: Any) -> str:
        return self.messages.get(key, self.lang, **values)

    def count(self, key: str, n: int) -> str:
        """'1 article', '5 articles' ('n_articles'), '5 bài' in Vietnamese."""
        return self.messages.get(key, self.lang, count=n)

    def warn(self, text: str) -> None:
        print(text, file=sys.stderr, flush=True)


def _program_version() -> str:
    try:
        return version("vn-news-qa-bot")
    except PackageNotFoundError:
        return "0+unknown"


def _add_paths(parser: argparse.ArgumentParser, h: dict[str, str]) -> None:
    parser.add_argument("--corpus", metavar="PATH", help=h["corpus"])
    parser.add_argument("--index-dir", metavar="DIR", help=h["index_dir"])
    parser.add_argument("--config", metavar="FILE", help=h["config"])


def build_parser(messages: Messages, lang: str = "vi", prog: str = "python -m bot") -> argparse.ArgumentParser:
    """The parser with its help in ``lang``; ``-v`` and ``--lang`` go before or after the command."""
    h = messages.mapping("cli_help", lang)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("-h", "--help", action="help", default=argparse.SUPPRESS, help=h["help"])
    common.add_argument("-v", "--verbose", action="store_true", default=argparse.SUPPRESS, help=h["verbose"])
    common.add_argument("--lang", choices=LANGUAGES, default=argparse.SUPPRESS, help=h["lang"])
    parser = argparse.ArgumentParser(prog=prog, description=h["description"], parents=[common], add_help=False)
    parser.add_argument("--version", action="version", version=f"%(prog)s {_program_version()}", help=h["version"])
    sub = parser.add_subparsers(dest="command", title=h["commands"], metavar="{" + ",".join(COMMANDS) + "}")

    def command(name: str) -> argparse.ArgumentParser:
        return sub.add_parser(name, help=h[name], description=h[name], parents=[common], add_help=False)

    p = command("index")
    _add_paths(p, h)
    p.add_argument("--force", action="store_true", help=h["force"])
    p.add_argument("--workers", type=int, default=None, metavar="N", help=h["workers"])

    p = command("ask")
    p.add_argument("question", help=h["question"])
    top_k = h["top_k"].format(high=default(AnswerSettings, "max_top_k"), default=default(AnswerSettings, "top_k"))
    p.add_argument("--top-k", type=int, default=None, metavar="N", help=top_k)
    p.add_argument("--json", action="store_true", help=h["json"])
    p.add_argument("--since", metavar="YYYY-MM-DD", help=h["since"])
    p.add_argument("--until", metavar="YYYY-MM-DD", help=h["until"])
    p.add_argument("--source", metavar="NAME", help=h["source_filter"])
    _add_paths(p, h)

    p = command("sources")
    p.add_argument("query", nargs="?", default="", help=h["query"])
    p.add_argument("--json", action="store_true", help=h["json"])
    _add_paths(p, h)

    p = command("source")
    p.add_argument("id", help=h["id"])
    p.add_argument("--json", action="store_true", help=h["json"])
    _add_paths(p, h)

    p = command("add")
    p.add_argument("paths", nargs="+", metavar="PATH", help=h["paths"])
    _add_paths(p, h)

    p = command("pull")
    p.add_argument("urls", nargs="*", metavar="URL", help=h["urls"])
    _add_paths(p, h)

    p = command("remove")
    p.add_argument("id", help=h["id"])
    _add_paths(p, h)

    _add_paths(command("chat"), h)
    p = command("serve")
    _add_paths(p, h)
    p.add_argument("--inbox", metavar="FILE", help=h["inbox"])

    p = command("eval")
    p.add_argument("--contexts", required=True, metavar="FILE", help=h["contexts"])
    p.add_argument("--questions", required=True, metavar="FILE", help=h["questions"])
    p.add_argument("--top-k", type=int, default=None, metavar="N", help=h["eval_top_k"])
    p.add_argument("--strip-accents", action="store_true", help=h["strip_accents"])
    p.add_argument("--refusal", action="store_true", help=h["refusal"])
    p.add_argument("--folds", type=int, default=5, metavar="N", help=h["folds"])
    p.add_argument("--half", choices=("tune", "report"), help=h["half"])
    p.add_argument("--json", action="store_true", help=h["json"])
    p.add_argument("--config", metavar="FILE", help=h["config"])
    return parser


def _settings(args: argparse.Namespace) -> Settings:
    settings = load_settings(getattr(args, "config", None))
    return configure(settings, getattr(args, "corpus", None), getattr(args, "index_dir", None))


def _progress() -> bool:
    return sys.stderr.isatty()


def _check_range(run: Run, option: str, value: int, low: int, high: int) -> None:
    if not low <= value <= high:
        raise UserError(run.text("cli_range", option=option, low=low, high=high))


def _print_problems(problems: Sequence[LoadProblem], run: Run) -> None:
    """Corpus files (or lines) that were skipped (or loaded without a field), and why, on stderr."""
    for problem in problems:
        run.warn(run.text("cli_warning_loaded" if problem.loaded else "cli_warning_skipped", problem=problem))


@contextmanager
def notice(text: str, stream: TextIO | None = None, after: float = NOTICE_AFTER_S) -> Iterator[None]:
    """Say ``text`` on ``stream`` (stderr) when the work inside takes longer than ``after``
    seconds; only on a terminal, like the progress bars (pipes and files get no chatter)."""
    stream = stream or sys.stderr
    if not stream.isatty():
        yield
        return
    done = threading.Event()

    def say() -> None:
        if not done.wait(after):
            print("\r\x1b[K" + text, file=stream, flush=True)  # over a progress bar's line

    speaker = threading.Thread(target=say, daemon=True)
    speaker.start()
    try:
        yield
    finally:
        done.set()
        speaker.join()


def describe_build(report: BuildReport, settings: Settings, run: Run) -> str:
    """One line on what happened to the index: loaded as it was, built or rebuilt (and why)."""
    where = f"{settings.corpus} -> {settings.index_dir}"
    articles, passages = run.count("n_articles", report.articles), run.count("n_passages", report.passages)
    if report.action == IndexAction.LOADED:
        return run.text("cli_index_loaded", articles=articles, passages=passages, where=where)
    reason = run.messages.mapping("cli_reasons", run.lang).get(report.reason, report.reason)
    reason = f" — {reason}" if report.action == IndexAction.REBUILT and reason else ""
    how = {
        BuildMode.DELTA: run.text("cli_index_delta", detail=report.detail),
        BuildMode.COMPACTED: run.text("cli_index_compacted"),
    }.get(report.mode, "")
    return run.text(
        "cli_index_rebuilt" if report.action == IndexAction.REBUILT else "cli_index_built",
        articles=articles,
        passages=passages,
        segmented=run.count("n_articles", report.segmented),
        seconds=f"{report.seconds:.1f}",
        how=how,
        where=where,
        reason=reason,
    )


def open_service(args: argparse.Namespace, settings: Settings, run: Run, quiet: bool = False) -> Service:
    """The service over the index (built or refreshed when needed); warnings, and the build
    line when the index had to be built, on stderr (stdout is the answer). ``quiet``: warnings
    only with a build. An ``--index-dir`` without ``--corpus`` is used as it is when its
    corpus is not on this machine."""
    as_is = bool(getattr(args, "index_dir", None) and not getattr(args, "corpus", None))
    with notice(run.text("cli_opening", corpus=settings.corpus)):
        service, report = Service.open(settings, progress=_progress(), as_is=as_is)
    if report is not None and (not quiet or report.action != IndexAction.LOADED):
        _print_problems(report.problems, run)
        if report.action != IndexAction.LOADED:
            run.warn(describe_build(report, settings, run))
    return service


def _show(text: str) -> None:
    """Plain text on stdout: bold and wrapped on a terminal, without marks otherwise."""
    print(for_terminal(text, terminal_width(sys.stdout)), flush=True)


def cmd_index(args: argparse.Namespace, run: Run) -> int:
    if args.workers is not None:
        _check_range(run, "--workers", args.workers, 1, 1024)
    settings = _settings(args).with_workers(args.workers)
    with notice(run.text("cli_building", corpus=settings.corpus)):
        report = build(settings, force=args.force, progress=_progress())
    _print_problems(report.problems, run)
    print(describe_build(report, settings, run))
    return 0


def cmd_ask(args: argparse.Namespace, run: Run) -> int:
    settings = _settings(args)
    if args.top_k is not None:
        _check_range(run, "--top-k", args.top_k, 1, settings.answer.max_top_k)
    messages = load_messages(settings.messages_file)
    try:
        filters = make_filter(args.since, args.until, args.source)
    except FilterError as exc:
        raise UserError(messages.get("bad_filter", run.lang, value=exc.value)) from None
    service = open_service(args, settings, run, quiet=True)
    questions = sys.stdin if args.question == "-" else [args.question]
    for line in questions:
        question = line.rstrip("\n") if args.question == "-" else line
        answer = service.ask(question, args.top_k, filters=filters)
        if args.json:
            print(json.dumps(dict(answer.to_json(), truncated=answer.truncated), ensure_ascii=False), flush=True)
        else:
            limit = settings.answer.max_question_chars
            _show(render_answer(answer, messages, run.lang, limit=10**9, limit_question=limit))
            if args.question == "-":
                print()
    return 0


def cmd_sources(args: argparse.Namespace, run: Run) -> int:
    settings = _settings(args)
    sources = open_service(args, settings, run, quiet=True).sources(args.query)
    if args.json:
        print(json.dumps([s.to_json() for s in sources], ensure_ascii=False, indent=1))
    else:
        _show(render_sources(sources, load_messages(settings.messages_file), run.lang, query=args.query))
    return 0


def cmd_source(args: argparse.Namespace, run: Run) -> int:
    if not args.id.strip():
        raise UserError(run.text("cli_source_empty", prog=run.prog))
    settings = _settings(args)
    found = open_service(args, settings, run, quiet=True).source(args.id)
    if found is None:
        raise UserError(run.text("cli_source_not_found", id=args.id.strip(), prog=run.prog))
    if args.json:
        print(json.dumps(dict(found.info.to_json(), passages_text=found.passages), ensure_ascii=False, indent=1))
    else:
        messages = load_messages(settings.messages_file)
        detail = render_source(found.info, [], messages, run.lang, first_chars=10**9, limit=10**9)
        _show("\n\n".join([detail, *found.passages]))
    return 0


def _print_add_report(report: AddReport, messages: Messages, run: Run) -> None:
    for item in report.added:
        print(stored_line("cli_added", item.article, item.origin, messages, run.lang))
    for skipped in report.skipped:
        duplicate = skipped.duplicate
        print(run.text("cli_skipped", origin=skipped.origin, id=duplicate.article_id, reason=duplicate.reason))
    for problem in report.failed:
        print(run.text("cli_failed", path=problem.path, reason=problem.reason))
    for problem in report.warnings:
        print(run.text("cli_warning_file", path=problem.path, reason=problem.reason))
    ignored = run.text("cli_ignored", count=report.ignored) if report.ignored else ""
    print(
        run.text(
            "cli_add_summary",
            added=len(report.added),
            skipped=len(report.skipped),
            failed=len(report.failed),
            ignored=ignored,
        )
    )


def _print_build(report: BuildReport | None, settings: Settings, run: Run) -> None:
    """The build line after a corpus change (nothing when the index was up to date)."""
    if report is not None and report.action != IndexAction.LOADED:
        print(describe_build(report, settings, run))


def cmd_add(args: argparse.Namespace, run: Run) -> int:
    settings = _settings(args)
    with notice(run.text("cli_adding", count=len(args.paths))):
        result = Service(settings).add([Path(p) for p in args.paths], progress=_progress())
    _print_add_report(result.report, load_messages(settings.messages_file), run)
    _print_build(result.build, settings, run)
    return 1 if result.report.failed else 0


def cmd_pull(args: argparse.Namespace, run: Run) -> int:
    from bot.frontends.pull_report import pull_line, pull_summary

    settings = _settings(args)
    messages = load_messages(settings.messages_file)
    result = Service(settings).pull(
        args.urls, lambda event: print(pull_line(event, messages, run.lang), flush=True), _progress()
    )
    print(pull_summary(result.report, messages, run.lang))
    _print_build(result.build, settings, run)
    return 1 if result.report.failed else 0


def cmd_remove(args: argparse.Namespace, run: Run) -> int:
    if not args.id.strip():
        raise UserError(run.text("cli_source_empty", prog=run.prog))
    settings = _settings(args)
    result = Service(settings).remove(args.id, progress=_progress())
    print(run.text("cli_removed", id=args.id.strip(), path=result.path))
    _print_build(result.build, settings, run)
    return 0


def cmd_chat(args: argparse.Namespace, run: Run) -> int:
    from bot.frontends.console import history_file, run_console

    settings = _settings(args)
    service = open_service(args, settings, run)
    history = history_file(Environment.read().data_home)
    return run_console(service, load_messages(settings.messages_file), lang=run.lang, history=history)


class _LibraryTracebacks(logging.Filter):
    """Without ``-v``: the Telegram library's log records without their tracebacks, and none
    for a failed start (the command line says what failed, in one line)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not record.name.startswith("telegram"):
            return True
        if "Bootstrap" in record.getMessage():
            return False
        record.exc_info, record.exc_text, record.stack_info = None, None, None
        return True


def serve_failure(exc: BaseException, environment: Environment, settings: Settings, run: Run) -> str | None:
    """The one line that says what stopped ``serve`` and what to check, or None when
    ``exc`` is not a start-up failure of the bot (a bug: its traceback is worth seeing)."""
    from telegram.error import InvalidToken, NetworkError, TelegramError

    from bot.frontends.telegram.polling import TokenRefused
    from bot.frontends.telegram.redact import redact_token

    if isinstance(exc, TokenRefused):
        return run.text("cli_serve_token_refused")
    if isinstance(exc, InvalidToken):
        return run.text("cli_serve_token")
    if isinstance(exc, NetworkError):
        where = (environment.api_base_url or "https://api.telegram.org").split("://", 1)[-1].split("/", 1)[0]
        return run.text("cli_serve_network", where=where)
    if isinstance(exc, OSError) and exc.errno in (errno.EADDRINUSE, errno.EACCES, errno.EADDRNOTAVAIL):
        return run.text("cli_serve_port", port=settings.telegram.webhook_port)
    if isinstance(exc, TelegramError | OSError):
        return run.text("cli_serve_failed", reason=redact_token(str(exc), environment.token))
    return None


def cmd_serve(args: argparse.Namespace, run: Run) -> int:
    environment = Environment.read()
    if not environment.token:
        raise UserError(run.text("cli_token_missing", prog=run.prog))
    from bot.frontends.telegram.app import serve
    from bot.frontends.telegram.polling import TokenRefused
    from bot.frontends.telegram.redact import redact_token

    settings = _settings(args)
    if args.inbox:
        settings = dataclasses.replace(
            settings, telegram=dataclasses.replace(settings.telegram, inbox=Path(args.inbox))
        )
    with notice(run.text("cli_opening", corpus=settings.corpus)):
        service, report = Service.open(settings, progress=_progress())
    _print_problems(report.problems, run)
    print(describe_build(report, settings, run), flush=True)
    messages = load_messages(settings.messages_file)
    service.warm_up()
    if not run.verbose:
        for handler in logging.getLogger().handlers:
            handler.addFilter(_LibraryTracebacks())
    try:
        serve(service, messages, environment, lang=run.lang)
    except Exception as exc:  # start-up failures become one line; anything else is re-raised
        line = serve_failure(exc, environment, settings, run)
        if line is None:
            raise
        if run.verbose and not isinstance(exc, TokenRefused):  # a token refused while running is no bug
            run.warn(redact_token("".join(traceback.format_exception(exc)), environment.token))
        raise UserError(line) from None
    return 0


Q = TypeVar("Q")


def _eval_inputs(
    source: Path, load_questions: Callable[[], list[Q]], half: str | None, run: Run
) -> tuple[Corpus, list[Q]]:
    """An eval's contexts (their problems printed) and its questions, one half of them or all."""
    from bot.frontends import evaluate as ev

    try:
        contexts = ev.load_contexts(source)
        questions = ev.select_half(load_questions(), half)
    except ev.EvalError as exc:
        raise UserError(str(exc)) from None
    _print_problems(contexts.problems, run)
    return contexts, questions


def _eval_question_set(args: argparse.Namespace, settings: Settings, source: Path, run: Run) -> int:
    """``eval`` with a YAML question set: answer phrases over a news corpus."""
    from bot.frontends import answer_eval

    load = lambda: answer_eval.load_question_set(Path(args.questions))  # noqa: E731
    contexts, questions = _eval_inputs(source, load, args.half, run)
    report = answer_eval.evaluate_question_set(contexts, source, questions, settings)
    print(json.dumps(report.to_json()) if args.json else answer_eval.format_answer_report(report))
    return 0


def cmd_eval(args: argparse.Namespace, run: Run) -> int:
    from bot.frontends import answer_eval
    from bot.frontends import evaluate as ev

    settings = load_settings(args.config)
    depth = ev.PASSAGE_DEPTH if args.top_k is None else args.top_k
    _check_range(run, "--top-k", depth, 1, 1000)
    _check_range(run, "--folds", args.folds, 2, 100)
    source = Path(args.contexts)
    if answer_eval.is_question_set(Path(args.questions)):
        return _eval_question_set(args, settings, source, run)
    contexts, questions = _eval_inputs(source, lambda: ev.load_questions(Path(args.questions)), args.half, run)
    unknown = ev.unknown_gold(questions, contexts.articles)
    if unknown:
        first = repr(unknown[0].gold)
        run.warn(run.text("cli_unknown_gold", unknown=len(unknown), total=len(questions), source=source, first=first))
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


COMMANDS: dict[str, Callable[[argparse.Namespace, Run], int]] = {
    "index": cmd_index,
    "ask": cmd_ask,
    "sources": cmd_sources,
    "source": cmd_source,
    "add": cmd_add,
    "pull": cmd_pull,
    "remove": cmd_remove,
    "chat": cmd_chat,
    "serve": cmd_serve,
    "eval": cmd_eval,
}


def _lang_flag(argv: Sequence[str]) -> str | None:
    """The value of ``--lang`` in ``argv`` (before parsing: the help is in that language)."""
    for i, arg in enumerate(argv):
        value = argv[i + 1] if arg == "--lang" and i + 1 < len(argv) else arg.partition("=")[2]
        if (arg == "--lang" or arg.startswith("--lang=")) and value in LANGUAGES:
            return value
    return None


def _parse(argv: Sequence[str], run: Run) -> argparse.Namespace:
    """``argv`` parsed, argparse's own texts (usage, errors) in the run's language."""
    table = run.messages.mapping("argparse", run.lang) if run.lang == "vi" else {}
    original = argparse._  # type: ignore[attr-defined]
    argparse._ = lambda text: table.get(text, text)  # type: ignore[attr-defined]
    try:
        return build_parser(run.messages, run.lang, run.prog).parse_args(argv)
    finally:
        argparse._ = original  # type: ignore[attr-defined]


def _error_line(exc: Exception, run: Run) -> str:
    """An error the user can fix, in the run's language."""
    if isinstance(exc, ServiceError):
        message = run.text(f"error_{exc.key}", **exc.values)
    elif isinstance(exc, ConfigError):
        message = run.text("cli_config", reason=exc)
    else:
        message = str(exc)
    return run.text("cli_error", message=message)


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    environment = Environment.read()
    prog = "vnqa-bot" if Path(sys.argv[0]).name == "vnqa-bot" else "python -m bot"
    run = Run(run_language(_lang_flag(argv), environment.locale), load_messages(), prog)
    args = _parse(argv, run)
    run = Run(run.lang, run.messages, prog, verbose=getattr(args, "verbose", False))
    logging.basicConfig(
        level=logging.INFO if run.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if args.command is None:
        args.command = "serve" if environment.token_given and "serve" in COMMANDS else "chat"
        for name in ("corpus", "index_dir", "config"):
            setattr(args, name, None)
    try:
        return COMMANDS[args.command](args, run)
    except (UserError, ServiceError, ConfigError) as exc:
        print(_error_line(exc, run), file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
