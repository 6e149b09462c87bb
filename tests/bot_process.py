"""The real ``python -m bot serve`` process against the fake Bot API (for tests and benchmarks)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import IO

from fake_bot_api import TOKEN, FakeBotApi

ROOT = Path(__file__).resolve().parent.parent


def start_serve(
    api: FakeBotApi,
    corpus: Path,
    index_dir: Path,
    *extra: str,
    env: dict | None = None,
    stdout: int | IO = subprocess.PIPE,
    stderr: int | IO = subprocess.PIPE,
    inbox: Path | None = None,
    lang: str = "en",
) -> subprocess.Popen:
    """Start ``python -m bot -v --lang en serve`` (or another ``lang``) with the token and the Bot API address in its
    environment (English: the tests read its lines).

    ``inbox``: the inbox of fetched updates (default: a new one in a temporary folder; pass
    the same path to a restarted bot). Pass files as ``stdout``/``stderr`` when the bot logs
    a lot (a full pipe would block it)."""
    inbox = inbox or Path(tempfile.mkdtemp(prefix="bot-inbox-")) / "inbox.sqlite"
    environment = dict(os.environ, TELEGRAM_BOT_TOKEN=TOKEN, TELEGRAM_API_BASE_URL=api.base_url, **(env or {}))
    environment.pop("BOT_CONFIG", None)
    command = [
        sys.executable,
        "-m",
        "bot",
        "-v",
        "--lang",
        lang,
        "serve",
        "--corpus",
        str(corpus),
        "--index-dir",
        str(index_dir),
        "--inbox",
        str(inbox),
        *extra,
    ]
    return subprocess.Popen(command, cwd=ROOT, env=environment, stdout=stdout, stderr=stderr, text=True)


def stop(process: subprocess.Popen, sig: int = signal.SIGINT, timeout: float = 20) -> tuple[str, str]:
    """Signal the bot and wait for it (killed after ``timeout`` s); its output if piped."""
    if process.poll() is None:
        process.send_signal(sig)
    try:
        return process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        return process.communicate()


def peak_memory_mb(pid: int) -> float:
    """The process's peak resident memory (VmHWM) in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise ValueError("no VmHWM in /proc status")
