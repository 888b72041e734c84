"""Row-level security on every table of users' rows (PostgreSQL; nothing on SQLite).

A statement sees and changes only the rows of the user the transaction-local setting
`todochat.user_id` names (`acting_user`), or every row while `todochat.all_users` is 'on'
(`all_users`: retention's scans, migrations). FORCE makes the policies bind the tables' owner
too, which is the role the application connects as; superusers and BYPASSRLS roles are not
bound. A query that forgets its user filter then returns nothing of anyone else's.

The settings are read once per statement (a scalar subquery becomes an InitPlan), not once
per row. `all_users` is one boolean InitPlan, which the planner guesses true half the time:
compared in the policy (`(SELECT …) = 'on'`), it would be guessed true one time in two hundred,
the OR of the two policies would seem to keep a twentieth of the user's rows, and a query
with a LIMIT (the latest 50 messages) would read and sort all of them instead of stopping at
the 50th.

Revision ID: 2026_11_25_row_security
Revises: 2026_11_24_keys
Create Date: 2026-11-25
"""

from collections.abc import Sequence

from alembic import op

revision: str = "2026_11_25_row_security"
down_revision: str | None = "2026_11_24_keys"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Each table, and its column naming the user a row belongs to.
OWNED_BY = {
    "users": "id",
    "tasks": "user_id",
    "conversations": "user_id",
    "messages": "user_id",
    "idempotency_keys": "user_id",
}


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table, column in OWNED_BY.items():
        op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
        op.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
        op.execute(
            f"CREATE POLICY acting_user ON {table}"
            f" USING ({column} = (SELECT current_setting('todochat.user_id', true)))"
        )
        op.execute(
            f"CREATE POLICY all_users ON {table}"
            " USING ((SELECT current_setting('todochat.all_users', true) = 'on'))"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table in OWNED_BY:
        op.execute(f"DROP POLICY all_users ON {table}")
        op.execute(f"DROP POLICY acting_user ON {table}")
        op.execute(f"ALTER TABLE {table} NO FORCE ROW LEVEL SECURITY")
        op.execute(f"ALTER TABLE {table} DISABLE ROW LEVEL SECURITY")
