"""The compiled write path: hot INSERTs and UPDATEs compiled once and run on the driver itself."""

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Insert, bindparam, insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.dml import UpdateBase

from todochat.db.compiled import CompiledStatement
from todochat.db.session import ReadSession, refuse_write

# Rows an INSERT of many carries per statement: a few statements compiled, each of few rows.
ROWS_PER_INSERT = 16


class CompiledWrite(CompiledStatement):
    """A write compiled once per dialect, run on the driver in the session's transaction.

    It skips the ORM's unit of work and identity map as a Core statement does: objects the
    session holds are not refreshed. Changes the session has yet to flush are flushed first,
    as they would be before any statement; a read session refuses it as it refuses any write.
    """

    def __init__(self, statement: UpdateBase, *, columns: Sequence[str] | None = None) -> None:
        """`statement`; for an INSERT, the `columns` it gives, each bound by its own name."""
        super().__init__(statement, columns=columns)
        self._of_rows: dict[int, CompiledStatement] = {}

    async def returning(self, session: AsyncSession, **parameters: Any) -> list[Sequence[Any]]:
        """The rows the statement returns (its RETURNING clause) with `parameters`."""
        await _prepare(session)
        return (await self.run(session, parameters)).rows

    async def execute(self, session: AsyncSession, **parameters: Any) -> int:
        """Run the statement with `parameters`; how many rows it changed."""
        await _prepare(session)
        return (await self.run(session, parameters)).rowcount

    async def insert(self, session: AsyncSession, rows: Sequence[Mapping[str, Any]]) -> None:
        """Insert `rows` (values of the INSERT's `columns`) with multi-row VALUES.

        One statement and one round trip for up to `ROWS_PER_INSERT` rows, where running the
        statement once per row would cost a round trip (or a pipeline) each.
        """
        await _prepare(session)
        if len(rows) == 1:
            await self.run(session, rows[0])
            return
        for start in range(0, len(rows), ROWS_PER_INSERT):
            batch = rows[start : start + ROWS_PER_INSERT]
            await self.of_rows(len(batch)).run(session, numbered(batch))

    def of_rows(self, count: int) -> CompiledStatement:
        """The INSERT of `count` rows in one VALUES list, its parameters named by `numbered`."""
        statement = self._of_rows.get(count)
        if statement is None:
            if not isinstance(self.statement, Insert) or self.columns is None:
                raise TypeError("rows are inserted by an INSERT compiled with its columns")
            table, names = self.statement.table, self.columns
            values = [
                {name: bindparam(_numbered(name, n), type_=table.c[name].type) for name in names}
                for n in range(count)
            ]
            statement = self._of_rows[count] = CompiledStatement(insert(table).values(values))
        return statement


def numbered(rows: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The parameters of an INSERT of `rows` (`CompiledWrite.of_rows`): each column numbered
    by its row."""
    return {_numbered(column, n): row[column] for n, row in enumerate(rows) for column in row}


def _numbered(column: str, row: int) -> str:
    return f"{column}_{row}"


async def _prepare(session: AsyncSession) -> None:
    if isinstance(session.sync_session, ReadSession):
        refuse_write()
    if session.new or session.dirty or session.deleted:
        await session.flush()
