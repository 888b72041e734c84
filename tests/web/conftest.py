"""Browser fixtures: the real app under uvicorn on loopback, driven by headless Chromium."""

import re
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
import uvicorn
from playwright.sync_api import Browser, ConsoleMessage, Page, Request, sync_playwright

from tests.conftest import SECRET, settings
from todochat.app import create_app
from todochat.config import Settings
from todochat.users.tokens import issue_token

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
FAILED_LOAD = re.compile(
    r"^Failed to load resource: (?:the server responded with a status of (\d+)|(net::\w+))"
)


class LiveServer:
    """The real application served by uvicorn on a free loopback port, in a thread of its own."""

    def __init__(self, app_settings: Settings) -> None:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port: int = probe.getsockname()[1]
        config = uvicorn.Config(
            create_app(app_settings), host="127.0.0.1", port=self.port, log_config=None
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.url = f"http://127.0.0.1:{self.port}"

    def start(self) -> "LiveServer":
        """Start serving; return once the server answers."""
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            assert self.thread.is_alive(), "uvicorn stopped while starting"
            assert time.monotonic() < deadline, "uvicorn did not start in time"
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        """Shut down gracefully and wait for it."""
        self.server.should_exit = True
        self.thread.join(timeout=15)
        assert not self.thread.is_alive()


@pytest.fixture(scope="session")
def live_server(database_url: str) -> Iterator[LiveServer]:
    """The app on the run's database (each backend in turn), reachable over real HTTP."""
    server = LiveServer(settings(database_url)).start()
    yield server
    server.stop()


# Module scope: while it runs, Playwright's sync API holds an event loop in this thread, which
# the suite's other tests (asyncio.run, pytest-asyncio) must not meet.
@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Headless Chromium, shared by one module's browser tests."""
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@dataclass
class Watch:
    """What a page did that a test must account for: console errors, requests leaving the server."""

    origin: str
    errors: list[str] = field(default_factory=list)
    foreign: list[str] = field(default_factory=list)
    expected: set[str] = field(default_factory=set)

    def expect_failed_loads(self, *outcomes: str) -> None:
        """Failed loads the test provokes on purpose, by status (`"401"`) or network error."""
        self.expected.update(outcomes)

    def console(self, message: ConsoleMessage) -> None:
        if message.type != "error":
            return
        failed = FAILED_LOAD.match(message.text)
        if failed and (failed.group(1) or failed.group(2)) in self.expected:
            return  # the browser's own note of a refusal the test asked for
        self.errors.append(message.text)

    def request(self, request: Request) -> None:
        parts = urlsplit(request.url)
        if parts.scheme not in ("data", "blob") and parts.netloc != self.origin:
            self.foreign.append(request.url)


@dataclass
class Visit:
    """A page in a fresh browser context on the live server, and what it is watched for."""

    page: Page
    url: str
    watch: Watch

    def sign_in(self, user_id: str, **claims: Any) -> None:
        """Open the chat through the link `todochat token USER --url` prints."""
        self.page.goto(f"/#token={token_for(user_id, **claims)}")


def token_for(user_id: str, *, secret: str = SECRET, hours: float = 1, **claims: Any) -> str:
    """A token for `user_id` signed as the server expects (or with another `secret`)."""
    return issue_token(secret, user_id, lifetime=timedelta(hours=hours), **claims)


def new_user_id(prefix: str = "web") -> str:
    """A user the database has not seen."""
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def visit(browser: Browser, url: str, **context: Any) -> Iterator[Visit]:
    """A watched page on the server at `url`; fails on console errors or requests elsewhere."""
    browser_context = browser.new_context(base_url=url, **context)
    watch = Watch(urlsplit(url).netloc)
    page = browser_context.new_page()
    page.set_default_timeout(10_000)
    page.on("console", watch.console)
    page.on("pageerror", lambda error: watch.errors.append(f"uncaught: {error}"))
    browser_context.on("request", watch.request)
    # Nothing may leave for another host, even if the page asked.
    browser_context.route(
        re.compile(rf"^(?!{re.escape(url)}/)(?!data:)(?!blob:)"), lambda route: route.abort()
    )
    try:
        yield Visit(page, url, watch)
    finally:
        browser_context.close()
    assert watch.errors == [], f"console errors: {watch.errors}"
    assert watch.foreign == [], f"requests to other hosts: {watch.foreign}"


@pytest.fixture
def chat(live_server: LiveServer, browser: Browser) -> Iterator[Visit]:
    """A desktop-sized page on the live server, in light mode."""
    yield from visit(
        browser, live_server.url, viewport={"width": 1280, "height": 800}, color_scheme="light"
    )


def api(url: str, user_id: str) -> httpx.Client:
    """An HTTP client for `user_id`'s resources on the server at `url`."""
    return httpx.Client(
        base_url=f"{url}/api/{user_id}",
        headers={"Authorization": f"Bearer {token_for(user_id)}"},
        timeout=30,
    )
