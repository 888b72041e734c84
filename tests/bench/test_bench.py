"""The benchmark runs end to end at a tiny size, so that it cannot rot (no timing asserted)."""

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any, NamedTuple

import pytest

from tests.conftest import BACKENDS, OWNER, PostgresServer
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


class Report(NamedTuple):
    """What a benchmark that succeeded printed, and wrote to its JSON and Markdown files."""

    backend: str
    stdout: str
    data: Any
    markdown: str


def report(database_url: str, cwd: Path, command: str, *args: str, prefix: str = "") -> Report:
    """Run `todochat bench COMMAND ARGS`, which must succeed; its report, whose files are
    named `prefix` and the backend of `database_url`."""
    result = todochat(database_url, cwd, command, *args)
    assert result.returncode == 0, result.stderr
    backend = "sqlite" if database_url.startswith("sqlite") else "postgresql"
    written = cwd / "bench-results" / f"{prefix}{backend}"
    return Report(
        backend,
        result.stdout,
        json.loads(written.with_suffix(".json").read_text()),
        written.with_suffix(".md").read_text(),
    )


@pytest.mark.parametrize("empty_database", BACKENDS, indirect=True)
def test_the_benchmark_runs_at_a_tiny_size_and_writes_its_report(
    empty_database: str, tmp_path: Path
) -> None:
    ran = report(
        empty_database, tmp_path, "run", "--tiny", "--factors", "1,3", "--iterations", "20"
    )
    assert ran.data["backend"] == ran.backend
    assert [run["factor"] for run in ran.data["runs"]] == [1, 3]
    first = ran.data["runs"][0]
    assert set(first["results"]["todochat"]) == OPERATIONS
    floor = next(name for name in first["results"] if name.startswith("floor"))
    assert set(first["results"][floor]) == OPERATIONS
    assert set(first["results"]["HTTP API (in process)"]) == OPERATIONS - {"turn"}
    assert set(first["results"]["Agents SDK SQLAlchemySession"]) == {"history", "turn"}
    assert set(first["results"]["LangChain SQLChatMessageHistory"]) == {"history", "turn"}
    assert first["results"]["todochat"]["history"]["samples"] == 20
    assert ran.data["runs"][1]["messages"] > first["messages"]
    assert (tmp_path / "bench-results" / f"{ran.backend}.png").stat().st_size > 10_000
    assert "ours / floor" in ran.stdout
    assert "| history |" in ran.markdown


@pytest.mark.parametrize(
    ("command", "option"), [("run", "--factors"), ("chat", "--people"), ("http", "--workers")]
)
@pytest.mark.parametrize("given", ["1,x", "2,,3", "1,0"])
def test_a_list_of_counts_that_is_not_one_is_refused_like_any_bad_option(
    command: str, option: str, given: str, tmp_path: Path
) -> None:
    untouched = tmp_path / "untouched.db"
    refused = todochat(f"sqlite:///{untouched}", tmp_path, command, option, given)
    assert refused.returncode == 2  # as Typer answers a bad value of its own types
    assert f"Invalid value for '{option}': {given!r} is not whole numbers" in refused.stderr
    assert "Traceback" not in refused.stderr
    assert not untouched.exists()


@pytest.mark.parametrize("empty_database", ["sqlite", OWNER], indirect=True)
def test_seeding_refuses_a_database_that_holds_users(empty_database: str, tmp_path: Path) -> None:
    assert todochat(empty_database, tmp_path, "seed", "--tiny").returncode == 0
    again = todochat(empty_database, tmp_path, "seed", "--tiny")
    assert again.returncode == 1
    assert "empty" in again.stderr


@pytest.mark.parametrize("command", ["seed", "run", "chat", "rls"])
def test_a_benchmark_says_in_one_line_that_its_database_cannot_be_reached(
    command: str, tmp_path: Path
) -> None:
    unreachable = "postgresql://postgres@127.0.0.1:1/todochat_bench"
    result = todochat(unreachable, tmp_path, command, "--tiny")
    assert result.returncode == 1
    assert result.stderr.startswith("Cannot ")
    assert "unreachable" in result.stderr
    assert "Traceback" not in result.stderr


def test_the_benchmark_creates_its_postgresql_database_if_need_be(tmp_path: Path) -> None:
    missing = f"postgresql://postgres@127.0.0.1:5432/todochat_test_{uuid.uuid4().hex[:12]}"
    try:
        assert todochat(missing, tmp_path, "seed", "--tiny").returncode == 0
    finally:
        PostgresServer().drop(missing)


def relative(url: str, cwd: Path) -> str:
    """`url` as people often write an SQLite file's: relative to where they run the command
    (the benchmarks serve todochat from folders of their own)."""
    if not url.startswith("sqlite:///"):
        return url
    return "sqlite:///" + os.path.relpath(url.removeprefix("sqlite:///"), cwd)


@pytest.mark.parametrize("empty_database", BACKENDS, indirect=True)
def test_the_chat_benchmark_runs_at_a_tiny_size_and_writes_its_report(
    empty_database: str, tmp_path: Path
) -> None:
    url = relative(empty_database, tmp_path)
    loads = report(url, tmp_path, "chat", "--tiny", prefix="chat-")
    assert [load["people"] for load in loads.data["loads"]] == [1, 3]
    assert [len(load["turns"]) for load in loads.data["loads"]] == [3, 9]
    # Each turn's two model calls, as the model server held them, and no others.
    assert [len(load["model_calls"]) for load in loads.data["loads"]] == [6, 18]
    assert [load["failures"] for load in loads.data["loads"]] == [0, 0]
    assert all(load["reads"] for load in loads.data["loads"])
    # Beside one person's turns, the Agents SDK alone: a turn a round, two model calls each.
    assert [len(load["sdk_alone"]) for load in loads.data["loads"]] == [3, 0]
    assert [len(load["sdk_alone_model_calls"]) for load in loads.data["loads"]] == [6, 0]
    assert "turns/s" in loads.markdown
    assert "the Agents SDK alone: cost p50 ms" in loads.markdown


@pytest.mark.parametrize("empty_database", BACKENDS, indirect=True)
def test_the_http_benchmark_runs_at_a_tiny_size_without_errors(
    empty_database: str, tmp_path: Path
) -> None:
    url = relative(empty_database, tmp_path)
    served = report(url, tmp_path, "http", "--tiny", prefix="http-")
    runs = {
        (run["server"], run["workers"], run["endpoint"]): run["load"] for run in served.data["runs"]
    }
    assert set(runs) == {
        (server, workers, endpoint)
        for server in ("todochat", "web floor")
        for workers in (1, 2)
        for endpoint in ("history", "tasks", "create_task")
    }
    for load in runs.values():
        assert load["requests"] > 0
        assert 0 < load["p50_ms"] <= load["p95_ms"] <= load["p99_ms"]
        assert (load["errors"], load["timeouts"]) == (0, 0)
    assert "| create_task | 2 |" in served.markdown


@pytest.mark.parametrize("empty_database", [OWNER], indirect=True)
def test_the_row_security_benchmark_runs_at_a_tiny_size_as_the_databases_owner(
    empty_database: str, tmp_path: Path
) -> None:
    arguments = ("--tiny", "--iterations", "20", "--batch", "10")
    measured = report(empty_database, tmp_path, "rls", *arguments, prefix="rls-")
    costs = measured.data
    assert {(cost["contender"], cost["operation"]) for cost in costs} == {
        *(("todochat", operation) for operation in OPERATIONS),
        *(("HTTP API (in process)", operation) for operation in OPERATIONS - {"turn"}),
    }
    for cost in costs:  # two batches of ten in each state
        assert cost["with_policies"]["samples"] == cost["without"]["samples"] == 20
    assert "| todochat | history |" in measured.markdown
    assert secured(empty_database) == dict.fromkeys(OWNED, True)  # left switched on


@pytest.mark.parametrize("empty_database", ["postgresql"], indirect=True)
def test_the_row_security_benchmark_refuses_a_role_the_policies_do_not_bind(
    empty_database: str, tmp_path: Path
) -> None:
    result = todochat(empty_database, tmp_path, "rls", "--tiny")
    assert result.returncode == 1
    assert "row-level security does not bind this role" in result.stderr
