"""One rule for what a client sends, on every HTTP surface: text every backend stores as given,
numbers in range, booleans and numbers of their own JSON types. MCP has its own tests."""

import base64
from typing import Any

import httpx
import pytest

from tests.conftest import ApiUser

SURROGATE_RULE = "must not contain lone UTF-16 surrogates"
NUL_RULE = "must not contain NUL characters"
NOT_A_CURSOR = "is not a cursor this server issued"


async def send(
    client: httpx.AsyncClient, user: ApiUser, method: str, path: str, json_text: str
) -> httpx.Response:
    """`json_text` sent as it is written (the JSON escape \\ud800 survives no JSON encoder)."""
    headers = {**user.headers, "Content-Type": "application/json"}
    return await client.request(method, user.url(path), content=json_text.encode(), headers=headers)


def assert_refused(response: httpx.Response, field: str, rule: str) -> None:
    """A 422 in the one error shape, naming exactly `field` and the rule it broke."""
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["error"] == "invalid"
    assert body["fields"] == [{"field": field, "rule": rule}], body


async def stored(client: httpx.AsyncClient, user: ApiUser) -> tuple[list[Any], list[Any]]:
    """The user's tasks and conversations, as the API lists them."""
    tasks = await client.get(user.url("/tasks"), headers=user.headers)
    conversations = await client.get(user.url("/conversations"), headers=user.headers)
    return tasks.json(), conversations.json()["items"]


# --- lone surrogates --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "json_text", "field"),
    [
        ("/tasks", r'{"title": "Buy \ud800 milk"}', "title"),
        ("/tasks", r'{"title": "t", "description": "\udfff"}', "description"),
        ("/tasks", r'{"title": "t", "tags": ["home", "\ud800"]}', "tags.1"),
        ("/conversations", r'{"title": "\udbff"}', "title"),
        ("/conversations", r'{"metadata": {"k\ud800": 1}}', r"metadata.k\ud800.[key]"),
        ("/conversations", r'{"metadata": {"a": [1, {"b": "\ud800"}]}}', "metadata.a.1.b"),
        ("/chat", r'{"message": "Add a task to buy \ud800"}', "message"),
    ],
    ids=["task title", "description", "tag", "conversation title", "key", "value", "chat"],
)
async def test_a_lone_surrogate_is_refused_naming_the_field_and_nothing_is_stored(
    client: httpx.AsyncClient, alice: ApiUser, path: str, json_text: str, field: str
) -> None:
    assert_refused(await send(client, alice, "POST", path, json_text), field, SURROGATE_RULE)
    assert await stored(client, alice) == ([], [])


@pytest.mark.parametrize(
    ("path", "json_text", "field"),
    [
        ("/tasks/1", r'{"title": "\ud800"}', "title"),
        ("/tasks/1", r'{"tags": ["\udc00"]}', "tags.0"),
        ("/conversations/1", r'{"title": "x\ud800"}', "title"),
        ("/conversations/1", r'{"metadata": {"\ud800": "v"}}', r"metadata.\ud800.[key]"),
    ],
)
async def test_a_lone_surrogate_in_a_change_is_refused_and_changes_nothing(
    client: httpx.AsyncClient, alice: ApiUser, path: str, json_text: str, field: str
) -> None:
    await client.post(alice.url("/tasks"), json={"title": "Call mom"}, headers=alice.headers)
    await client.post(alice.url("/conversations"), json={"title": "Plans"}, headers=alice.headers)
    before = await stored(client, alice)
    assert_refused(await send(client, alice, "PATCH", path, json_text), field, SURROGATE_RULE)
    assert await stored(client, alice) == before


async def test_a_surrogate_pair_is_one_ordinary_character_and_kept_exactly(
    client: httpx.AsyncClient, alice: ApiUser
) -> None:
    json_text = r'{"title": "Party \ud83c\udf89", "metadata": {"\ud83c\udf89": "\ud83c\udf89"}}'
    response = await send(client, alice, "POST", "/conversations", json_text)
    assert response.status_code == 201, response.text
    _, [conversation] = await stored(client, alice)
    assert (conversation["title"], conversation["metadata"]) == ("Party 🎉", {"🎉": "🎉"})


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("/tasks?search=%ED%A0%80", "search"),
        ("/tasks?status=all&tag=x%ED%B0%80", "tag"),
        ("/conversations?cursor=%ED%A0%80", "cursor"),
        ("/tasks?%ED%A0%80=1", "\ufffd\ufffd\ufffd"),
    ],
)
async def test_a_query_string_that_is_not_utf8_is_refused_naming_the_parameter(
    client: httpx.AsyncClient, alice: ApiUser, query: str, field: str
) -> None:
    # %ED%A0%80 is how a lone surrogate would be percent-encoded; it is no UTF-8.
    response = await client.get(alice.url(query), headers=alice.headers)
    assert_refused(response, field, "must be UTF-8 once percent-decoded")


async def test_a_path_that_is_not_utf8_is_refused(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/%ED%A0%80/tasks")
    assert_refused(response, "path", "must be UTF-8 once percent-decoded")


@pytest.mark.parametrize("parameter", ["search", "tag"])
async def test_a_nul_in_a_query_string_is_refused_naming_the_parameter(
    client: httpx.AsyncClient, alice: ApiUser, parameter: str
) -> None:
    response = await client.get(alice.url(f"/tasks?{parameter}=a%00b"), headers=alice.headers)
    assert_refused(response, parameter, NUL_RULE)


# --- numbers in range -------------------------------------------------------------------------


def cursor(raw: str) -> str:
    """A cursor in this server's encoding, whatever it says."""
    return base64.urlsafe_b64encode(raw.encode()).decode()


@pytest.mark.parametrize(
    "raw",
    [
        "2026-01-01T00:00:00+00:00|2147483648",
        "2026-01-01T00:00:00+00:00|9223372036854775808",
        "2026-01-01T00:00:00+00:00|18446744073709551616",
        "2026-01-01T00:00:00+00:00|0",
        "2026-01-01T00:00:00+00:00|-1",
        "2026-01-01T00:00:00|1",
        "0001-01-01T00:00:00+01:00|1",
        "9999-12-31T23:59:59-01:00|1",
    ],
)
async def test_a_cursor_carrying_a_value_out_of_range_is_refused(
    client: httpx.AsyncClient, alice: ApiUser, raw: str
) -> None:
    response = await client.get(
        alice.url("/conversations"), params={"cursor": cursor(raw)}, headers=alice.headers
    )
    assert_refused(response, "cursor", NOT_A_CURSOR)


async def test_a_cursor_at_the_edges_of_the_range_is_accepted(
    client: httpx.AsyncClient, alice: ApiUser
) -> None:
    for raw in ("2026-01-01T00:00:00+00:00|2147483647", "0001-01-01T00:00:00+00:00|1"):
        response = await client.get(
            alice.url("/conversations"), params={"cursor": cursor(raw)}, headers=alice.headers
        )
        assert (response.status_code, response.json()) == (200, {"items": [], "next_cursor": None})


@pytest.mark.parametrize(
    ("request_line", "json_text", "field"),
    [
        ("GET /tasks/2147483648", "", "task_id"),
        ("GET /tasks/9223372036854775808", "", "task_id"),
        ("GET /conversations/18446744073709551616", "", "conversation_id"),
        ("GET /tasks?limit=9223372036854775808", "", "limit"),
        ("GET /tasks?offset=18446744073709551616", "", "offset"),
        ("GET /conversations?limit=-9223372036854775809", "", "limit"),
        ("GET /conversations/1/messages?before=2147483648", "", "before"),
        ("POST /chat", '{"message": "hi", "conversation_id": 2147483648}', "conversation_id"),
        ("POST /chat", '{"message": "hi", "conversation_id": 1e400}', "conversation_id"),
    ],
)
async def test_a_number_out_of_range_anywhere_is_refused(
    client: httpx.AsyncClient, alice: ApiUser, request_line: str, json_text: str, field: str
) -> None:
    method, path = request_line.split(" ")
    response = await send(client, alice, method, path, json_text)
    assert response.status_code == 422, response.text
    assert [f["field"] for f in response.json()["fields"]] == [field]
    assert await stored(client, alice) == ([], [])


# --- booleans are booleans, numbers are numbers -----------------------------------------------


@pytest.mark.parametrize("value", ["true", '"1"', "1.5", "[1]"])
async def test_a_conversation_id_that_is_not_an_integer_is_refused(
    client: httpx.AsyncClient, alice: ApiUser, value: str
) -> None:
    first = await send(client, alice, "POST", "/chat", '{"message": "Add a task to buy milk"}')
    assert first.json()["conversation_id"] == 1
    before = await stored(client, alice)
    json_text = f'{{"message": "Add a task to buy bread", "conversation_id": {value}}}'
    response = await send(client, alice, "POST", "/chat", json_text)
    assert_refused(response, "conversation_id", "Input should be a valid integer")
    assert await stored(client, alice) == before


@pytest.mark.parametrize("value", ['"yes"', '"true"', "1", "0", '"false"'])
async def test_completed_that_is_not_a_boolean_is_refused(
    client: httpx.AsyncClient, alice: ApiUser, value: str
) -> None:
    await client.post(alice.url("/tasks"), json={"title": "Call mom"}, headers=alice.headers)
    before = await stored(client, alice)
    response = await send(client, alice, "PATCH", "/tasks/1", f'{{"completed": {value}}}')
    assert_refused(response, "completed", "Input should be a valid boolean")
    assert await stored(client, alice) == before


async def test_what_a_json_client_sends_is_still_accepted(
    client: httpx.AsyncClient, alice: ApiUser
) -> None:
    said = await send(client, alice, "POST", "/chat", '{"message": "Add a task to buy milk"}')
    again = await send(
        client, alice, "POST", "/chat", '{"message": "What\'s pending?", "conversation_id": 1}'
    )
    assert (said.status_code, again.json()["conversation_id"]) == (200, 1)
    done = await send(client, alice, "PATCH", "/tasks/1", '{"completed": true, "priority": "high"}')
    assert (done.json()["completed"], done.json()["priority"]) == (True, "high")
    listed = await client.get(
        alice.url("/tasks?limit=5&offset=0&status=completed"), headers=alice.headers
    )
    assert [task["id"] for task in listed.json()] == [1]
