"""The compiled write path: hot INSERTs and UPDATEs compiled once and run on the driver itself."""

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.dml import UpdateBase

from todochat.db.compiled import CompiledStatement
from todochat.db.session import ReadSession, refuse_write


class CompiledWrite(CompiledStatement):
    """A write compiled once per dialect, run on the driver in the session's transaction.

    It skips the ORM's unit of work and identity map as a Core statement does: objects the
    session holds are not refreshed. Changes the session has yet to flush are flushed first,
    as they would be before any statement; a read session refuses it as it refuses any write.
    """

    def __init__(self, statement: UpdateBase, *, columns: Sequence[str] | None = None) -> None:
        """`statement`; for an INSERT, the `columns` it gives, each bound by its own name."""
        super().__init__(statement, columns=columns)

    async def returning(self, session: AsyncSession, **parameters: Any) -> list[Sequence[Any]]:
        """The rows the statement returns (its RETURNING clause) with `parameters`."""
        await _prepare(session)
        return (await self.run(session, [parameters])).rows

    async def execute(self, session: AsyncSession, **parameters: Any) -> int:
        """Run the statement with `parameters`; how many rows it changed."""
        await _prepare(session)
        return (await self.run(session, [parameters])).rowcount

    async def execute_many(
        self, session: AsyncSession, parameters: Sequence[Mapping[str, Any]]
    ) -> None:
        """Run the statement once for each set of `parameters`."""
        await _prepare(session)
        await self.run(session, parameters)


async def _prepare(session: AsyncSession) -> None:
    if isinstance(session.sync_session, ReadSession):
        refuse_write()
    if session.new or session.dirty or session.deleted:
        await session.flush()
