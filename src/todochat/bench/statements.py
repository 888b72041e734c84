"""todochat's own statements, compiled as its driver receives them, for the floors to run."""

from typing import Any

from sqlalchemy import Dialect, insert
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.expression import ClauseElement

from todochat import orm
from todochat.bench.web_floor import Statement
from todochat.conversations.store import _INSERT_MESSAGES, _TAKE_SEQ, BEFORE, LATEST, RECENT
from todochat.tasks.models import Status, Task, TaskQuery, TaskView
from todochat.tasks.store import _INSERT, listing
from todochat.users.store import _NEXT

PAGE = 50
PENDING = TaskQuery(status=Status.PENDING, limit=PAGE)
TASK_COLUMNS = ["user_id", *TaskView._fields]
# As MessageStore.append names them ("metadata" is the column behind the view's `meta`).
MESSAGE_COLUMNS = [
    "user_id", "conversation_id", "seq", "key", "role", "content",
    "tool_calls", "tool_results", "metadata", "created_at",
]  # fmt: skip


def compiled(
    statement: ClauseElement,
    dialect: Dialect,
    keys: list[str] | None = None,
    fixed: dict[str, Any] | None = None,
) -> Statement:
    """`statement` as todochat's driver receives it, with `fixed` arguments bound alike always."""
    sql = statement.compile(dialect=dialect, column_keys=keys)
    assert isinstance(sql, SQLCompiler)
    defaults = {
        sql.bind_names[bind]: bind.effective_value
        for bind in sql.binds.values()
        if not bind.required
    }
    positions = list(sql.positiontup) if sql.positiontup else None
    return Statement(sql.string, positions, {**defaults, **(fixed or {})})


def reads(dialect: Dialect) -> dict[str, Statement]:
    """The statements of the measured reads, as the stores run them."""
    return {
        "history": compiled(LATEST[False].statement, dialect),
        "older": compiled(BEFORE[False].statement, dialect),
        "conversations": compiled(RECENT[False].statement, dialect),
        "tasks": compiled(listing(PENDING).statement, dialect, fixed={"offset": 0}),
    }


def next_task(dialect: Dialect) -> Statement:
    """UserStore.next_number's statement for task numbers."""
    return compiled(_NEXT["last_task_id"].statement, dialect)


def insert_task(dialect: Dialect) -> Statement:
    """TaskStore.create's insert, after `next_task`."""
    return compiled(insert(orm.table(Task)), dialect, keys=TASK_COLUMNS)


def create_task(dialect: Dialect) -> Statement:
    """TaskStore.create's one statement on PostgreSQL: the number taken in the INSERT."""
    return compiled(_INSERT.at_once.statement, dialect)


def take_seq(dialect: Dialect) -> Statement:
    """MessageStore.append's statement that takes the next message numbers."""
    return compiled(_TAKE_SEQ.statement, dialect)


def insert_messages(dialect: Dialect, count: int) -> Statement:
    """MessageStore.append's insert of `count` messages in one statement."""
    return compiled(_INSERT_MESSAGES.of_rows(count).statement, dialect)
