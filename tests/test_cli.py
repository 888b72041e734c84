"""The command line: each command loads only what it needs, and prints lines scripts can read."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.serving import free_port
from todochat import migrate

# What the quick commands must not load: the server, the database toolkit, the benchmark.
HEAVY = ("fastapi", "sqlalchemy", "alembic", "agents", "mcp", "uvicorn", "todochat.bench")
# Runs the command line in-process, then names the heavy modules it loaded on standard error.
RUN_AND_LIST = f"""
import sys
from todochat.cli import app
try:
    app(sys.argv[1:])
except SystemExit:
    pass
print(sorted(name for name in {HEAVY!r} if name in sys.modules), file=sys.stderr)
"""


def _unconfigured() -> dict[str, str]:
    """The environment without todochat's database and auth settings."""
    return {
        key: value
        for key, value in os.environ.items()
        if key != "DATABASE_URL" and not key.startswith("BETTER_AUTH_")
    }


def todochat(
    cwd: Path, *args: str, database_url: str | None = None
) -> subprocess.CompletedProcess[str]:
    """`todochat ARGS` with its output piped, as a script reads it, on a terminal 20 wide."""
    env = _unconfigured()
    if database_url is not None:
        env["DATABASE_URL"] = database_url
    return subprocess.run(  # noqa: S603 (our own console entry point)
        [sys.executable, "-m", "todochat", *args],
        cwd=cwd,
        env={**env, "COLUMNS": "20"},
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )


def loaded_by(cwd: Path, *args: str) -> str:
    """The heavy modules `todochat ARGS` loads, as the list it prints."""
    result = subprocess.run(  # noqa: S603 (our own code)
        [sys.executable, "-c", RUN_AND_LIST, *args],
        cwd=cwd,
        env=_unconfigured(),
        capture_output=True,
        text=True,
        check=False,
    )
    return result.stderr.strip().splitlines()[-1]


def test_db_current_prints_the_revision_on_one_line_when_piped(tmp_path: Path) -> None:
    result = todochat(tmp_path, "db", "current")
    assert result.returncode == 0, result.stderr
    database = tmp_path / "todochat.db"
    assert result.stdout == (
        f"Database {database} is at revision base (head is {migrate.head()}).\n"
    )
    assert not database.exists()  # asking where a database stands creates nothing


def test_db_upgrade_and_current_print_one_line_each_when_piped(tmp_path: Path) -> None:
    upgraded = todochat(tmp_path, "db", "upgrade")
    assert upgraded.returncode == 0, upgraded.stderr
    line = f"Database {tmp_path / 'todochat.db'} is at revision {migrate.head()} (up to date).\n"
    assert upgraded.stdout == line
    assert todochat(tmp_path, "db", "current").stdout == line


@pytest.mark.parametrize(
    ("args", "told"),
    [
        (("db", "current"), "Cannot read the revision of"),
        (("serve", "--port", "1"), "Cannot read the revision of"),
        (("db", "upgrade"), "Cannot upgrade"),
        (("db", "downgrade", "base"), "Cannot downgrade"),
        (("db", "check"), "Cannot check"),
    ],
)
def test_a_database_that_cannot_be_reached_is_told_in_one_line_naming_it(
    tmp_path: Path, args: tuple[str, ...], told: str
) -> None:
    closed = f"postgresql://postgres@127.0.0.1:{free_port()}/todochat"
    result = todochat(tmp_path, *args, database_url=closed)
    assert result.returncode == 1
    assert result.stderr == (
        f"{told} {closed}: the database is unreachable right now; try again in a few seconds\n"
    )


@pytest.mark.parametrize(
    ("args", "told"),
    [
        (("db", "current"), "Cannot read the revision of"),
        (("db", "upgrade"), "Cannot upgrade"),
        (("db", "check"), "Cannot check"),
        (("serve", "--port", "1"), "Cannot upgrade"),
    ],
)
def test_an_sqlite_file_that_cannot_be_opened_is_told_in_one_line(
    tmp_path: Path, args: tuple[str, ...], told: str
) -> None:
    result = todochat(tmp_path, *args, database_url=f"sqlite:///{tmp_path}")
    assert result.returncode == 1
    assert result.stderr == (
        f"{told} {tmp_path}: the database is unreachable right now; try again in a few seconds\n"
    )


def test_token_and_its_link_are_one_line_each_when_piped(tmp_path: Path) -> None:
    token = todochat(tmp_path, "token", "alice")
    assert token.returncode == 0, token.stderr
    [signed] = token.stdout.splitlines()
    assert signed.count(".") == 2
    assert token.stdout == signed + "\n"
    link = todochat(tmp_path, "token", "alice", "--url", "--port", "8123")
    assert link.stdout.startswith("http://127.0.0.1:8123/#token=")
    assert link.stdout.count("\n") == 1


def test_an_error_is_one_plain_line_on_standard_error(tmp_path: Path) -> None:
    result = todochat(tmp_path, "token", "alice", database_url="postgresql://u@h/db")
    assert result.returncode == 1
    assert result.stderr == (
        "Cannot sign: on PostgreSQL, set BETTER_AUTH_SECRET or BETTER_AUTH_JWKS_URL\n"
    )


@pytest.mark.parametrize(
    "args", [("token", "alice"), ("db", "current"), ("--help",), ("db", "--help")]
)
def test_the_quick_commands_load_neither_the_server_nor_sqlalchemy(
    tmp_path: Path, args: tuple[str, ...]
) -> None:
    assert loaded_by(tmp_path, *args) == "[]"


def test_only_the_bench_command_loads_the_benchmark(tmp_path: Path) -> None:
    assert "'todochat.bench'" in loaded_by(tmp_path, "bench", "--help")
    assert "'todochat.bench'" not in loaded_by(tmp_path, "export", "--help")
    help_text = todochat(tmp_path, "bench", "--help")
    assert help_text.returncode == 0, help_text.stderr
    assert "seed" in help_text.stdout
    assert "todochat bench" in help_text.stdout
