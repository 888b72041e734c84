"""What people notice beyond features: small screens, dark mode, size, offline docs, streaming."""

import gzip
import os
import shutil
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.conftest import settings
from tests.web.conftest import LiveServer, Visit, new_user_id, visit
from tests.web.test_chat_page import message_box, send, tasks_region
from todochat.web.pages import STATIC

DOCS = Path(__file__).parents[2] / "docs"
MAX_GZIPPED_BYTES = 100 * 1024


def test_the_pages_own_scripts_and_styles_weigh_under_100_kb_gzipped() -> None:
    files = [path for path in STATIC.iterdir() if path.suffix in (".js", ".css")]
    gzipped = sum(len(gzip.compress(path.read_bytes(), compresslevel=9)) for path in files)
    assert {path.name for path in files} >= {"app.js", "app.css", "sse.js"}
    assert gzipped < MAX_GZIPPED_BYTES


@pytest.fixture
def phone(live_server: LiveServer, browser: Browser) -> Iterator[Visit]:
    """A 360 pixel wide touch screen."""
    yield from visit(
        browser, live_server.url, viewport={"width": 360, "height": 740}, has_touch=True
    )


def test_the_page_works_on_a_360_pixel_wide_screen(phone: Visit) -> None:
    page = phone.page
    phone.sign_in(new_user_id())
    send(page, "Add a task to buy groceries")
    expect(tasks_region(page).get_by_role("checkbox")).to_have_count(1)
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    expect(message_box(page)).to_be_in_viewport()

    nav = page.get_by_role("navigation", name="Conversations", exact=True)
    expect(nav).to_be_hidden()
    toggle = page.get_by_role("button", name="Show conversations")
    toggle.click()
    expect(nav).to_be_visible()
    expect(toggle).to_have_attribute("aria-expanded", "true")
    page.keyboard.press("Escape")
    expect(nav).to_be_hidden()
    expect(toggle).to_be_focused()

    tasks_region(page).scroll_into_view_if_needed()
    expect(tasks_region(page).get_by_role("checkbox")).to_be_in_viewport()


def screenshot(page: Page, name: str, tmp_path: Path) -> None:
    """A picture of the page; kept in docs/ too when TODOCHAT_SCREENSHOTS=1."""
    path = tmp_path / name
    page.screenshot(path=path)
    assert path.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    if os.environ.get("TODOCHAT_SCREENSHOTS") == "1":
        shutil.copyfile(path, DOCS / name)


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_a_screenshot_of_a_conversation(
    live_server: LiveServer, browser: Browser, scheme: str, tmp_path: Path
) -> None:
    for shown in visit(
        browser, live_server.url, viewport={"width": 1280, "height": 760}, color_scheme=scheme
    ):
        page = shown.page
        shown.sign_in(new_user_id(), name="Alex")
        for message in [
            "Add a task to buy groceries",
            "I need to remember to pay bills",
            "Add a task to call mom tonight",
            "Mark task 1 as complete",
            "What's pending?",
        ]:
            send(page, message)
            expect(page.locator(".bubble.writing")).to_have_count(0)
        expect(tasks_region(page)).to_contain_text("2 to do, 1 done")
        background = page.evaluate("getComputedStyle(document.documentElement).backgroundColor")
        assert (background == "rgb(20, 23, 28)") == (scheme == "dark")
        message_box(page).fill("Delete the groceries task")
        screenshot(page, f"web-chat-{scheme}.png" if scheme == "dark" else "web-chat.png", tmp_path)


def test_the_api_reference_works_offline(chat: Visit) -> None:
    page = chat.page
    page.goto("/docs")
    expect(page.get_by_role("heading", name="todochat")).to_be_visible()
    expect(page.get_by_text("/api/{user_id}/chat").first).to_be_visible()
    assert chat.watch.foreign == []


def test_server_sent_events_are_read_across_any_chunking(chat: Visit) -> None:
    chat.page.goto("/static/index.html")
    events = chat.page.evaluate(
        """async () => {
            const { readEvents } = await import("/static/sse.js");
            const text = ': hello\\r\\n'
              + 'event: conversation\\r\\ndata: {"conversation_id": 7}\\r\\n\\r\\n'
              + 'event: delta\\ndata: {"text": "Añadí ☕"}\\n\\n'
              + 'event: delta\\rdata:{"text":\\rdata: " two lines"}\\r\\r'
              + 'data: no event name\\n\\n'
              + 'event: done\\ndata: {"unfinished": true}';
            const bytes = new TextEncoder().encode(text);
            const results = [];
            for (const size of [1, 2, 3, 7, bytes.length]) {
              const body = new ReadableStream({
                start(controller) {
                  for (let at = 0; at < bytes.length; at += size) {
                    controller.enqueue(bytes.slice(at, at + size));
                  }
                  controller.close();
                },
              });
              const seen = [];
              for await (const event of readEvents(body)) seen.push(event);
              results.push(seen);
            }
            return results;
        }"""
    )
    expected = [
        {"event": "conversation", "data": '{"conversation_id": 7}'},
        {"event": "delta", "data": '{"text": "Añadí ☕"}'},
        {"event": "delta", "data": '{"text":\n" two lines"}'},
        {"event": "message", "data": "no event name"},
    ]
    assert events == [expected] * 5


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_lost_connection_is_explained_and_the_message_is_kept(
    database_url: str, browser: Browser
) -> None:
    server = LiveServer(settings(database_url)).start()
    stopped = False
    try:
        for shown in visit(browser, server.url, viewport={"width": 1280, "height": 800}):
            shown.watch.expect_failed_loads("net::ERR_CONNECTION_REFUSED")
            page = shown.page
            shown.sign_in(new_user_id())
            expect(tasks_region(page)).to_contain_text("No tasks yet")
            server.stop()
            stopped = True
            send(page, "Add a task to buy groceries")
            expect(page.get_by_role("alert")).to_contain_text("connection to the server was lost")
            expect(message_box(page)).to_have_value("Add a task to buy groceries")
            expect(page.locator(".message")).to_have_count(0)
    finally:
        if not stopped:
            server.stop()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_failing_model_is_explained_and_the_message_is_kept(
    database_url: str, browser: Browser
) -> None:
    with socket.socket() as probe:  # a loopback port where nothing listens
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    failing = settings(
        database_url, openai_model="any-model", openai_base_url=f"http://127.0.0.1:{closed_port}/v1"
    )
    server = LiveServer(failing).start()
    try:
        for shown in visit(browser, server.url, viewport={"width": 1280, "height": 800}):
            shown.watch.expect_failed_loads("502")
            page = shown.page
            shown.sign_in(new_user_id())
            send(page, "Add a task to buy groceries")
            expect(page.get_by_role("alert")).to_contain_text(
                "the assistant could not answer just now", timeout=30_000
            )
            expect(message_box(page)).to_have_value("Add a task to buy groceries")
            expect(message_box(page)).to_be_focused()
            expect(page.get_by_role("button", name="Send")).to_be_enabled()
    finally:
        server.stop()
