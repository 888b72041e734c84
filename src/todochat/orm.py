"""The declarative base and the column types every table shares."""

from collections.abc import Callable
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, cast

from sqlalchemy import JSON, Boolean, DateTime, Dialect, Enum, MetaData, Table
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement
from sqlalchemy.types import TypeDecorator

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    """The current time as an aware UTC datetime."""
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp stored in UTC and always read back timezone-aware, on every backend."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: timestamps must be timezone-aware")
        return value.astimezone(UTC)

    def result_processor(
        self, dialect: Dialect, coltype: object
    ) -> Callable[[Any], datetime | None] | None:
        """Aware UTC datetimes from what the driver returns: SQLite's text parsed in one step
        per value; psycopg's values as they are, since PostgreSQL sessions run in UTC (see
        db/engine.py) and psycopg then gives Python's UTC."""
        return _parse_utc if dialect.name == "sqlite" else None


def _parse_utc(value: str | None) -> datetime | None:
    # SQLite holds UTC text without an offset; appending one lets the C parser attach UTC.
    return None if value is None else datetime.fromisoformat(value + "+00:00")


# None is SQL NULL, never the JSON value null: `WHERE tool_calls IS NULL` finds what was not given.
Json = JSON(none_as_null=True).with_variant(JSONB(none_as_null=True), "postgresql")


def enum_column(enum: type[StrEnum], name: str) -> Enum:
    """A column of the enum's lowercase values, checked by the database on every backend."""
    return Enum(
        enum,
        name=name,
        native_enum=False,
        create_constraint=True,
        length=max(len(member.value) for member in enum),
        values_callable=lambda members: [member.value for member in members],
    )


class json_array_contains(FunctionElement[bool]):  # noqa: N801 (named like the SQL functions)
    """True where the JSON array in the first argument holds the string in the second."""

    type = Boolean()
    inherit_cache = True
    name = "json_array_contains"


@compiles(json_array_contains, "postgresql")
def _json_array_contains_postgresql(
    element: json_array_contains, compiler: SQLCompiler, **kw: Any
) -> str:
    array, value = (compiler.process(clause, **kw) for clause in element.clauses)
    return f"{array} @> jsonb_build_array(CAST({value} AS TEXT))"


@compiles(json_array_contains, "sqlite")
def _json_array_contains_sqlite(
    element: json_array_contains, compiler: SQLCompiler, **kw: Any
) -> str:
    array, value = (compiler.process(clause, **kw) for clause in element.clauses)
    # Both operands are compiled SQL (a column and a bound parameter), never user text.
    return f"EXISTS (SELECT 1 FROM json_each({array}) WHERE json_each.value = {value})"  # noqa: S608


class Base(DeclarativeBase):
    """The base of every table; constraints are named by one convention, for migrations."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {  # noqa: RUF012 (read by SQLAlchemy, never mutated)
        datetime: UTCDateTime(),
        dict[str, Any]: Json,
        list[Any]: Json,
    }


def table(model: type[Base]) -> Table:
    """The table a model maps, for Core statements that skip the ORM on hot paths."""
    return cast(Table, model.__table__)
