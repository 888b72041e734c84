"""The web chat in a real browser: signing in, chatting, tasks, conversations, errors."""

import re
from collections.abc import Iterator
from contextlib import contextmanager

from playwright.sync_api import Locator, Page, expect

from tests.web.conftest import Visit, api, new_user_id, token_for


def message_box(page: Page) -> Locator:
    return page.get_by_role("textbox", name="Message", exact=True)


def tasks_region(page: Page) -> Locator:
    return page.get_by_role("region", name="Tasks", exact=True)


def conversations_nav(page: Page) -> Locator:
    return page.get_by_role("navigation", name="Conversations", exact=True)


def conversation(page: Page, title: str) -> Locator:
    """The button that opens the conversation titled `title`."""
    return conversations_nav(page).get_by_role("button", name=re.compile(f"^{re.escape(title)}"))


@contextmanager
def answered(page: Page, method: str) -> Iterator[None]:
    """Wait, around the block, for the server to answer the page's `method` request with success."""
    with page.expect_response(lambda response: response.request.method == method) as response:
        yield
    assert response.value.ok, response.value.status


def send(page: Page, text: str) -> None:
    """Type `text` into the Message box and press Enter, as a person would."""
    message_box(page).fill(text)
    message_box(page).press("Enter")


def test_a_link_signs_in_and_leaves_no_token_in_the_address(chat: Visit) -> None:
    user = new_user_id()
    token = token_for(user)
    chat.page.goto(f"/#token={token}")
    expect(message_box(chat.page)).to_be_focused()
    assert "token" not in chat.page.url
    assert chat.page.evaluate("sessionStorage.getItem('todochat.token')") == token
    expect(chat.page.get_by_text(user, exact=True)).to_be_visible()
    chat.page.go_back()
    assert "token" not in chat.page.url


def test_a_message_is_answered_with_a_tool_call_and_the_task_appears_and_is_ticked_done(
    chat: Visit,
) -> None:
    user = new_user_id()
    chat.sign_in(user)
    page = chat.page
    composer_before = message_box(page).bounding_box()
    with page.expect_response(lambda response: response.url.endswith("/chat")) as turn:
        send(page, "Add a task to buy groceries")
    assert turn.value.headers["content-type"].startswith("text/event-stream")  # streamed

    with api(chat.url, user) as client:
        expect(page.locator(".message.assistant .bubble:not(.writing)")).to_have_count(1)
        stored = client.get("/conversations/1/messages").json()["items"]
        tasks = client.get("/tasks").json()
    assert [m["role"] for m in stored] == ["user", "tool", "assistant"]
    assert [t["title"] for t in tasks] == ["Buy groceries"]
    log = page.get_by_role("log", name="Messages")
    expect(log.locator(".message.user .bubble")).to_have_text("Add a task to buy groceries")
    expect(log.locator(".message.assistant .bubble")).to_have_text(stored[2]["content"])
    expect(log.locator(".tool summary")).to_contain_text("add_task")
    expect(log.locator(".tool summary")).to_contain_text("Buy groceries")
    expect(message_box(page)).to_have_value("")
    assert message_box(page).bounding_box() == composer_before  # the answer moved nothing

    task = tasks_region(page).get_by_role("checkbox", name=re.compile("Buy groceries"))
    expect(task).not_to_be_checked()
    with api(chat.url, user) as client:
        with answered(page, "PATCH"):
            task.check()
        expect(tasks_region(page)).to_contain_text("0 to do, 1 done")
        assert client.get("/tasks/1").json()["completed"] is True
        with answered(page, "PATCH"):
            task.uncheck()
        expect(tasks_region(page)).to_contain_text("1 to do, 0 done")
        assert client.get("/tasks/1").json()["completed"] is False
        with answered(page, "DELETE"):
            tasks_region(page).get_by_role("button", name=re.compile("Delete task 1")).click()
        expect(task).to_have_count(0)
        assert client.get("/tasks").json() == []
    expect(page.get_by_role("status")).to_contain_text("Deleted task 1")


def test_the_keyboard_alone_sends_and_ticks_a_task_behind_a_visible_focus_ring(
    chat: Visit,
) -> None:
    page = chat.page
    chat.sign_in(new_user_id())
    page.keyboard.type("Add a task to buy groceries")
    page.keyboard.press("Enter")
    task = tasks_region(page).get_by_role("checkbox", name=re.compile("Buy groceries"))
    expect(task).to_be_visible()
    for _ in range(20):
        page.keyboard.press("Tab")
        if task.evaluate("box => box === document.activeElement"):
            break
    expect(task).to_be_focused()
    assert task.evaluate("box => getComputedStyle(box).outlineStyle") == "solid"
    with answered(page, "PATCH"):
        page.keyboard.press("Space")
    expect(task).to_be_checked()


def test_shift_enter_starts_a_new_line_and_enter_sends(chat: Visit) -> None:
    chat.sign_in(new_user_id())
    box = message_box(chat.page)
    box.press_sequentially("Add a task to call mom")
    box.press("Shift+Enter")
    box.press_sequentially("tonight")
    expect(box).to_have_value("Add a task to call mom\ntonight")
    expect(chat.page.locator(".message")).to_have_count(0)
    box.press("Enter")
    expect(chat.page.locator(".message.user .bubble")).to_have_text(
        "Add a task to call mom\ntonight"
    )


def test_conversations_are_listed_newest_first_switched_and_found_after_a_reload(
    chat: Visit,
) -> None:
    page = chat.page
    chat.sign_in(new_user_id())
    send(page, "Add a task to buy groceries")
    nav = conversations_nav(page)
    expect(conversation(page, "Add a task to buy groceries")).to_be_visible()
    nav.get_by_role("button", name="New conversation").click()
    expect(message_box(page)).to_be_focused()
    expect(page.locator(".message")).to_have_count(0)
    send(page, "Add a task to pay bills")
    expect(tasks_region(page).get_by_role("checkbox")).to_have_count(2)

    titles = nav.locator(".open .title")
    expect(titles).to_have_text(["Add a task to pay bills", "Add a task to buy groceries"])
    conversation(page, "Add a task to buy groceries").click()
    expect(page.locator(".message.user .bubble")).to_have_text(["Add a task to buy groceries"])
    expect(nav.locator("[aria-current=true] .title")).to_have_text("Add a task to buy groceries")

    page.reload()
    expect(titles).to_have_text(["Add a task to pay bills", "Add a task to buy groceries"])
    expect(page.locator(".message.user .bubble")).to_have_text(["Add a task to buy groceries"])
    expect(page.get_by_role("heading", level=2).first).to_have_text("Add a task to buy groceries")


def test_a_conversation_is_renamed_deleted_and_brought_back(chat: Visit) -> None:
    page = chat.page
    user = new_user_id()
    chat.sign_in(user)
    send(page, "Add a task to water the plants")
    nav = conversations_nav(page)
    nav.get_by_role("button", name=re.compile("^Rename")).click()
    title = nav.get_by_role("textbox", name="New title")
    expect(title).to_be_focused()
    title.fill("Garden")
    title.press("Enter")
    expect(nav.locator(".open .title")).to_have_text(["Garden"])
    expect(page.locator("#chat-title")).to_have_text("Garden")

    nav.get_by_role("button", name="Delete “Garden”").click()
    expect(nav.locator(".open")).to_have_count(0)
    expect(page.locator(".message")).to_have_count(0)
    with api(chat.url, user) as client:
        assert client.get("/conversations").json()["items"] == []
        page.get_by_role("button", name="Undo").click()
        expect(nav.locator(".open .title")).to_have_text(["Garden"])
        assert [c["title"] for c in client.get("/conversations").json()["items"]] == ["Garden"]
    expect(page.locator(".message.user .bubble")).to_have_text(["Add a task to water the plants"])


def test_scrolling_back_reads_older_messages(chat: Visit) -> None:
    user = new_user_id()
    with api(chat.url, user) as client:
        for n in range(1, 18):
            turn = client.post(
                "/chat",
                json={
                    "conversation_id": 1 if n > 1 else None,
                    "message": f"Add a task to do chore {n}",
                },
            )
            assert turn.status_code == 200, turn.text
    page = chat.page
    chat.sign_in(user)
    conversation(page, "Add a task to do chore 1").click()
    bubbles = page.locator(".message.user .bubble")
    expect(bubbles.last).to_have_text("Add a task to do chore 17")
    expect(bubbles).to_have_count(10)  # a page of 30 messages: 10 turns of question, tool, answer
    expect(bubbles.last).to_be_in_viewport()
    page.get_by_role("log", name="Messages").evaluate("log => { log.scrollTop = 0; }")
    expect(bubbles).to_have_count(17)
    expect(bubbles.first).to_have_text("Add a task to do chore 1")
    expect(page.get_by_role("button", name="Load older messages")).to_be_hidden()


def test_a_refused_token_shows_the_sign_in_message(chat: Visit) -> None:
    chat.watch.expect_failed_loads("401")
    forged = token_for(new_user_id(), secret="another-secret-that-is-long-enough-for-hs256")  # noqa: S106
    chat.page.goto(f"/#token={forged}")
    expect(chat.page.get_by_role("heading", name="Sign in to todochat")).to_be_visible()
    expect(chat.page.get_by_role("alert")).to_have_text(
        "The server refused this sign-in. Sign in again with a new link."
    )
    assert chat.page.evaluate("sessionStorage.getItem('todochat.token')") is None
    expect(message_box(chat.page)).to_be_hidden()


def test_an_expired_token_says_so(chat: Visit) -> None:
    chat.watch.expect_failed_loads("401")
    chat.page.goto(f"/#token={token_for(new_user_id(), hours=-1)}")
    expect(chat.page.get_by_role("alert")).to_have_text(
        "Your sign-in has expired. Sign in again with a new link."
    )


def test_no_token_asks_to_sign_in_and_a_pasted_token_signs_in(chat: Visit) -> None:
    page = chat.page
    page.goto("/")
    expect(page.get_by_role("heading", name="Sign in to todochat")).to_be_visible()
    expect(page.get_by_text("todochat token YOUR_ID --url")).to_be_visible()
    user = new_user_id()
    page.get_by_label("Or paste a token").fill(token_for(user))
    page.get_by_role("button", name="Sign in").click()
    expect(message_box(page)).to_be_visible()
    expect(page.get_by_text(user, exact=True)).to_be_visible()
