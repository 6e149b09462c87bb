"""A small fake Telegram Bot API server for end-to-end tests (stdlib only).

It listens on 127.0.0.1 on an ephemeral port and answers what the bot uses: getMe,
deleteWebhook/setWebhook, getUpdates (long polling over queued updates, honouring
``offset`` and a short ``timeout``), setMyCommands, sendMessage, editMessageText,
answerCallbackQuery, answerInlineQuery and sendChatAction. Every call is recorded
(method + parameters). Like Telegram it refuses HTML it cannot parse, texts over 4096
characters and button data over 64 bytes, so a bug shows up as a failed request.

Like Telegram it forgets updates once a later ``offset`` confirms them (``confirmed`` counts
them) and refuses ``answerCallbackQuery``/``answerInlineQuery`` for a query older than
``query_ttl`` seconds (15 by default; tests shorten it).

Faults on demand: 429 ``RetryAfter`` now and then (``flood_every``), slow answers
(``delay``), an outage answering 5xx whose description echoes the request path with the
token in it (``outage``; ``html=True``: a proxy's HTML error page instead of JSON), the
server gone altogether (``go_down``/``come_back``), a revoked token (``revoke_token``:
401 Unauthorized until ``restore_token``) and deleted messages (``delete_message``).

python-telegram-bot posts to ``/bot<TOKEN>/<method>`` with form-encoded (or JSON, or
multipart) bodies whose nested values are JSON strings. Commands in updates need a
``bot_command`` entity; the message builders here add it (and ``mention`` entities).
"""

from __future__ import annotations

import asyncio
import contextlib
import email.parser
import email.policy
import itertools
import json
import re
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from html.parser import HTMLParser
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

TOKEN = "123456789:TEST-fake-token_AbCdEf"
BOT = {
    "id": 123456789,
    "is_bot": True,
    "first_name": "Tin Tức",
    "username": "TinTucBot",
    "can_join_groups": True,
    "can_read_all_group_messages": False,
    "supports_inline_queries": True,
}
USER = {"id": 1001, "is_bot": False, "first_name": "Lan", "language_code": "vi"}
ADMIN = {"id": 1002, "is_bot": False, "first_name": "Minh", "language_code": "vi"}
ENGLISH_USER = {"id": 1003, "is_bot": False, "first_name": "Anna", "language_code": "en"}
GROUP = {"id": -1001234567890, "type": "supergroup", "title": "Phòng biên tập"}

JSON_FIELDS = {
    "reply_markup",
    "reply_parameters",
    "results",
    "commands",
    "scope",
    "entities",
    "link_preview_options",
    "allowed_updates",
    "button",
    "caption_entities",
}
TEXT_LIMIT = 4096
CALLBACK_DATA_LIMIT = 64

# --- Telegram's HTML, checked strictly ------------------------------------------------------

TELEGRAM_TAGS = {
    "b",
    "strong",
    "i",
    "em",
    "u",
    "ins",
    "s",
    "strike",
    "del",
    "a",
    "code",
    "pre",
    "blockquote",
    "tg-spoiler",
    "span",
    "tg-emoji",
}
_ENTITY = re.compile(r"&(lt|gt|amp|quot|#\d+|#x[0-9a-fA-F]+);")
_TAG = re.compile(r"</?[a-zA-Z][a-zA-Z-]*(\s[^<>]*)?>")


class StrictTelegramHTML(HTMLParser):
    """Parses Telegram-style HTML; raises ValueError on anything Telegram would refuse."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.parts: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in TELEGRAM_TAGS:
            raise ValueError(f"unsupported start tag <{tag}>")
        names = {name for name, _ in attrs}
        allowed = {
            "a": {"href"},
            "span": {"class"},
            "code": {"class"},
            "tg-emoji": {"emoji-id"},
            "blockquote": {"expandable"},
        }.get(tag, set())
        if names - allowed:
            raise ValueError(f"unsupported attribute(s) {sorted(names - allowed)} on <{tag}>")
        if tag == "a" and not dict(attrs).get("href"):
            raise ValueError("<a> without href")
        if tag == "a" and "a" in self.stack:
            raise ValueError("nested <a>")
        if {"code", "pre"} & set(self.stack) and not (tag == "code" and self.stack[-1:] == ["pre"]):
            raise ValueError(f"<{tag}> inside code/pre")
        self.stack.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        raise ValueError(f"self-closing tag <{tag}/>")

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack[-1] != tag:
            raise ValueError(f"unexpected end tag </{tag}> (open: {self.stack})")
        self.stack.pop()

    def handle_data(self, data: str) -> None:
        self.parts.append(data)

    def handle_comment(self, data: str) -> None:
        raise ValueError("comments are not allowed")

    def handle_decl(self, decl: str) -> None:
        raise ValueError("declarations are not allowed")


def telegram_html_to_text(text: str) -> str:
    """The text Telegram would show for an HTML message; ValueError if Telegram would refuse it."""
    without_tags = _TAG.sub("", text)
    if "<" in without_tags or ">" in without_tags:
        raise ValueError("unescaped '<' or '>' outside a tag")
    for match in re.finditer("&", without_tags):
        if not _ENTITY.match(without_tags, match.start()):
            raise ValueError(
                f"unescaped '&' or unknown entity near {without_tags[match.start() : match.start() + 12]!r}"
            )
    parser = StrictTelegramHTML()
    parser.feed(text)
    parser.close()
    if parser.stack:
        raise ValueError(f"unclosed tags {parser.stack}")
    return "".join(parser.parts)


def check_keyboard(markup: Any) -> None:
    """Raise ValueError when button data would be refused (over 64 bytes, empty)."""
    if not markup:
        return
    for row in markup.get("inline_keyboard", []):
        for button in row:
            data = button.get("callback_data")
            if data is not None and not 1 <= len(data.encode("utf-8")) <= CALLBACK_DATA_LIMIT:
                raise ValueError("BUTTON_DATA_INVALID")
            if not button.get("text"):
                raise ValueError("BUTTON_TEXT_EMPTY")


# --- the server -----------------------------------------------------------------------------


@dataclass
class Call:
    """One request the bot made: method, parameters, and what the server answered."""

    method: str
    params: dict[str, Any]
    at: float  # when the request arrived
    result: Any = None
    error: str | None = None
    done: float = 0.0  # when it was answered


class ApiError(Exception):
    def __init__(self, code: int, description: str, retry_after: int = 0):
        super().__init__(description)
        self.code = code
        self.description = description
        self.retry_after = retry_after


def _utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def entities_for(text: str) -> list[dict[str, Any]]:
    """The entities Telegram would attach: a bot_command at the start, mentions anywhere."""
    entities = []
    command = re.match(r"/[A-Za-z0-9_]+(@[A-Za-z0-9_]+)?", text)
    if command:
        entities.append({"type": "bot_command", "offset": 0, "length": _utf16_len(command.group())})
    for mention in re.finditer(r"(?<!\w)@[A-Za-z0-9_]{5,32}", text):
        if command and mention.start() < command.end():
            continue
        entities.append(
            {"type": "mention", "offset": _utf16_len(text[: mention.start()]), "length": _utf16_len(mention.group())}
        )
    return entities


class FakeBotApi:
    """The fake server; use as a context manager. ``base_url`` goes to PTB's ``base_url``."""

    def __init__(
        self,
        token: str = TOKEN,
        bot: dict[str, Any] | None = None,
        max_poll_wait: float = 0.5,
        query_ttl: float = 15.0,
    ):
        self.token = token
        self.revoked = False
        self.query_ttl = query_ttl
        self.query_times: dict[str, float] = {}  # callback and inline query id -> when it was pushed
        self.confirmed = 0  # updates forgotten because a later offset confirmed them
        self.outage_html = False
        self.bot = dict(bot or BOT)
        self.max_poll_wait = max_poll_wait
        self.calls: list[Call] = []
        self.updates: list[dict[str, Any]] = []
        self.chats: dict[int, dict[str, Any]] = {}
        self.sent: dict[tuple[int, int], dict[str, Any]] = {}
        self.failures: dict[str, list[ApiError]] = {}
        self.delays: dict[str, float] = {}
        self.flood: tuple[int, int, frozenset[str]] | None = None  # every n-th call, retry_after, methods
        self.flooded = 0  # 429 answers given
        self.outage_status: int | None = None
        self._flood_count = 0
        self.cond = threading.Condition()
        self._update_ids = itertools.count(1)
        self._message_ids = itertools.count(5000)
        self._user_message_ids = itertools.count(100)
        self._callback_ids = itertools.count(1)
        self._server: ThreadingHTTPServer | None = None
        self._port = 0
        self.down = False
        self._thread: threading.Thread | None = None
        self.admins: set[int] = set()  # users getChatMember reports as a group's administrators

    # lifecycle
    def __enter__(self) -> FakeBotApi:
        api = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def setup(self) -> None:
                super().setup()
                self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # no 40 ms stalls

            def do_POST(self) -> None:
                api._serve(self)

            do_GET = do_POST

            def log_message(self, *args: Any) -> None:
                pass

        self._handler = Handler
        self._listen(0)
        return self

    def _listen(self, port: int) -> None:
        self._server = ThreadingHTTPServer(("127.0.0.1", port), self._handler)
        self._server.daemon_threads = True
        self._port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()

    def __exit__(self, *exc: Any) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def go_down(self) -> None:
        """Stop listening: the bot's requests are refused until ``come_back``."""
        assert self._server is not None
        self.down = True  # connections kept alive from before are dropped without an answer
        self._server.shutdown()
        self._server.server_close()
        self._server = None

    def come_back(self) -> None:
        """Listen again on the same port."""
        self._listen(self._port)
        self.down = False

    @property
    def port(self) -> int:
        return self._port

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/bot"

    # HTTP
    def _serve(self, request: BaseHTTPRequestHandler) -> None:
        if self.down:
            request.close_connection = True
            return
        url = urlsplit(request.path)
        match = re.fullmatch(r"/bot(?P<token>[^/]+)/(?P<method>\w+)", url.path)
        if not match:
            return self._respond(request, 404, {"ok": False, "error_code": 404, "description": "Not Found"})
        length = int(request.headers.get("Content-Length") or 0)
        body = request.rfile.read(length) if length else b""
        params = self._parse(request.headers.get("Content-Type") or "", body, url.query)
        method = match.group("method")
        if match.group("token") != self.token or self.revoked:
            self._record(Call(method, params, time.monotonic(), error="Unauthorized"))
            return self._respond(request, 401, {"ok": False, "error_code": 401, "description": "Unauthorized"})
        call = Call(method, params, time.monotonic())
        try:
            with self.cond:
                if self.outage_status is not None and self.outage_html:
                    call.error = "HTML error page"
                    self._record(call)
                    page = (
                        f"<html><head><title>{self.outage_status} Bad Gateway</title></head><body>nginx</body></html>"
                    )
                    return self._respond_raw(request, self.outage_status, page.encode(), "text/html")
                if self.outage_status is not None:
                    raise ApiError(self.outage_status, f"Bad Gateway: upstream failed for POST {url.path}")
                queued = self.failures.get(method)
                if queued:
                    failure = queued.pop(0)
                    raise ApiError(failure.code, failure.description.replace("{path}", url.path))
                self._maybe_flood(method)
            if self.delays.get(method):
                time.sleep(self.delays[method])
            call.result = self._dispatch(method, params)
        except ApiError as exc:
            call.error = exc.description
            self._record(call)
            payload = {"ok": False, "error_code": exc.code, "description": exc.description}
            if exc.retry_after:
                payload["parameters"] = {"retry_after": exc.retry_after}
            return self._respond(request, exc.code, payload)
        self._record(call)
        return self._respond(request, 200, {"ok": True, "result": call.result})

    def _record(self, call: Call) -> None:
        call.done = time.monotonic()
        with self.cond:
            self.calls.append(call)
            self.cond.notify_all()

    @staticmethod
    def _respond(request: BaseHTTPRequestHandler, status: int, payload: dict[str, Any]) -> None:
        FakeBotApi._respond_raw(request, status, json.dumps(payload).encode(), "application/json")

    @staticmethod
    def _respond_raw(request: BaseHTTPRequestHandler, status: int, data: bytes, content_type: str) -> None:
        request.send_response(status)
        request.send_header("Content-Type", content_type)
        request.send_header("Content-Length", str(len(data)))
        request.end_headers()
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):  # the bot stopped polling
            request.wfile.write(data)

    @staticmethod
    def _parse(content_type: str, body: bytes, query: str) -> dict[str, Any]:
        params: dict[str, Any] = dict(parse_qsl(query))
        if content_type.startswith("application/json") and body:
            params.update(json.loads(body))
            return params
        if content_type.startswith("multipart/form-data"):
            message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
                b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + body
            )
            for part in message.iter_parts():
                name = part.get_param("name", header="content-disposition")
                params[name] = (
                    part.get_content() if part.get_content_maintype() == "text" else part.get_payload(decode=True)
                )
        elif body:
            params.update(parse_qsl(body.decode("utf-8"), keep_blank_values=True))
        for key in JSON_FIELDS & params.keys():
            if isinstance(params[key], str):
                params[key] = json.loads(params[key])
        return params

    # Bot API methods
    def _dispatch(self, method: str, params: dict[str, Any]) -> Any:
        if method == "getMe":
            return self.bot
        if method in (
            "deleteWebhook",
            "setWebhook",
            "setMyCommands",
            "sendChatAction",
            "answerCallbackQuery",
            "answerInlineQuery",
            "close",
            "logOut",
        ):
            self._check(method, params)
            return True
        if method == "getWebhookInfo":
            return {"url": "", "has_custom_certificate": False, "pending_update_count": 0}
        if method == "getMyCommands":
            return []
        if method == "getChatMember":  # group administrators are those in ``admins``
            user = {"id": int(params["user_id"]), "is_bot": False, "first_name": "U"}
            if int(params["user_id"]) in self.admins:
                return {"status": "creator", "user": user, "is_anonymous": False}
            return {"status": "member", "user": user}
        if method == "getUpdates":
            return self._get_updates(params)
        if method == "sendMessage":
            return self._send_message(params)
        if method == "editMessageText":
            return self._edit_message(params)
        raise ApiError(404, f"Not Found: method {method} is not in the fake server")

    def _check(self, method: str, params: dict[str, Any]) -> None:
        if method in ("answerCallbackQuery", "answerInlineQuery"):
            key = "callback_query_id" if method == "answerCallbackQuery" else "inline_query_id"
            with self.cond:
                pushed = self.query_times.get(str(params.get(key)))
            if pushed is None or time.monotonic() - pushed > self.query_ttl:
                raise ApiError(400, "Bad Request: query is too old and response timeout expired or query ID is invalid")
        if method == "answerInlineQuery":
            for result in params.get("results", []):
                content = result.get("input_message_content") or {}
                if len(result.get("id", "").encode()) > 64:
                    raise ApiError(400, "Bad Request: RESULT_ID_INVALID")
                if content.get("parse_mode") == "HTML":
                    self._plain(content.get("message_text", ""), "HTML")
        if method == "answerCallbackQuery" and len(params.get("text") or "") > 200:
            raise ApiError(400, "Bad Request: MESSAGE_TOO_LONG")

    @staticmethod
    def _plain(text: str, parse_mode: str | None) -> str:
        if parse_mode and parse_mode.upper() == "HTML":
            try:
                text = telegram_html_to_text(text)
            except ValueError as exc:
                raise ApiError(400, f"Bad Request: can't parse entities: {exc}") from None
        if not text.strip():
            raise ApiError(400, "Bad Request: message text is empty")
        if len(text) > TEXT_LIMIT:
            raise ApiError(400, "Bad Request: message is too long")
        return text

    def _message_body(self, params: dict[str, Any]) -> tuple[str, Any]:
        text = self._plain(str(params.get("text", "")), params.get("parse_mode"))
        try:
            check_keyboard(params.get("reply_markup"))
        except ValueError as exc:
            raise ApiError(400, f"Bad Request: {exc}") from None
        return text, params.get("reply_markup")

    def _send_message(self, params: dict[str, Any]) -> dict[str, Any]:
        chat_id = int(params["chat_id"])
        text, markup = self._message_body(params)
        message = {
            "message_id": next(self._message_ids),
            "date": int(time.time()),
            "chat": self.chats.get(chat_id, {"id": chat_id, "type": "private", "first_name": "?"}),
            "from": {k: self.bot[k] for k in ("id", "is_bot", "first_name", "username")},
            "text": text,
        }
        if markup:
            message["reply_markup"] = markup
        with self.cond:
            self.sent[(chat_id, message["message_id"])] = message
        return message

    def _edit_message(self, params: dict[str, Any]) -> dict[str, Any]:
        key = (int(params["chat_id"]), int(params["message_id"]))
        with self.cond:
            message = self.sent.get(key)
        if message is None:
            raise ApiError(400, "Bad Request: message to edit not found")
        text, markup = self._message_body(params)
        if text == message["text"] and markup == message.get("reply_markup"):
            raise ApiError(400, "Bad Request: message is not modified")
        updated = dict(message, text=text, edit_date=int(time.time()))
        updated.pop("reply_markup", None)
        if markup:
            updated["reply_markup"] = markup
        with self.cond:
            self.sent[key] = updated
        return updated

    def _get_updates(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        offset = int(params.get("offset") or 0)
        limit = int(params.get("limit") or 100)
        wait = min(float(params.get("timeout") or 0), self.max_poll_wait)
        deadline = time.monotonic() + wait
        with self.cond:
            if offset:
                kept = [u for u in self.updates if u["update_id"] >= offset]
                self.confirmed += len(self.updates) - len(kept)
                self.updates = kept
            while not self.updates and time.monotonic() < deadline:
                self.cond.wait(deadline - time.monotonic())
            return self.updates[:limit]

    def _maybe_flood(self, method: str) -> None:
        """Answer 429 RetryAfter on every n-th call of the flooded methods (caller holds the lock)."""
        if self.flood is None or method not in self.flood[2]:
            return
        self._flood_count += 1
        if self._flood_count % self.flood[0] == 0:
            self.flooded += 1
            retry_after = self.flood[1]
            raise ApiError(429, f"Too Many Requests: retry after {retry_after}", retry_after)

    # driving it from tests
    def flood_every(
        self, n: int, retry_after: int = 1, methods: tuple[str, ...] = ("sendMessage", "editMessageText")
    ) -> None:
        """Answer every ``n``-th call of ``methods`` with 429 Too Many Requests (Telegram's format)."""
        with self.cond:
            self.flood = (n, retry_after, frozenset(methods))

    def delay(self, method: str, seconds: float) -> None:
        """Hold every answer to ``method`` for ``seconds`` (0 to stop)."""
        self.delays[method] = seconds

    def outage(self, status: int | None = 502, html: bool = False) -> None:
        """Answer every request with ``status`` (None ends the outage); the description echoes
        the request path, token included, as some proxies do (``html``: an HTML page instead)."""
        with self.cond:
            self.outage_status = status
            self.outage_html = html

    def revoke_token(self) -> None:
        """Answer every request 401 Unauthorized, as Telegram does for a revoked token."""
        with self.cond:
            self.revoked = True

    def restore_token(self) -> None:
        with self.cond:
            self.revoked = False

    def delete_message(self, chat_id: int, message_id: int) -> None:
        """Forget a message the bot sent (deleted by a user): editing it fails like on Telegram."""
        with self.cond:
            self.sent.pop((chat_id, message_id), None)

    def fail_next(self, method: str, code: int = 400, description: str = "Bad Request: test failure") -> None:
        """Make the next call of ``method`` fail like Telegram would ('{path}' in ``description``
        becomes the request path, token included)."""
        with self.cond:
            self.failures.setdefault(method, []).append(ApiError(code, description))

    def push(self, **update: Any) -> dict[str, Any]:
        with self.cond:
            update = {"update_id": next(self._update_ids), **update}
            for kind in ("callback_query", "inline_query"):  # their answers are taken for query_ttl s
                if isinstance(update.get(kind), dict) and "id" in update[kind]:
                    self.query_times[str(update[kind]["id"])] = time.monotonic()
            self.updates.append(update)
            self.cond.notify_all()
        return update

    def message(
        self,
        text: str,
        user: dict[str, Any] = USER,
        chat: dict[str, Any] | None = None,
        reply_to: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """A user's text message (private chat with ``user`` unless ``chat`` is given)."""
        chat = chat or {"id": user["id"], "type": "private", "first_name": user["first_name"]}
        with self.cond:
            self.chats[chat["id"]] = chat
        message = {
            "message_id": next(self._user_message_ids),
            "date": int(time.time()),
            "chat": chat,
            "from": user,
            "text": text,
        }
        entities = entities_for(text)
        if entities:
            message["entities"] = entities
        if reply_to is not None:
            message["reply_to_message"] = reply_to
        return message

    def send(self, text: str, **kwargs: Any) -> dict[str, Any]:
        """Push a message update; returns the message."""
        message = self.message(text, **kwargs)
        self.push(message=message)
        return message

    def press(self, message: dict[str, Any], data: str, user: dict[str, Any] = USER) -> dict[str, Any]:
        """Push a button press on a message the bot sent (as the fake server stored it)."""
        query = {
            "id": str(next(self._callback_ids)),
            "from": user,
            "chat_instance": "1",
            "data": data,
            "message": message,
        }
        return self.push(callback_query=query)

    def inline(self, query: str, user: dict[str, Any] = USER) -> dict[str, Any]:
        return self.push(inline_query={"id": str(next(self._callback_ids)), "from": user, "query": query, "offset": ""})

    def calls_of(self, method: str) -> list[Call]:
        with self.cond:
            return [c for c in self.calls if c.method == method]

    def wait_for(
        self,
        method: str,
        where: Callable[[dict[str, Any]], bool] = lambda p: True,
        count: int = 1,
        timeout: float = 10.0,
    ) -> list[Call]:
        """The first ``count`` successful calls of ``method`` whose parameters satisfy ``where`` (waits)."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                found = [c for c in self.calls if c.method == method and c.error is None and where(c.params)]
                if len(found) >= count:
                    return found[:count]
                left = deadline - time.monotonic()
                if left <= 0:
                    seen = [(c.method, {k: v for k, v in c.params.items() if k != "results"}) for c in self.calls[-8:]]
                    raise AssertionError(f"no {count} x {method} within {timeout} s; last calls: {seen}")
                self.cond.wait(left)

    def current(self, call: Call) -> dict[str, Any]:
        """The message a sendMessage/editMessageText call produced, as it stands now (after edits)."""
        result = call.result
        with self.cond:
            return self.sent[(int(result["chat"]["id"]), int(result["message_id"]))]


@contextlib.contextmanager
def running(application: Any, poll_timeout: float = 1.0) -> Iterator[None]:
    """Run a python-telegram-bot Application (polling) in a background thread with its own loop."""
    ready = threading.Event()
    holder: dict[str, Any] = {}

    async def main() -> None:
        holder["loop"] = asyncio.get_running_loop()
        holder["stop"] = stop = asyncio.Event()
        async with application:
            if application.post_init:
                await application.post_init(application)
            await application.start()
            await application.updater.start_polling(poll_interval=0, timeout=poll_timeout)
            ready.set()
            await stop.wait()
            await application.updater.stop()
            await application.stop()

    def target() -> None:
        try:
            asyncio.run(main())
        except BaseException as exc:  # noqa: BLE001 - reported to the test
            holder["error"] = exc
            ready.set()

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    if not ready.wait(15) or "error" in holder:
        raise RuntimeError(f"the bot did not start: {holder.get('error')!r}")
    try:
        yield
    finally:
        holder["loop"].call_soon_threadsafe(holder["stop"].set)
        thread.join(15)
        if "error" in holder:
            raise holder["error"]
