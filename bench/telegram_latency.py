"""Reply latency of ``python -m bot serve``: time from an update being available to the
bot's sendMessage, against the fake Bot API on 127.0.0.1 (so network time is excluded).

    python bench/telegram_latency.py [--corpus corpus] [--rounds 5]
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from fake_bot_api import TOKEN, FakeBotApi  # noqa: E402

QUESTIONS = [
    "Chủ tịch HĐND TP Hồ Chí Minh là ai?",
    "Đại hội Đảng bộ khối các cơ quan Hà Nội lần thứ XIII do ai dự?",
    "ket nap bao nhieu dang vien",
    "Hải Phòng tổ chức hội nghị Ban Chấp hành lần thứ 20 khi nào?",
    "Nghị quyết Trung ương 4 khóa XII về xây dựng chỉnh đốn Đảng",
    "Ai phát biểu chỉ đạo hội nghị của Đảng ủy Khối?",
]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", default=str(ROOT / "corpus"))
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as index_dir, FakeBotApi() as api:
        env = dict(os.environ, TELEGRAM_BOT_TOKEN=TOKEN, TELEGRAM_API_BASE_URL=api.base_url)
        started = time.monotonic()
        process = subprocess.Popen(
            [sys.executable, "-m", "bot", "serve", "--corpus", args.corpus, "--index-dir", index_dir],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            api.wait_for("getUpdates", timeout=600)
            ready = time.monotonic() - started
            latencies = []
            for n in range(args.rounds * len(QUESTIONS)):
                sent = time.monotonic()
                user = {"id": 5000 + n, "is_bot": False, "first_name": f"Người dùng {n}"}
                api.send(QUESTIONS[n % len(QUESTIONS)], user=user)  # one question per user
                reply = api.wait_for("sendMessage", count=n + 1, timeout=30)[-1]
                latencies.append((reply.at - sent) * 1000)
        finally:
            process.send_signal(signal.SIGINT)
            process.communicate(timeout=30)
    latencies.sort()
    print(f"start-up to first poll (index built from scratch): {ready:.1f} s")
    print(
        f"{len(latencies)} questions: median {statistics.median(latencies):.0f} ms, "
        f"p95 {latencies[int(len(latencies) * 0.95) - 1]:.0f} ms, max {latencies[-1]:.0f} ms"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
