"""Acceptance: `todochat serve` under load gets over its connections being killed and over
PostgreSQL restarting, on a cluster of the test's own.

Clients read and write over HTTP throughout. No request may fail with anything but 503
(database_unavailable, with Retry-After) and only while PostgreSQL is down; reads and writes
must succeed again within 3 s of PostgreSQL accepting connections; every write acknowledged
with 201 must be there afterwards.
"""

import threading
import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import SECRET, ApiUser, api_user
from tests.db.cluster import Cluster, own_cluster, wait_accepting
from tests.serving import Server, todochat_env
from todochat import migrate

DATABASE = "todochat"
CLIENTS = 4
PAUSE = 0.01  # between one client's requests: a bounded load
RECOVERY_SECONDS = 3.0
DOWN_SECONDS = 3.0


@dataclass(frozen=True)
class Answer:
    """One request as a client saw it."""

    kind: str  # "read" or "write"
    started: float
    ended: float
    status: int
    error: str | None
    retry_after: str | None


@dataclass
class Client:
    """One person using the API, recording every answer and every acknowledged task."""

    user: ApiUser
    answers: list[Answer] = field(default_factory=list)
    acknowledged: dict[int, str] = field(default_factory=dict)

    def run(self, url: str, stop: threading.Event) -> None:
        """Write a task, list the tasks, read the newest, list the conversations; again."""
        with httpx.Client(base_url=url, headers=self.user.headers, timeout=15) as http:
            number = 0
            while not stop.is_set():
                number += 1
                title = f"task {number} of {self.user.id}"
                written = self._ask(http, "write", "POST", "/tasks", json={"title": title})
                if written.status_code == 201:
                    self.acknowledged[written.json()["id"]] = title
                self._ask(http, "read", "GET", "/tasks", params={"limit": 5})
                if self.acknowledged:
                    self._ask(http, "read", "GET", f"/tasks/{max(self.acknowledged)}")
                self._ask(http, "read", "GET", "/conversations")
                time.sleep(PAUSE)

    def _ask(
        self, http: httpx.Client, kind: str, method: str, path: str, **options: Any
    ) -> httpx.Response:
        started = time.monotonic()
        response = http.request(method, self.user.url(path), **options)
        error = response.json().get("error") if response.status_code >= 400 else None
        self.answers.append(
            Answer(
                kind,
                started,
                time.monotonic(),
                response.status_code,
                error,
                response.headers.get("Retry-After"),
            )
        )
        return response


@pytest.fixture
def cluster() -> Iterator[Cluster]:
    """A PostgreSQL cluster of the test's own, removed afterwards."""
    cluster = own_cluster()
    try:
        with cluster.admin() as admin:
            admin.execute(f"CREATE DATABASE {DATABASE}")
        yield cluster
    finally:
        cluster.remove()


def first_success(answers: list[Answer], kind: str, after: float) -> float:
    """How long after `after` the first request of `kind` begun then succeeded."""
    ended = (a.ended for a in answers if a.kind == kind and a.started >= after and a.status < 300)
    return min(ended) - after


def during(answer: Answer, start: float, end: float) -> bool:
    """Whether the request was under way at some time between `start` and `end`."""
    return answer.ended >= start and answer.started <= end


def every_task(http: httpx.Client, user: ApiUser) -> dict[int, str]:
    """All of the user's tasks, page by page: number to title."""
    tasks: dict[int, str] = {}
    while page := http.get(
        user.url("/tasks"), params={"limit": 200, "offset": len(tasks)}, headers=user.headers
    ).json():
        tasks.update((task["id"], task["title"]) for task in page)
    return tasks


def test_serve_gets_over_killed_connections_and_a_postgresql_restart_under_load(
    cluster: Cluster, tmp_path: Path
) -> None:
    url = cluster.url(DATABASE)
    migrate.upgrade(url)
    env = todochat_env(
        DATABASE_URL=url, BETTER_AUTH_SECRET=SECRET, RATE_LIMIT_WRITES="", RATE_LIMIT_CHAT=""
    )
    server = Server(tmp_path, env)
    server.wait_ready()
    clients = [Client(api_user("load")) for _ in range(CLIENTS)]
    stop = threading.Event()
    with ThreadPoolExecutor(CLIENTS + 1) as pool:
        running = [pool.submit(client.run, server.url, stop) for client in clients]
        try:
            time.sleep(1.5)  # under way: every pool holds connections
            killed_at = time.monotonic()
            assert cluster.kill_connections(DATABASE) >= 2
            time.sleep(2)
            stopped_at = time.monotonic()
            cluster.stop()
            time.sleep(DOWN_SECONDS / 2)
            with httpx.Client(base_url=server.url, timeout=15) as http:
                unready = http.get("/readyz")
            time.sleep(DOWN_SECONDS / 2)
            accepting: Future[float] = pool.submit(wait_accepting, cluster)
            cluster.start()
            up_at = accepting.result(timeout=30)
            time.sleep(RECOVERY_SECONDS + 2)
        finally:
            stop.set()
            for future in running:
                future.result(timeout=30)
    with httpx.Client(base_url=server.url, timeout=15) as http:
        ready = http.get("/readyz")
        stored = {client.user.id: every_task(http, client.user) for client in clients}
    server.stop()

    answers = sorted((a for c in clients for a in c.answers), key=lambda a: a.started)
    refused = [a for a in answers if a.status >= 400]
    recovery = {kind: first_success(answers, kind, up_at) for kind in ("read", "write")}
    after_kill = [a for a in answers if killed_at <= a.started < stopped_at]
    print(  # the measured figures, for the record (pytest -s)
        f"\n{len(answers)} requests; {len(refused)} refused, all 503;"
        f" after the kill {sum(a.status >= 400 for a in after_kill)} of {len(after_kill)} refused;"
        f" PostgreSQL down {up_at - stopped_at:.2f} s; first read {recovery['read']:.3f} s and"
        f" first write {recovery['write']:.3f} s after it accepted connections"
    )
    assert {a.status for a in refused} <= {503}, {a.status for a in refused}
    assert all(a.error == "database_unavailable" and a.retry_after for a in refused)
    # Refused only while a fault lasted: a request on a connection killed under it, or one
    # while PostgreSQL was down, until it recovered.
    assert all(
        during(a, killed_at, killed_at + RECOVERY_SECONDS)
        or during(a, stopped_at, up_at + RECOVERY_SECONDS)
        for a in refused
    )
    assert recovery["read"] < RECOVERY_SECONDS
    assert recovery["write"] < RECOVERY_SECONDS
    assert unready.status_code == 503
    assert ready.status_code == 200
    for client in clients:
        assert len(client.acknowledged) > 10
        assert client.acknowledged.items() <= stored[client.user.id].items()
