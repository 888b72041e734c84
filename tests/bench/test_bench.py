"""The benchmark runs end to end at a tiny size, so that it cannot rot (no timing asserted)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import BACKENDS, OWNER
from tests.db.test_row_security import OWNED, secured

OPERATIONS = {"history", "older", "conversations", "turn", "tasks", "create_task", "search"}


def todochat(database_url: str, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 (our own console entry point)
        [sys.executable, "-m", "todochat", "bench", *args],
        env={**os.environ, "DATABASE_URL": database_url, "COLUMNS": "200"},
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )


@pytest.mark.parametrize("empty_database", BACKENDS, indirect=True)
def test_the_benchmark_runs_at_a_tiny_size_and_writes_its_report(
    empty_database: str, tmp_path: Path
) -> None:
    result = todochat(
        empty_database, tmp_path, "run", "--tiny", "--factors", "1,3", "--iterations", "20"
    )
    assert result.returncode == 0, result.stderr
    backend = "sqlite" if empty_database.startswith("sqlite") else "postgresql"
    report = json.loads((tmp_path / "bench-results" / f"{backend}.json").read_text())
    assert report["backend"] == backend
    assert [run["factor"] for run in report["runs"]] == [1, 3]
    first = report["runs"][0]
    assert set(first["results"]["todochat"]) == OPERATIONS
    floor = next(name for name in first["results"] if name.startswith("floor"))
    assert set(first["results"][floor]) == OPERATIONS
    assert set(first["results"]["HTTP API (in process)"]) == OPERATIONS - {"turn"}
    assert set(first["results"]["Agents SDK SQLAlchemySession"]) == {"history", "turn"}
    assert set(first["results"]["LangChain SQLChatMessageHistory"]) == {"history", "turn"}
    assert first["results"]["todochat"]["history"]["samples"] == 20
    assert report["runs"][1]["messages"] > first["messages"]
    assert (tmp_path / "bench-results" / f"{backend}.png").stat().st_size > 10_000
    assert "ours / floor" in result.stdout
    assert "| history |" in (tmp_path / "bench-results" / f"{backend}.md").read_text()


@pytest.mark.parametrize("empty_database", ["sqlite", OWNER], indirect=True)
def test_seeding_refuses_a_database_that_holds_users(empty_database: str, tmp_path: Path) -> None:
    assert todochat(empty_database, tmp_path, "seed", "--tiny").returncode == 0
    again = todochat(empty_database, tmp_path, "seed", "--tiny")
    assert again.returncode == 1
    assert "empty" in again.stderr


@pytest.mark.parametrize("empty_database", BACKENDS, indirect=True)
def test_the_chat_benchmark_runs_at_a_tiny_size_and_writes_its_report(
    empty_database: str, tmp_path: Path
) -> None:
    result = todochat(empty_database, tmp_path, "chat", "--tiny")
    assert result.returncode == 0, result.stderr
    backend = "sqlite" if empty_database.startswith("sqlite") else "postgresql"
    report = json.loads((tmp_path / "bench-results" / f"chat-{backend}.json").read_text())
    assert [load["people"] for load in report["loads"]] == [2, 3]
    assert [len(load["turns"]) for load in report["loads"]] == [6, 9]
    assert [load["failures"] for load in report["loads"]] == [0, 0]
    assert all(load["reads"] for load in report["loads"])
    assert "turns/s" in (tmp_path / "bench-results" / f"chat-{backend}.md").read_text()


@pytest.mark.parametrize("empty_database", [OWNER], indirect=True)
def test_the_row_security_benchmark_runs_at_a_tiny_size_as_the_databases_owner(
    empty_database: str, tmp_path: Path
) -> None:
    arguments = ("--tiny", "--iterations", "20", "--batch", "10")
    result = todochat(empty_database, tmp_path, "rls", *arguments)
    assert result.returncode == 0, result.stderr
    results = tmp_path / "bench-results"
    costs = json.loads((results / "rls-postgresql.json").read_text())
    assert {(cost["contender"], cost["operation"]) for cost in costs} == {
        *(("todochat", operation) for operation in OPERATIONS),
        *(("HTTP API (in process)", operation) for operation in OPERATIONS - {"turn"}),
    }
    for cost in costs:  # two batches of ten in each state
        assert cost["with_policies"]["samples"] == cost["without"]["samples"] == 20
    assert "| todochat | history |" in (results / "rls-postgresql.md").read_text()
    assert secured(empty_database) == dict.fromkeys(OWNED, True)  # left switched on


@pytest.mark.parametrize("empty_database", ["postgresql"], indirect=True)
def test_the_row_security_benchmark_refuses_a_role_the_policies_do_not_bind(
    empty_database: str, tmp_path: Path
) -> None:
    result = todochat(empty_database, tmp_path, "rls", "--tiny")
    assert result.returncode == 1
    assert "row-level security does not bind this role" in result.stderr
