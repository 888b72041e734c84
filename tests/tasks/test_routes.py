import httpx
import pytest

from tests.conftest import ApiUser


async def create(client: httpx.AsyncClient, user: ApiUser, **data: object) -> dict[str, object]:
    response = await client.post(user.url("/tasks"), json=data, headers=user.headers)
    assert response.status_code == 201, response.text
    body: dict[str, object] = response.json()
    return body


async def titles(client: httpx.AsyncClient, user: ApiUser, query: str = "") -> list[object]:
    response = await client.get(user.url(f"/tasks{query}"), headers=user.headers)
    assert response.status_code == 200, response.text
    return [task["title"] for task in response.json()]


async def test_a_task_is_created_listed_read_and_deleted(
    client: httpx.AsyncClient, alice: ApiUser
) -> None:
    created = await create(client, alice, title="Buy groceries", tags=["home"])
    assert created["id"] == 1
    assert created["completed"] is False
    assert str(created["created_at"]).endswith("Z")
    got = await client.get(alice.url("/tasks/1"), headers=alice.headers)
    assert got.json() == created
    assert await titles(client, alice) == ["Buy groceries"]
    deleted = await client.delete(alice.url("/tasks/1"), headers=alice.headers)
    assert (deleted.status_code, deleted.content) == (204, b"")
    assert (await client.get(alice.url("/tasks/1"), headers=alice.headers)).status_code == 404


async def test_put_replaces_and_patch_changes_only_what_is_given(
    client: httpx.AsyncClient, alice: ApiUser
) -> None:
    await create(client, alice, title="Old", description="d", priority="high", tags=["x"])
    patched = await client.patch(
        alice.url("/tasks/1"), json={"title": "Patched"}, headers=alice.headers
    )
    assert (patched.json()["title"], patched.json()["priority"]) == ("Patched", "high")
    replaced = await client.put(alice.url("/tasks/1"), json={"title": "New"}, headers=alice.headers)
    body = replaced.json()
    assert (body["title"], body["description"], body["priority"], body["tags"]) == (
        "New",
        None,
        "none",
        [],
    )


async def test_complete_marks_done_and_the_status_filter_follows(
    client: httpx.AsyncClient, alice: ApiUser
) -> None:
    for title in ("a", "b", "c"):
        await create(client, alice, title=title)
    done = await client.patch(alice.url("/tasks/2/complete"), headers=alice.headers)
    assert done.json()["completed"] is True
    assert done.json()["completed_at"] is not None
    assert await titles(client, alice, "?status=pending") == ["a", "c"]
    assert await titles(client, alice, "?status=completed") == ["b"]
    assert await titles(client, alice, "?status=all") == ["a", "b", "c"]
    reopened = await client.patch(
        alice.url("/tasks/2"), json={"completed": False}, headers=alice.headers
    )
    assert reopened.json()["completed_at"] is None


async def test_filters_sort_and_pages_come_from_the_query_string(
    client: httpx.AsyncClient, alice: ApiUser
) -> None:
    await create(client, alice, title="Pay bills", priority="low", tags=["money"])
    await create(client, alice, title="Buy milk", priority="high", tags=["home"])
    await create(client, alice, title="Buy bread", tags=["home"])
    assert await titles(client, alice, "?tag=home&search=buy&sort=title") == [
        "Buy bread",
        "Buy milk",
    ]
    assert await titles(client, alice, "?sort=priority&order=desc&limit=2") == [
        "Buy milk",
        "Pay bills",
    ]
    assert await titles(client, alice, "?limit=1&offset=2") == ["Buy bread"]
    assert await titles(client, alice, "?priority=high") == ["Buy milk"]


async def test_another_users_task_is_not_found_and_untouched(
    client: httpx.AsyncClient, alice: ApiUser, bob: ApiUser
) -> None:
    original = await create(client, alice, title="Alice's")
    await create(client, bob, title="Bob's own")
    attempts = [
        client.get(bob.url("/tasks/1"), headers=bob.headers),
        client.patch(bob.url("/tasks/1"), json={"title": "x"}, headers=bob.headers),
        client.put(bob.url("/tasks/1"), json={"title": "x"}, headers=bob.headers),
        client.patch(bob.url("/tasks/1/complete"), headers=bob.headers),
        client.delete(bob.url("/tasks/1"), headers=bob.headers),
    ]
    statuses = [(await attempt).status_code for attempt in attempts]
    # Bob's own task 1 exists, so these reach *his* task 1; Alice's is never in reach.
    assert statuses == [200, 200, 200, 200, 204]
    assert (await client.get(alice.url("/tasks/1"), headers=alice.headers)).json() == original
    for path in ("/tasks/2", "/tasks/2/complete"):
        response = await client.patch(alice.url(path), json={}, headers=alice.headers)
        assert response.status_code == 404
        assert response.json() == {
            "error": "not_found",
            "detail": "task 2 not found",
            "fields": [],
        }


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"title": ""}, "title"),
        ({"title": "x" * 201}, "title"),
        ({"title": "nul \u0000 byte"}, "title"),
        ({"title": 42}, "title"),
        ({"title": ["a"]}, "title"),
        ({"title": "t", "description": "d" * 1001}, "description"),
        ({"title": "t", "priority": "urgent"}, "priority"),
        ({"title": "t", "tags": "home"}, "tags"),
        ({"title": "t", "user_id": "someone-else"}, "user_id"),
        ({}, "title"),
    ],
)
async def test_bad_task_input_is_a_422_naming_the_field_and_writes_nothing(
    client: httpx.AsyncClient, alice: ApiUser, body: dict[str, object], field: str
) -> None:
    response = await client.post(alice.url("/tasks"), json=body, headers=alice.headers)
    assert response.status_code == 422
    error = response.json()
    assert error["error"] == "invalid"
    assert [f["field"] for f in error["fields"]] == [field]
    assert await titles(client, alice) == []


@pytest.mark.parametrize(
    ("method", "path", "content"),
    [
        ("POST", "/tasks", b"{not json"),
        ("POST", "/tasks", b'"just a string"'),
        ("POST", "/tasks", b"\xff\xfe\x00"),
        ("GET", "/tasks/abc", b""),
        ("GET", "/tasks/0", b""),
        ("GET", "/tasks/99999999999999999999", b""),
        ("GET", "/tasks?status=done", b""),
        ("GET", "/tasks?limit=100000", b""),
        ("GET", "/tasks?colour=red", b""),
        ("GET", "/tasks?search=%00", b""),
    ],
)
async def test_malformed_requests_get_a_4xx_in_the_one_error_shape(
    client: httpx.AsyncClient, alice: ApiUser, method: str, path: str, content: bytes
) -> None:
    headers = {**alice.headers, "Content-Type": "application/json"}
    response = await client.request(method, alice.url(path), content=content, headers=headers)
    assert 400 <= response.status_code < 500, response.text
    assert set(response.json()) == {"error", "detail", "fields"}
    assert await titles(client, alice) == []


async def test_emoji_and_non_ascii_titles_round_trip_over_http(
    client: httpx.AsyncClient, alice: ApiUser
) -> None:
    title = "Acheter du pain 🥖 — 買い物 — Ωμέγα"
    await create(client, alice, title=title, tags=["🏠"])
    assert await titles(client, alice, "?tag=🏠") == [title]
