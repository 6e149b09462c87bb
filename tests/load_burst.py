"""A burst of questions from many chats against a running bot, and the figures it yields.

Private chats ask most questions; groups ask with ``/ask@Bot …`` or ``@Bot …``; some
answers get their "more" button pressed. Everything is pushed at once into the fake Bot
API, then the driver waits (bounded in time) until every question has its answer and
every press its edit. Latency is measured at the fake server: from the moment an update
was queued to the moment the bot's reply arrived. Used by tests/test_load.py and
bench/reliability.py.
"""

from __future__ import annotations

import random
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from bot.frontends.messages import load_messages
from bot.frontends.telegram.buttons import MORE, parse_button_data, question_of
from fake_bot_api import BOT, Call, FakeBotApi, telegram_html_to_text

MESSAGES = load_messages()
MESSAGE_METHODS = ("sendMessage", "editMessageText")

QUESTIONS = [  # about the shipped corpus; distinct, so a private chat's replies can be told apart
    "Chủ tịch HĐND TP Hồ Chí Minh là ai?",
    "Đại hội Đảng bộ khối các cơ quan Hà Nội lần thứ XIII do ai dự?",
    "Ai là Bí thư Thành ủy Hà Nội?",
    "ket nap bao nhieu dang vien",
    "Hải Phòng tổ chức hội nghị Ban Chấp hành lần thứ 20 khi nào?",
    "Nghị quyết Trung ương 4 khóa XII về xây dựng chỉnh đốn Đảng",
    "Ai phát biểu chỉ đạo hội nghị của Đảng ủy Khối?",
    "Đại hội Đảng bộ Khối Các cơ quan thành phố Hải Phòng nhiệm kỳ 2020 - 2025",
    "Tổ chức cơ sở Đảng ở TP Hồ Chí Minh nâng cao chất lượng thế nào?",
    "Các đơn vị còn vướng mắc trong công tác tổ chức đại hội",
    "Đảng bộ Khối có bao nhiêu tổ chức cơ sở đảng?",
    "Kết quả công tác 10 tháng năm 2019",
    "Ban Chấp hành Đảng bộ Khối nhiệm kỳ mới có bao nhiêu đồng chí?",
    "Đảng ủy Khối các cơ quan Hải Phòng họp Ban Chấp hành lần thứ mấy?",
    "Phương hướng nhiệm vụ nhiệm kỳ 2020-2025 của Đảng bộ Khối",
    "Đại biểu dự đại hội là bao nhiêu người?",
]


@dataclass
class Asked:
    chat: dict[str, Any]
    user: dict[str, Any]
    question: str
    message_id: int = 0
    pushed_at: float = 0.0
    reply: Call | None = None


@dataclass
class BurstFigures:
    questions: int = 0
    chats: int = 0
    private_chats: int = 0
    groups: int = 0
    answered: int = 0
    lost: int = 0
    duplicates: int = 0
    errors: int = 0
    presses: int = 0
    presses_answered: int = 0
    retry_after_sent: int = 0
    seconds: float = 0.0
    latency_p50_ms: float = 0.0
    latency_p95_ms: float = 0.0
    latency_max_ms: float = 0.0
    max_private_per_3s: int = 0
    max_group_per_minute: int = 0
    inline_queries: int = 0
    inline_answered: int = 0
    press_answer_max_ms: float = 0.0  # from the press to its answerCallbackQuery
    inline_answer_max_ms: float = 0.0  # from the inline query to its answerInlineQuery
    problems: list[str] = field(default_factory=list)


def plan(questions: int, private_chats: int, groups: list[int], seed: int = 1) -> list[Asked]:
    """``questions`` spread over ``private_chats`` chats plus one group per entry of ``groups``
    (its number of questions), in a random order."""
    rng = random.Random(seed)
    private_total = questions - sum(groups)
    assert private_total >= 0 and private_chats > 0
    asked: list[Asked] = []
    for i in range(private_chats):
        user = {"id": 200_000 + i, "is_bot": False, "first_name": f"Phóng viên {i}", "language_code": "vi"}
        chat = {"id": user["id"], "type": "private", "first_name": user["first_name"]}
        count = private_total // private_chats + (1 if i < private_total % private_chats else 0)
        assert count <= len(QUESTIONS), "a private chat needs distinct questions"
        asked += [Asked(chat, user, q) for q in rng.sample(QUESTIONS, count)]
    for j, count in enumerate(groups):
        chat = {"id": -1_009_000_000 - j, "type": "supergroup", "title": f"Ban biên tập {j}"}
        for n in range(count):
            user = {
                "id": 300_000 + rng.randrange(50),
                "is_bot": False,
                "first_name": "Biên tập viên",
                "language_code": "vi",
            }
            question = rng.choice(QUESTIONS)
            text = f"/ask@{BOT['username']} {question}" if n % 2 == 0 else f"@{BOT['username']} {question}"
            asked.append(Asked(chat, user, text))
    rng.shuffle(asked)
    return asked


def _group_question(text: str) -> str:
    return text.split(" ", 1)[1]


def _most_within(times: list[float], seconds: float) -> int:
    """The most of these (sorted) moments that fall within any ``seconds``."""
    most = start = 0
    for end, at in enumerate(times):
        while at - times[start] >= seconds:
            start += 1
        most = max(most, end - start + 1)
    return most


def pace(calls: list[Call]) -> tuple[int, int]:
    """Telegram's per-chat limits as seen by the server: the most messages to one private chat
    within any 3 s, and the most messages to one group within any 60 s."""
    by_chat: dict[int, list[float]] = {}
    for call in calls:
        if call.method in MESSAGE_METHODS and call.error is None:
            by_chat.setdefault(int(call.params["chat_id"]), []).append(call.at)
    private = group = 0
    for chat_id, times in by_chat.items():
        times.sort()
        if chat_id > 0:
            private = max(private, _most_within(times, 3.0))
        else:
            group = max(group, _most_within(times, 60.0))
    return private, group


def run_burst(
    api: FakeBotApi,
    asked: list[Asked],
    press_share: float = 0.1,
    timeout: float = 300,
    seed: int = 2,
    inline: int = 0,
    progress: Callable[[int], None] | None = None,
) -> BurstFigures:
    """Push every question (and ``inline`` inline queries) at once, press "more" under some
    answers, wait for all replies. ``progress`` is called with the number answered so far
    (a test may kill and restart the bot from there)."""
    rng = random.Random(seed)
    figures = BurstFigures(questions=len(asked))
    chats = {a.chat["id"] for a in asked}
    figures.chats, figures.private_chats = len(chats), len([c for c in chats if c > 0])
    figures.groups = figures.chats - figures.private_chats
    by_message: dict[tuple[int, int], Asked] = {}
    open_private: dict[int, dict[str, Asked]] = {}
    started = time.monotonic()
    for item in asked:
        message = api.message(item.question, user=item.user, chat=item.chat)
        item.message_id, item.pushed_at = message["message_id"], time.monotonic()
        api.push(message=message)
        if item.chat["id"] > 0:
            open_private.setdefault(item.chat["id"], {})[item.question] = item
        else:
            by_message[(item.chat["id"], item.message_id)] = item
    presses: dict[tuple[int, int], float] = {}  # (chat, message id) pressed -> when
    pressed_done: set[tuple[int, int]] = set()
    queries: dict[str, float] = {}  # callback or inline query id -> when pushed
    answered_queries: dict[str, float] = {}  # -> latency in ms
    inline_ids: set[str] = set()
    for n in range(inline):
        update = api.inline(QUESTIONS[n % len(QUESTIONS)], user=asked[n % len(asked)].user)
        queries[update["inline_query"]["id"]] = time.monotonic()
        inline_ids.add(update["inline_query"]["id"])
    seen = 0
    deadline = started + timeout
    while time.monotonic() < deadline:
        with api.cond:
            api.cond.wait(0.2)
            new, seen = api.calls[seen:], len(api.calls)
        for call in new:
            if call.error is not None:
                if not call.error.startswith("Too Many Requests"):
                    figures.errors += 1
                    figures.problems.append(f"{call.method}: {call.error}")
                continue
            if call.method in ("answerCallbackQuery", "answerInlineQuery"):
                query_id = str(call.params.get("callback_query_id") or call.params.get("inline_query_id"))
                if query_id in queries and query_id not in answered_queries:
                    answered_queries[query_id] = (call.at - queries[query_id]) * 1000
                continue
            if call.method == "editMessageText":
                key = (int(call.params["chat_id"]), int(call.params["message_id"]))
                if key in presses and key not in pressed_done:
                    pressed_done.add(key)
                continue
            if call.method != "sendMessage":
                continue
            item = _match(call, by_message, open_private, figures)
            if item is None:
                continue
            if item.reply is not None:
                figures.duplicates += 1
                figures.problems.append(
                    f"answered twice in {item.chat['id']}: {item.question!r} at {item.reply.at:.3f} and {call.at:.3f}"
                )
                continue
            item.reply = call
            rows = (call.params.get("reply_markup") or {}).get("inline_keyboard", [])
            more = [
                b["callback_data"]
                for row in rows
                for b in row
                if (data := parse_button_data(b.get("callback_data"))) and data.kind == MORE
            ]
            if more and rng.random() < press_share:
                shown = api.current(call)
                update = api.press(shown, more[0], user=item.user)
                presses[(int(call.params["chat_id"]), shown["message_id"])] = time.monotonic()
                queries[update["callback_query"]["id"]] = time.monotonic()
        if progress is not None:
            progress(sum(a.reply is not None for a in asked))
        if (
            all(a.reply is not None for a in asked)
            and len(pressed_done) == len(presses)
            and len(answered_queries) == len(queries)
        ):
            break
    figures.seconds = time.monotonic() - started
    figures.answered = sum(a.reply is not None for a in asked)
    figures.lost = figures.questions - figures.answered
    figures.presses, figures.presses_answered = len(presses), len(pressed_done)
    figures.inline_queries = len(inline_ids)
    figures.inline_answered = len(inline_ids & answered_queries.keys())
    press_ms = [ms for query_id, ms in answered_queries.items() if query_id not in inline_ids]
    inline_ms = [ms for query_id, ms in answered_queries.items() if query_id in inline_ids]
    figures.press_answer_max_ms = max(press_ms, default=0.0)
    figures.inline_answer_max_ms = max(inline_ms, default=0.0)
    unanswered = len(queries) - len(answered_queries)
    if unanswered:
        figures.problems.append(f"{unanswered} button presses or inline queries never answered")
    figures.retry_after_sent = api.flooded
    latencies = sorted((a.reply.at - a.pushed_at) * 1000 for a in asked if a.reply is not None)
    if latencies:
        figures.latency_p50_ms = statistics.median(latencies)
        figures.latency_p95_ms = latencies[max(0, round(len(latencies) * 0.95) - 1)]
        figures.latency_max_ms = latencies[-1]
    with api.cond:
        calls = list(api.calls)
    figures.max_private_per_3s, figures.max_group_per_minute = pace(calls)
    return figures


def _match(call: Call, by_message: dict, open_private: dict, figures: BurstFigures) -> Asked | None:
    """The question a sendMessage answers (quoted message in groups, header line in private chats)."""
    chat_id = int(call.params["chat_id"])
    plain = telegram_html_to_text(call.params["text"])
    if plain.startswith(MESSAGES.get("error")):
        figures.errors += 1
        figures.problems.append(f"apology sent to {chat_id}")
        return None
    if chat_id < 0:
        quoted = (call.params.get("reply_parameters") or {}).get("message_id")
        item = by_message.get((chat_id, int(quoted or 0)))
        if item is not None and question_of(plain, MESSAGES) != _group_question(item.question).strip():
            figures.problems.append(f"group {chat_id}: reply to {item.question!r} reads {plain.splitlines()[0]!r}")
            figures.errors += 1
        return item
    question = question_of(plain, MESSAGES)
    item = open_private.get(chat_id, {}).get(question or "")
    if item is None:
        figures.problems.append(f"unexpected reply in {chat_id}: {plain.splitlines()[0]!r}")
    return item


def table(figures: BurstFigures) -> list[tuple[str, str]]:
    """The figures as (name, value) rows."""
    return [
        ("questions (chats: private + groups)", f"{figures.questions} ({figures.private_chats} + {figures.groups})"),
        ("button presses (edited)", f"{figures.presses} ({figures.presses_answered})"),
        ("answered / lost / duplicated", f"{figures.answered} / {figures.lost} / {figures.duplicates}"),
        ("errors (failed requests other than 429, apologies)", str(figures.errors)),
        ("429 RetryAfter answers by the server (all retried)", str(figures.retry_after_sent)),
        (
            "reply latency p50 / p95 / max",
            f"{figures.latency_p50_ms / 1000:.1f} s / {figures.latency_p95_ms / 1000:.1f} s / "
            f"{figures.latency_max_ms / 1000:.1f} s",
        ),
        ("whole burst", f"{figures.seconds:.0f} s"),
        ("most messages to one private chat in any 3 s", str(figures.max_private_per_3s)),
        ("most messages to one group in any 60 s", str(figures.max_group_per_minute)),
        (
            "button presses: slowest answer (answerCallbackQuery)",
            f"{figures.press_answer_max_ms / 1000:.1f} s",
        ),
        (
            "inline queries answered / slowest answer",
            f"{figures.inline_answered} of {figures.inline_queries} / {figures.inline_answer_max_ms / 1000:.1f} s",
        ),
    ]
