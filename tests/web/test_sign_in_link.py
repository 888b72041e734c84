"""`todochat serve` and `todochat token --url` print links that open a working chat."""

import re
import subprocess
import sys
from pathlib import Path

from playwright.sync_api import Browser, expect

from tests.conftest import SECRET
from tests.serving import Server, todochat_env
from tests.web.conftest import visit
from tests.web.test_chat_page import message_box, send, tasks_region

LINK = re.compile(r"http://127\.0\.0\.1:(\d+)/#token=[\w.-]+")


def test_the_link_serve_prints_opens_a_chat_that_works_with_no_configuration(
    tmp_path: Path, browser: Browser
) -> None:
    env = todochat_env()
    server = Server(tmp_path, env)
    try:
        server.wait_ready()
        printed = LINK.search(server.log.read_text())
        assert printed is not None, server.log.read_text()
        assert printed.group(1) == str(server.port)
        for shown in visit(browser, server.url):
            page = shown.page
            page.goto(printed.group(0))
            expect(page.get_by_text("local", exact=True)).to_be_visible()
            send(page, "Add a task to buy groceries")
            expect(tasks_region(page).get_by_role("checkbox")).to_have_accessible_name(
                "#1 Buy groceries"
            )

        link = subprocess.run(  # noqa: S603 (our own console entry point)
            [
                sys.executable,
                "-m",
                "todochat",
                "token",
                "alice",
                "--url",
                "--port",
                str(server.port),
            ],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        assert LINK.fullmatch(link), link
        for shown in visit(browser, server.url):
            shown.page.goto(link)
            expect(shown.page.get_by_text("alice", exact=True)).to_be_visible()
            expect(message_box(shown.page)).to_be_focused()
            expect(tasks_region(shown.page)).to_contain_text("No tasks yet")
    finally:
        server.stop()


def test_serve_prints_no_link_when_tokens_come_from_a_configured_secret(
    tmp_path: Path,
) -> None:
    env = todochat_env(BETTER_AUTH_SECRET=SECRET)
    server = Server(tmp_path, env)
    try:
        server.wait_ready()
    finally:
        server.stop()
    assert "#token=" not in server.log.read_text()
