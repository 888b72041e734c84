"""The web floor: what serving `todochat bench http`'s requests costs at the least.

A lean Starlette application: the bare driver (a psycopg pool, or sqlite3) runs the very SQL
todochat runs and the rows go out as the same JSON through orjson; no auth, no validation beyond
reading the title, no logging, no middleware. `todochat bench http` writes its plan (the SQL, the
arguments) to a file named by `TODOCHAT_WEB_FLOOR` and serves `app` with uvicorn, as todochat is.
"""

import json
import os
import sqlite3
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

if TYPE_CHECKING:
    from psycopg import AsyncConnection

PLAN = "TODOCHAT_WEB_FLOOR"
JSON_OPTIONS = orjson.OPT_UTC_Z
TASK_FIELDS = (
    "id", "title", "description", "completed", "priority", "tags",
    "created_at", "updated_at", "completed_at",
)  # fmt: skip
MESSAGE_FIELDS = (
    "seq", "key", "role", "content", "tool_calls", "tool_results", "metadata",
    "created_at", "deleted_at",
)  # fmt: skip


@dataclass(frozen=True)
class Statement:
    """SQL as todochat's driver receives it: the parameter order for positional drivers."""

    sql: str
    positions: list[str] | None
    fixed: dict[str, Any]  # arguments every call binds alike

    def arguments(self, values: Mapping[str, Any]) -> Any:
        """The arguments in the driver's form."""
        merged = {**self.fixed, **values}
        return merged if self.positions is None else [merged[name] for name in self.positions]


@dataclass(frozen=True)
class Plan:
    """What the floor runs: the database, and todochat's statements for each request."""

    backend: str  # "postgresql" or "sqlite"
    database: str  # a libpq connection string, or the SQLite file
    pool: int  # the most connections todochat's read pool keeps open
    history: Statement
    tasks: Statement
    next_task: Statement
    insert_task: Statement
    create_task: Statement | None  # PostgreSQL: the number taken in the INSERT, as todochat does

    def write(self, path: Path) -> None:
        """Save the plan for the floor's process."""
        path.write_text(json.dumps(self, default=vars))

    @classmethod
    def read(cls, path: Path) -> "Plan":
        """The plan `write` saved."""
        raw = json.loads(path.read_text())
        statements = {k: Statement(**v) for k, v in raw.items() if isinstance(v, dict)}
        return cls(**{**raw, **statements})


class _Driver(Protocol):
    async def open(self) -> None: ...

    async def rows(self, statement: Statement, values: Mapping[str, Any]) -> Sequence[Any]: ...

    async def create(self, user_id: str, title: str, now: datetime) -> tuple[int, Any]: ...

    async def close(self) -> None: ...


class _Postgres:
    def __init__(self, plan: Plan) -> None:
        from psycopg_pool import AsyncConnectionPool  # noqa: PLC0415 (PostgreSQL runs only)

        self.plan = plan
        # Sessions in UTC, as todochat's values are: psycopg returns them ready to encode.
        self.pool = AsyncConnectionPool(
            plan.database,
            min_size=plan.pool,
            max_size=plan.pool,
            kwargs={"autocommit": True, "prepare_threshold": None, "options": "-c TimeZone=UTC"},
            configure=parse_json_with_orjson,
            open=False,
        )

    async def open(self) -> None:
        await self.pool.open(wait=True)

    async def rows(self, statement: Statement, values: Mapping[str, Any]) -> Sequence[Any]:
        async with self.pool.connection() as connection:
            cursor = await connection.execute(statement.sql, statement.arguments(values))
            return await cursor.fetchall()

    async def create(self, user_id: str, title: str, now: datetime) -> tuple[int, Any]:
        from psycopg.types.json import Jsonb  # noqa: PLC0415

        create = self.plan.create_task
        assert create is not None  # todochat creates a task in one statement on PostgreSQL
        async with self.pool.connection() as connection, connection.transaction():
            values = _task_values(user_id, 0, title, now, Jsonb([]))  # the number: taken
            cursor = await connection.execute(create.sql, create.arguments(values))
            row = await cursor.fetchone()
            assert row is not None
        return row[0], now

    async def close(self) -> None:
        await self.pool.close()


class _Sqlite:
    # One connection per process, used on the event loop's thread, as todochat's reader does.
    def __init__(self, plan: Plan) -> None:
        self.plan = plan
        self.connection = sqlite3.connect(plan.database, isolation_level=None)
        for pragma in ("busy_timeout = 30000", "foreign_keys = ON", "synchronous = NORMAL"):
            self.connection.execute(f"PRAGMA {pragma}")

    async def open(self) -> None:
        """Nothing to open: the connection is made."""

    async def rows(self, statement: Statement, values: Mapping[str, Any]) -> Sequence[Any]:
        return self.connection.execute(statement.sql, statement.arguments(values)).fetchall()

    async def create(self, user_id: str, title: str, now: datetime) -> tuple[int, Any]:
        stamp = now.strftime("%Y-%m-%d %H:%M:%S.%f")
        self.connection.execute("BEGIN IMMEDIATE")
        try:
            (number,) = self.connection.execute(
                self.plan.next_task.sql, self.plan.next_task.arguments({"user_id": user_id})
            ).fetchone()
            values = _task_values(user_id, number, title, stamp, "[]")
            self.connection.execute(
                self.plan.insert_task.sql, self.plan.insert_task.arguments(values)
            )
        except BaseException:
            self.connection.execute("ROLLBACK")
            raise
        self.connection.execute("COMMIT")
        return number, now

    async def close(self) -> None:
        self.connection.close()


async def parse_json_with_orjson(connection: "AsyncConnection[Any]") -> None:
    """Have `connection` parse JSON columns with orjson, as todochat does (and as this floor
    parses SQLite's): the floors do not pay for a slower parser than todochat's."""
    from psycopg.types.json import set_json_loads  # noqa: PLC0415

    set_json_loads(orjson.loads, connection)


def _task_values(user_id: str, number: int, title: str, stamp: Any, tags: Any) -> dict[str, Any]:
    return {
        "user_id": user_id,
        "id": number,
        "title": title,
        "description": None,
        "completed": False,
        "priority": "none",
        "tags": tags,
        "created_at": stamp,
        "updated_at": stamp,
        "completed_at": None,
    }


# SQLite hands back text for timestamps (UTC, without an offset) and for JSON, as todochat
# stored them; psycopg hands back the values themselves.
def _time(value: Any) -> Any:
    return datetime.fromisoformat(value + "+00:00") if isinstance(value, str) else value


def _json(value: Any) -> Any:
    return orjson.loads(value) if isinstance(value, str) else value


def _task(row: Sequence[Any]) -> dict[str, Any]:
    task = dict(zip(TASK_FIELDS, row, strict=True))
    # In the order todochat's TaskPublic has its fields.
    return {
        "title": task["title"],
        "description": task["description"],
        "priority": task["priority"],
        "tags": _json(task["tags"]),
        "id": task["id"],
        "completed": bool(task["completed"]),
        "created_at": _time(task["created_at"]),
        "updated_at": _time(task["updated_at"]),
        "completed_at": _time(task["completed_at"]),
    }


def _message(row: Sequence[Any]) -> dict[str, Any]:
    message = dict(zip(MESSAGE_FIELDS, row, strict=True))
    return {
        "seq": message["seq"],
        "role": message["role"],
        "content": message["content"],
        "tool_calls": _json(message["tool_calls"]),
        "tool_results": _json(message["tool_results"]),
        "metadata": _json(message["metadata"]),
        "created_at": _time(message["created_at"]),
        "deleted_at": _time(message["deleted_at"]),
    }


def _respond(content: Any, status: int = 200) -> Response:
    return Response(
        orjson.dumps(content, option=JSON_OPTIONS), status, media_type="application/json"
    )


def create_app(path: Path | None = None) -> Starlette:
    """The floor for the plan at `path` (by default, the one `TODOCHAT_WEB_FLOOR` names)."""
    plan = Plan.read(path or Path(os.environ[PLAN]))
    driver: _Driver = _Postgres(plan) if plan.backend == "postgresql" else _Sqlite(plan)

    async def history(request: Request) -> Response:
        limit = int(request.query_params.get("limit", 50))
        values = {
            "user_id": request.path_params["user_id"],
            "conversation_id": request.path_params["conversation_id"],
            "limit": limit,
        }
        items = [_message(row) for row in reversed(await driver.rows(plan.history, values))]
        older = bool(items) and items[0]["seq"] > 1 and len(items) == limit
        return _respond({"items": items, "next_before": items[0]["seq"] if older else None})

    async def tasks(request: Request) -> Response:
        if request.method == "POST":
            title = orjson.loads(await request.body())["title"].strip()
            if not 1 <= len(title) <= 200:
                return _respond({"detail": "title"}, 422)
            user_id = request.path_params["user_id"]
            number, now = await driver.create(user_id, title, datetime.now(UTC))
            return _respond(_task((number, title, None, False, "none", [], now, now, None)), 201)
        values = {
            "user_id": request.path_params["user_id"],
            "limit": int(request.query_params.get("limit", 50)),
        }
        return _respond([_task(row) for row in await driver.rows(plan.tasks, values)])

    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        await driver.open()
        try:
            yield
        finally:
            await driver.close()

    routes = [
        Route("/api/{user_id}/conversations/{conversation_id:int}/messages", history),
        Route("/api/{user_id}/tasks", tasks, methods=["GET", "POST"]),
        Route("/readyz", lambda _: Response(b'{"status":"ok"}', media_type="application/json")),
    ]
    return Starlette(routes=routes, lifespan=lifespan)
