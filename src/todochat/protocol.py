"""The HTTP protocol `todochat serve` runs: uvicorn's httptools protocol, with request heads capped.

httptools sets no limit on the request line and headers, and uvicorn reads a head in full before
the application sees it: a 64 MB `Authorization` header took seconds of the event loop. No ASGI
middleware can help, since it runs only once the head is in. Here the head is refused with 431,
in the one error shape, as soon as it passes `MAX_HEAD_BYTES`.

The event loop depends on the number of workers (`event_loop`).
"""

import logging

from starlette.types import Receive, Scope, Send
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

from todochat.problems import problem

MAX_HEAD_BYTES = 16 * 1024


def event_loop(workers: int) -> str:
    """The event loop uvicorn runs (its `--loop`) for `workers` worker processes.

    uvloop accepts one new connection per turn of its loop (libuv 1.45 on, libuv#3696): a
    burst of 64 connections on one busy worker was accepted over 360 ms, and the requests
    waiting meanwhile set wrk's p99 (300 ms against a p50 of 22 ms). asyncio's loop accepts
    the burst at once (p99 27 ms, at the same CPU per request). With several workers sharing
    the socket, though, accepting one at a time is what spreads a burst between them: on
    asyncio's loop the first worker to wake took every connection.
    """
    return "asyncio" if workers == 1 else "auto"  # uvloop, where installed


log = logging.getLogger("todochat.http")
_TOO_LARGE = problem(
    431,
    "request_header_fields_too_large",
    f"the request line and headers must be at most {MAX_HEAD_BYTES} bytes",
    headers={"Connection": "close"},
)


async def _refuse(scope: Scope, receive: Receive, send: Send) -> None:
    await _TOO_LARGE(scope, receive, send)


class BoundedHeadProtocol(HttpToolsProtocol):
    """Answers 431 to a request whose head passes `MAX_HEAD_BYTES`, reading no more than a chunk
    past the limit."""

    _reading_head = True
    _head_bytes = 0

    def data_received(self, data: bytes) -> None:
        """Count what arrives while a head is incomplete; refuse once it is too much."""
        if self._reading_head:
            self._head_bytes += len(data)
        super().data_received(data)
        if (
            self._reading_head
            and self._head_bytes > MAX_HEAD_BYTES
            and not self.transport.is_closing()
        ):
            log.warning("refused a request head of more than %d bytes", MAX_HEAD_BYTES)
            self.transport.write(self._raw_refusal())
            self.transport.close()

    def on_headers_complete(self) -> None:
        """A whole head arrived in one go: refuse it through the ASGI cycle if it is too large."""
        self._reading_head = False
        if self._head_size() <= MAX_HEAD_BYTES:
            super().on_headers_complete()
            return
        log.warning("refused a request head of %d bytes", self._head_size())
        app, self.app = self.app, _refuse
        try:
            super().on_headers_complete()
        finally:
            self.app = app

    def on_message_complete(self) -> None:
        """The next bytes start another request's head."""
        super().on_message_complete()
        self._reading_head = True
        self._head_bytes = 0

    def _head_size(self) -> int:
        # As written on the wire: "METHOD target HTTP/1.1\r\n", "name: value\r\n" each, "\r\n".
        request_line = len(self.parser.get_method()) + len(self.url) + len(" HTTP/1.1\r\n") + 1
        fields = sum(len(name) + len(value) + 4 for name, value in self.headers)
        return request_line + fields + 2

    @staticmethod
    def _raw_refusal() -> bytes:
        headers = b"".join(name + b": " + value + b"\r\n" for name, value in _TOO_LARGE.raw_headers)
        return STATUS_LINE[431] + headers + b"\r\n" + _TOO_LARGE.body
