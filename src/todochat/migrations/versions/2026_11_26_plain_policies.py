"""Row-level security's policies call `current_setting` in place, not in scalar subqueries.

`2026_11_25_row_security` read each setting in a scalar subquery, which the planner makes an
InitPlan: planning the two subqueries on each table a statement touches cost more than the
policies' checks themselves (the benchmark's reads took 35-45% longer to plan than without
the policies; with the calls in place, 15-25%). Called in place, `current_setting` is planned
like any other function, and runs on each row the query keeps, which costs little: a query
finds its rows by its own `user_id` condition. Measured with EXPLAIN (ANALYZE) on the
benchmark's reads and writes, as the tables' owner: a task list of 50 took 79 µs with the
subqueries, 72 µs with this, 57 µs without the policies.

`all_users` is a cast to boolean, as the InitPlan was a boolean: the planner guesses either
true half the time. Compared with `'on'` it would be guessed true one time in two hundred, and
the policies would seem to keep a twentieth of a user's rows, which can turn a read with a
LIMIT into a read and sort of all of them. `nullif` turns the empty string the setting reverts
to after a transaction that set it into NULL (the cast refuses '').

Two policies, as before: one policy of the two conditions joined by OR planned and ran no
faster.

Revision ID: 2026_11_26_plain_policies
Revises: 2026_11_25_row_security
Create Date: 2026-11-26
"""

from collections.abc import Sequence

from alembic import op

revision: str = "2026_11_26_plain_policies"
down_revision: str | None = "2026_11_25_row_security"
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
USER = "current_setting('todochat.user_id', true)"
ALL_USERS = "current_setting('todochat.all_users', true)"
# Each policy's USING, `{column}` the table's user column: in place, and as they were.
IN_PLACE = {"acting_user": f"{{column}} = {USER}", "all_users": f"nullif({ALL_USERS}, '')::boolean"}
SUBQUERIES = {
    "acting_user": f"{{column}} = (SELECT {USER})",
    "all_users": f"(SELECT {ALL_USERS} = 'on')",
}


def _alter(policies: dict[str, str]) -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table, column in OWNED_BY.items():
        for policy, using in policies.items():
            op.execute(f"ALTER POLICY {policy} ON {table} USING ({using.format(column=column)})")


def upgrade() -> None:
    _alter(IN_PLACE)


def downgrade() -> None:
    _alter(SUBQUERIES)
