"""JSON columns hold SQL NULL where nothing was given, never the JSON value null.

Revision ID: 2026_11_23_json_nulls
Revises: 2026_11_23_chat_turns
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "2026_11_23_json_nulls"
down_revision: str | None = "2026_11_23_chat_turns"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NULLABLE_JSON = {
    "conversations": ("metadata",),
    "messages": ("tool_calls", "tool_results", "metadata"),
    "idempotency_keys": ("response",),
}


def upgrade() -> None:
    null = "'null'::jsonb" if op.get_bind().dialect.name == "postgresql" else "'null'"
    for table, columns in NULLABLE_JSON.items():
        for column in columns:
            # Names from the table above, no input: nothing to inject.
            update = f"UPDATE {table} SET {column} = NULL WHERE {column} = {null}"
            op.execute(sa.text(update))


def downgrade() -> None:
    """Nothing to undo: SQL NULL reads back as None, as JSON null did."""
