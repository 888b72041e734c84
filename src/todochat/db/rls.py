"""Row-level security on PostgreSQL: the settings its policies read, set in the round trip of
the work they are for.

The policies (migration `2026_11_25_row_security`) let a statement see and change only the
rows of the user the `todochat.user_id` setting names, or every user's rows while
`todochat.all_users` is on (the jobs that work across users). Both are set transaction-locally,
so that neither a pooled connection nor a PgBouncer server connection carries them into the
next transaction, and in a message the work sends anyway, so that no round trip is added: a
transaction's BEGIN, or the read itself.
"""

from collections.abc import Callable, Mapping
from typing import Any, Self

import psycopg
from psycopg import pq
from psycopg.abc import Params

USER_SETTING = "todochat.user_id"
ALL_USERS_SETTING = "todochat.all_users"
# Execution options of a connection, read as its transaction begins: whom it acts for.
USER_OPTION = "todochat_user_id"
ALL_USERS_OPTION = "todochat_all_users"
# A parameter name no compiled statement uses, for the acting user of a single read.
_USER_PARAMETER = "todochat_acting_user"


def begin_statement(begin: str, options: Mapping[str, Any], quote: Callable[[str], str]) -> str:
    """`begin` followed, in the same message, by the settings `options` ask for."""
    statements = [begin]
    user_id = options.get(USER_OPTION)
    if user_id is not None:
        statements.append(f"SET LOCAL {USER_SETTING} = {quote(user_id)}")
    if options.get(ALL_USERS_OPTION):
        statements.append(f"SET LOCAL {ALL_USERS_SETTING} = 'on'")
    return "; ".join(statements)


def quoter(driver: psycopg.AsyncConnection[Any]) -> Callable[[str], str]:
    """Quotes a value as a string literal the way libpq does, for `driver`'s settings."""
    escaping = pq.Escaping(driver.pgconn)
    return lambda value: escaping.escape_literal(value.encode()).decode()


def scoped_read(sql: str, arguments: Mapping[str, Any], user_id: str) -> tuple[str, dict[str, Any]]:
    """One read (in `pyformat` style) preceded by setting the acting user for it alone.

    Sent by a `ReadCursor` as one simple-protocol message, the two statements run in one
    implicit transaction: the setting lasts for this read only.
    """
    prefix = f"SELECT set_config('{USER_SETTING}', %({_USER_PARAMETER})s, true); "
    return prefix + sql, {**arguments, _USER_PARAMETER: user_id}


class ReadCursor(psycopg.AsyncClientCursor[Any]):
    """The read pool's cursor: parameters bound by the client, so that a `scoped_read` goes
    as one message, and the rows those of the message's last statement."""

    async def execute(
        self,
        query: Any,  # any query psycopg takes
        params: Params | None = None,
        *,
        prepare: bool | None = None,
        binary: bool | None = None,
    ) -> Self:
        """Run `query`; stand on the result of its last statement."""
        await super().execute(query, params, prepare=prepare, binary=binary)
        while self.nextset():
            pass
        return self
