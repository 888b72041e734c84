"""ASGI middleware: request ids and access logs, URLs that decode as given, a cap on body size."""

import logging
import os
import re
import time
from urllib.parse import unquote_plus, unquote_to_bytes

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from todochat import logs
from todochat.errors import FieldError, echoable
from todochat.problems import problem
from todochat.routing import replaying

log = logging.getLogger("todochat.http")
REQUEST_ID_HEADER = b"x-request-id"
_SAFE_REQUEST_ID = re.compile(rb"[A-Za-z0-9._-]{1,128}")


class RequestContext:
    """Gives each request an id (the client's, if sane), echoes it, and logs a line per request."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = dict(scope["headers"]).get(REQUEST_ID_HEADER, b"")
        request_id = given.decode() if _SAFE_REQUEST_ID.fullmatch(given) else os.urandom(16).hex()
        token = logs.request_id.set(request_id)
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [
                    *message.get("headers", []),
                    (REQUEST_ID_HEADER, request_id.encode()),
                ]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            log.info(
                "%s %s %s",
                scope["method"],
                scope["path"],
                status,
                extra={
                    "method": scope["method"],
                    "path": scope["path"],
                    "status": status,
                    "duration_ms": round((time.perf_counter() - started) * 1000, 2),
                },
            )
            logs.request_id.reset(token)


class LimitBody:
    """Answers 413 to bodies over `max_bytes`, declared or streamed, before the app reads them."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        declared = headers.get(b"content-length")
        if declared is None and b"transfer-encoding" not in headers:
            await self.app(scope, receive, send)  # no body (RFC 9112, 6.3): nothing to limit
            return
        if declared is not None:
            if declared.isdigit() and int(declared) <= self.max_bytes:
                await self.app(scope, receive, send)  # the server holds the body to its length
            else:
                await self._refuse(scope, receive, send)
            return
        # A streamed body of unknown length: read it up to the limit, then hand it on whole.
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return  # the client went away
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            if size > self.max_bytes:
                await self._refuse(scope, receive, send)
                return
            if not message.get("more_body", False):
                break
        await self.app(scope, replaying(b"".join(chunks), receive), send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = problem(
            413, "too_large", f"the request body must be at most {self.max_bytes} bytes"
        )
        await response(scope, receive, send)


class StrictUrl:
    """Answers 422 to a path or query parameter whose percent-escapes are not UTF-8 (such as a
    lone surrogate's), which would otherwise reach the app silently replaced by U+FFFD."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        field = _undecodable(scope) if scope["type"] == "http" else None
        if field is None:
            await self.app(scope, receive, send)
            return
        rule = "must be UTF-8 once percent-decoded"
        response = problem(422, "invalid", f"{field}: {rule}", (FieldError(field, rule),))
        await response(scope, receive, send)


def _undecodable(scope: Scope) -> str | None:
    # The path without any query (some servers include it in raw_path).
    if not _utf8(scope.get("raw_path", b"").partition(b"?")[0]):
        return "path"
    for pair in scope["query_string"].split(b"&"):
        name, _, value = pair.partition(b"=")
        if not (_utf8(name) and _utf8(value)):
            return echoable(unquote_plus(name.decode("latin-1"))) or "query"
    return None


def _utf8(raw: bytes) -> bool:
    if raw.isascii() and b"%" not in raw:
        return True
    try:
        unquote_to_bytes(raw).decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True
