"""A PostgreSQL cluster of a test's own, in a temporary folder on a free loopback port: one it
may kill connections on, stop and start, without disturbing any other database."""

import glob
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import psycopg
import pytest

from tests.serving import free_port

BOUND_SECONDS = 60  # no step of setting up, stopping or starting takes longer


def _bindir() -> Path:
    """Where PostgreSQL's server programs are: on the PATH, or Debian's newest version's."""
    found = shutil.which("initdb")
    if found is not None:
        return Path(found).resolve().parent
    versions = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=_version)
    if not versions:
        raise FileNotFoundError("no initdb on the PATH nor in /usr/lib/postgresql/*/bin")
    return Path(versions[-1]).parent


def _version(path: str) -> int:
    return int(Path(path).parent.parent.name.split(".")[0])


class Cluster:
    """A PostgreSQL cluster in a folder of its own, serving 127.0.0.1 on a free port."""

    def __init__(self) -> None:
        self.bin = _bindir()
        self.port = free_port()
        self.folder = Path(tempfile.mkdtemp(prefix="todochat-cluster-"))
        self.data = self.folder / "data"
        # initdb refuses to run as root: then the cluster belongs to the postgres user.
        self._as = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        try:
            if self._as:
                shutil.chown(self.folder, "postgres")
            self._run(
                "initdb", "-D", self.data, "-U", "postgres", "--auth=trust", "-E", "UTF8",
                "--no-sync",
            )  # fmt: skip
            self.start()
        except BaseException:
            self.remove()
            raise

    def url(self, database: str) -> str:
        """The URL of one of the cluster's databases, as the postgres superuser."""
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}?sslmode=disable"

    def _run(self, program: str, *arguments: object) -> None:
        subprocess.run(  # noqa: S603 (PostgreSQL's own programs)
            [*self._as, str(self.bin / program), *map(str, arguments)],
            check=True,
            capture_output=True,
            timeout=BOUND_SECONDS,
        )

    def start(self) -> None:
        """Start the server; return once it accepts connections."""
        options = f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.folder}"
        log = self.folder / "server.log"
        self._run("pg_ctl", "-D", self.data, "-l", log, "-o", options, "-w", "-t", 30, "start")

    def stop(self) -> None:
        """Stop the server as an administrator would (fast: sessions are disconnected)."""
        self._run("pg_ctl", "-D", self.data, "-m", "fast", "-w", "-t", 30, "stop")

    def admin(self) -> psycopg.Connection[tuple[object, ...]]:
        """A superuser connection to the cluster's maintenance database."""
        return psycopg.connect(self.url("postgres"), autocommit=True, connect_timeout=5)

    def kill_connections(self, database: str) -> int:
        """Terminate every connection to `database`; how many there were."""
        with self.admin() as admin:
            row = admin.execute(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                " WHERE datname = %s AND pid <> pg_backend_pid()",
                (database,),
            ).fetchone()
        assert row is not None
        return int(str(row[0]))

    def remove(self) -> None:
        """Stop the server at once and delete the cluster."""
        subprocess.run(  # noqa: S603 (PostgreSQL's own program)
            [*self._as, str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "stop"],
            capture_output=True,
            timeout=BOUND_SECONDS,
            check=False,
        )
        shutil.rmtree(self.folder, ignore_errors=True)


def own_cluster() -> Cluster:
    """A new cluster; under CI=true, failing the test if one cannot be set up, else skipping it."""
    try:
        return Cluster()
    except (OSError, subprocess.SubprocessError, psycopg.Error) as error:
        detail = getattr(error, "stderr", b"") or b""
        message = f"cannot set up a PostgreSQL cluster of the test's own: {error} {detail!r}"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(f"SKIPPING: {message}")


def wait_accepting(cluster: Cluster, seconds: float = 30) -> float:
    """Wait until the cluster accepts connections; the monotonic time it first did."""
    give_up = time.monotonic() + seconds
    while time.monotonic() < give_up:
        try:
            cluster.admin().close()
            return time.monotonic()
        except psycopg.OperationalError:
            time.sleep(0.01)
    raise AssertionError("PostgreSQL did not accept connections")
