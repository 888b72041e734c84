"""The application around the routes: health, limits, request ids, errors, OpenAPI, serve."""

import gc
import json
import socket
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import BACKENDS, SECRET, ApiUser, bearer, settings
from tests.serving import Server, free_port, todochat_env
from todochat import migrate
from todochat.app import MAX_BODY_BYTES, YOUNG_THRESHOLD, create_app
from todochat.protocol import MAX_HEAD_BYTES


async def test_healthz_and_readyz_answer_ok(client: httpx.AsyncClient) -> None:
    assert (await client.get("/healthz")).json() == {"status": "ok", "detail": None}
    assert (await client.get("/readyz")).json() == {"status": "ok", "detail": None}


@pytest.mark.parametrize("empty_database", BACKENDS, indirect=True)
async def test_readyz_is_503_on_an_unmigrated_database(empty_database: str) -> None:
    app = create_app(settings(empty_database))
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client,
    ):
        response = await client.get("/readyz")
    assert response.status_code == 503
    assert "todochat db upgrade" in response.json()["detail"]


@pytest.mark.parametrize("empty_database", BACKENDS[:1], indirect=True)
async def test_while_serving_startup_is_frozen_and_the_collector_runs_less_often(
    empty_database: str,
) -> None:
    before = gc.get_threshold()
    app = create_app(settings(empty_database))
    async with app.router.lifespan_context(app):
        assert gc.get_freeze_count() > 0
        assert gc.get_threshold() == (YOUNG_THRESHOLD, *before[1:])
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0


async def test_every_response_carries_a_request_id(client: httpx.AsyncClient) -> None:
    generated = await client.get("/healthz")
    assert len(generated.headers["x-request-id"]) == 32
    echoed = await client.get("/healthz", headers={"X-Request-ID": "trace-123"})
    assert echoed.headers["x-request-id"] == "trace-123"
    unsafe = await client.get("/healthz", headers={"X-Request-ID": "a b\tc"})
    assert unsafe.headers["x-request-id"] != "a b\tc"


async def test_an_oversized_body_is_a_413_and_writes_nothing(
    client: httpx.AsyncClient, alice: ApiUser
) -> None:
    huge = b'{"title": "' + b"x" * MAX_BODY_BYTES + b'"}'
    headers = {**alice.headers, "Content-Type": "application/json"}
    declared = await client.post(alice.url("/tasks"), content=huge, headers=headers)
    assert declared.status_code == 413
    assert declared.json()["error"] == "too_large"

    async def stream() -> AsyncIterator[bytes]:
        for start in range(0, len(huge), 65536):
            yield huge[start : start + 65536]

    streamed = await client.post(alice.url("/tasks"), content=stream(), headers=headers)
    assert streamed.status_code == 413
    listing = await client.get(alice.url("/tasks"), headers=alice.headers)
    assert listing.json() == []


async def test_a_streamed_body_under_the_limit_is_accepted(
    client: httpx.AsyncClient, alice: ApiUser
) -> None:
    async def stream() -> AsyncIterator[bytes]:
        yield b'{"title": '
        yield b'"streamed"}'

    headers = {**alice.headers, "Content-Type": "application/json"}
    response = await client.post(alice.url("/tasks"), content=stream(), headers=headers)
    assert response.status_code == 201
    assert response.json()["title"] == "streamed"


async def test_unknown_paths_use_the_error_shape(client: httpx.AsyncClient) -> None:
    response = await client.get("/nowhere")
    assert response.status_code == 404
    assert set(response.json()) == {"error", "detail", "fields"}


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("DELETE", "/api/alice/tasks", "GET, POST"),
        ("POST", "/api/alice/tasks/1", "DELETE, GET, PATCH, PUT"),
        ("PUT", "/api/alice/tasks/1/complete", "PATCH"),
        ("PUT", "/api/alice/conversations/1", "DELETE, GET, PATCH"),
        ("GET", "/api/alice/conversations/1/restore", "POST"),
        ("GET", "/api/alice/chat", "POST"),
        ("POST", "/healthz", "GET"),
        ("GET", "/mcp", "POST"),
        ("DELETE", "/mcp", "POST"),
    ],
)
async def test_a_405_lists_every_method_of_the_path_in_allow(
    client: httpx.AsyncClient, method: str, path: str, allow: str
) -> None:
    response = await client.request(method, path, headers=bearer("alice"))
    assert response.status_code == 405
    assert response.headers["Allow"] == allow
    assert response.json() == {
        "error": "method_not_allowed",
        "detail": "Method Not Allowed",
        "fields": [],
    }


async def test_get_mcp_opens_no_event_stream(client: httpx.AsyncClient) -> None:
    headers = {**bearer("alice"), "Accept": "text/event-stream"}
    async with client.stream("GET", "/mcp", headers=headers) as response:
        assert response.status_code == 405
        assert response.headers["content-type"] == "application/json"
        assert (await response.aread()).startswith(b'{"error":"method_not_allowed"')


async def test_openapi_describes_every_error_response(client: httpx.AsyncClient) -> None:
    spec = (await client.get("/openapi.json")).json()
    operation = spec["paths"]["/api/{user_id}/tasks/{task_id}"]["get"]
    for status in ("401", "403", "404", "422"):
        schema = operation["responses"][status]["content"]["application/json"]["schema"]
        assert schema == {"$ref": "#/components/schemas/ErrorBody"}
    assert "bearer" in str(spec["components"]["securitySchemes"]).lower()


async def test_openapi_asks_every_users_route_for_the_bearer_token(
    client: httpx.AsyncClient,
) -> None:
    spec = (await client.get("/openapi.json")).json()
    [scheme] = spec["components"]["securitySchemes"]
    assert spec["components"]["securitySchemes"][scheme]["scheme"] == "bearer"
    operations = [
        (path, operation.get("security"))
        for path, methods in spec["paths"].items()
        if path.startswith("/api/{user_id}/")
        for operation in methods.values()
    ]
    assert len(operations) > 20
    assert {str(security) for _, security in operations} == {str([{scheme: []}])}


@pytest.mark.parametrize("empty_database", ["sqlite"], indirect=True)
async def test_cors_allows_only_the_configured_origins(empty_database: str) -> None:
    app = create_app(settings(empty_database, cors_origins="https://app.example.com"))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        allowed = await c.get("/healthz", headers={"Origin": "https://app.example.com"})
        refused = await c.get("/healthz", headers={"Origin": "https://evil.example.com"})
    assert allowed.headers["access-control-allow-origin"] == "https://app.example.com"
    assert "access-control-allow-origin" not in refused.headers


def test_serve_with_no_configuration_starts_and_a_pasted_token_creates_a_task(
    tmp_path: Path,
) -> None:
    env = todochat_env()
    server = Server(tmp_path, env)
    try:
        server.wait_ready()
        token = subprocess.run(
            [sys.executable, "-m", "todochat", "token", "alice"],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        response = httpx.post(
            f"{server.url}/api/alice/tasks",
            json={"title": "Buy groceries"},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert response.status_code == 201, response.text
        assert response.json()["id"] == 1
    finally:
        server.stop()
    assert (tmp_path / "todochat.db").exists()
    secret = tmp_path / "todochat.db.secret"
    assert secret.stat().st_mode & 0o777 == 0o600
    assert len(secret.read_text()) >= 32


@pytest.mark.parametrize("empty_database", ["postgresql"], indirect=True)
def test_serve_on_postgresql_refuses_an_old_schema_then_serves_once_migrated(
    empty_database: str, tmp_path: Path
) -> None:
    env = todochat_env(DATABASE_URL=empty_database, BETTER_AUTH_SECRET=SECRET)
    refused = subprocess.run(  # noqa: S603
        [sys.executable, "-m", "todochat", "serve", "--port", str(free_port())],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert refused.returncode == 1
    assert "todochat db upgrade" in refused.stderr.replace("\n", " ")

    migrate.upgrade(empty_database)
    server = Server(tmp_path, env)
    try:
        server.wait_ready()
        headers = bearer("pat")
        created = httpx.post(f"{server.url}/api/pat/tasks", json={"title": "t"}, headers=headers)
        assert created.status_code == 201
        listed = httpx.get(f"{server.url}/api/pat/tasks", headers=headers)
        assert [t["title"] for t in listed.json()] == ["t"]
    finally:
        server.stop()
    assert not (tmp_path / "todochat.db").exists()


def read_response(connection: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection."""
    received = b""
    while chunk := connection.recv(65536):
        received += chunk
    return received


def assert_header_fields_too_large(response: bytes) -> None:
    """A 431 in the one error shape that closes the connection."""
    head, _, body = response.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 431 "), response[:200]
    assert b"connection: close" in head.lower()
    assert json.loads(body) == {
        "error": "request_header_fields_too_large",
        "detail": f"the request line and headers must be at most {MAX_HEAD_BYTES} bytes",
        "fields": [],
    }


def test_serve_refuses_an_oversized_request_head_without_reading_it(tmp_path: Path) -> None:
    server = Server(tmp_path, todochat_env())
    address = ("127.0.0.1", server.port)
    start = b"GET /healthz HTTP/1.1\r\nHost: todochat.test\r\nAuthorization: Bearer "
    try:
        server.wait_ready()
        with socket.create_connection(address, timeout=10) as whole:
            whole.sendall(start + b"a" * MAX_HEAD_BYTES + b"\r\n\r\n")
            assert_header_fields_too_large(read_response(whole))
        with socket.create_connection(address, timeout=10) as unfinished:
            unfinished.sendall(start + b"a" * MAX_HEAD_BYTES)
            assert_header_fields_too_large(read_response(unfinished))

        # A 64 MB header is cut off long before the client has sent it all.
        sent, header_value = 0, 64 * 1024 * 1024
        with socket.create_connection(address, timeout=10) as huge:
            huge.sendall(start)
            with pytest.raises((BrokenPipeError, ConnectionResetError)):  # noqa: PT012
                while sent < header_value:
                    huge.sendall(b"a" * 65536)
                    sent += 65536
        assert sent < header_value
        assert httpx.get(f"{server.url}/healthz").json() == {"status": "ok", "detail": None}
        just_under = {"X-Padding": "a" * (MAX_HEAD_BYTES - 200)}
        assert httpx.get(f"{server.url}/healthz", headers=just_under).status_code == 200
    finally:
        server.stop()
