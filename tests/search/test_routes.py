from typing import Any

import httpx
import pytest

from tests.conftest import ApiUser, say


async def test_search_answers_messages_and_tasks_best_first_with_marked_snippets(
    client: httpx.AsyncClient, alice: ApiUser, bob: ApiUser
) -> None:
    await say(client, alice, "Add a task to renew the passport")
    await say(client, bob, "Add a task to renew the passport")
    await say(client, alice, "Passport photos: where do I get passport photos taken?")
    response = await client.get(
        alice.url("/search"), params={"q": "passport photo"}, headers=alice.headers
    )
    assert response.status_code == 200, response.text
    [hit] = response.json()["items"]
    assert (hit["kind"], hit["conversation_id"], hit["seq"], hit["task_id"]) == (
        "message",
        2,
        1,
        None,
    )
    # PostgreSQL's snippet ends at the last word, SQLite's at the end of the text.
    assert hit["snippet"].rstrip("?") == (
        "<mark>Passport</mark> <mark>photos</mark>: where do I get"
        " <mark>passport</mark> <mark>photos</mark> taken"
    )
    both = await client.get(alice.url("/search"), params={"q": "passport"}, headers=alice.headers)
    hits = {(h["kind"], h["conversation_id"], h["seq"], h["task_id"]) for h in both.json()["items"]}
    assert hits == {
        ("task", None, None, 1),
        ("message", 1, 1, None),  # asking for the task
        ("message", 1, 3, None),  # the assistant's confirmation (seq 2 records the tool call)
        ("message", 2, 1, None),
    }


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({}, "q"),
        ({"q": ""}, "q"),
        ({"q": "x" * 501}, "q"),
        ({"q": "nul\u0000"}, "q"),
        ({"q": "milk", "limit": 0}, "limit"),
        ({"q": "milk", "limit": 51}, "limit"),
    ],
)
async def test_a_bad_search_is_a_422(
    client: httpx.AsyncClient, alice: ApiUser, query: dict[str, Any], field: str
) -> None:
    response = await client.get(alice.url("/search"), params=query, headers=alice.headers)
    assert response.status_code == 422
    assert [f["field"] for f in response.json()["fields"]] == [field]


async def test_search_needs_the_users_own_token(
    client: httpx.AsyncClient, alice: ApiUser, bob: ApiUser
) -> None:
    anonymous = await client.get(alice.url("/search"), params={"q": "milk"})
    other = await client.get(alice.url("/search"), params={"q": "milk"}, headers=bob.headers)
    assert (anonymous.status_code, other.status_code) == (401, 403)
