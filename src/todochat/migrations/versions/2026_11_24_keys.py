"""Keys: names callers give conversations (per user) and messages (per conversation).

Revision ID: 2026_11_24_keys
Revises: 2026_11_24_search_archive
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "2026_11_24_keys"
down_revision: str | None = "2026_11_24_search_archive"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Uniqueness as unique indexes, and every change in place, never by copying the table: on
# SQLite a copy's DROP of `conversations` would cascade to every message.
KEYS = {
    "conversations": ("uq_conversations_user_key", ["user_id", "key"]),
    "messages": ("uq_messages_conversation_key", ["user_id", "conversation_id", "key"]),
}


def upgrade() -> None:
    for table, (index, columns) in KEYS.items():
        with op.batch_alter_table(table, recreate="never") as batch:
            batch.add_column(sa.Column("key", sa.String(255), nullable=True))
            batch.create_index(index, columns, unique=True)


def downgrade() -> None:
    for table, (index, _) in KEYS.items():
        with op.batch_alter_table(table, recreate="never") as batch:
            batch.drop_index(index)
            batch.drop_column("key")
