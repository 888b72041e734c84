"""`todochat serve` in a process of its own, as its users run it, for benchmarks and tests."""

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

import httpx


def free_port() -> int:
    """A loopback port nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


TODOCHAT_SERVE = ("-m", "todochat", "serve")


class Served:
    """`todochat serve` (or another `program` of Python's that takes `--port`) on a free
    loopback port, logging to `log`."""

    def __init__(
        self,
        env: Mapping[str, str],
        cwd: Path,
        log: Path,
        *arguments: str,
        program: Sequence[str] = TODOCHAT_SERVE,
    ) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = log
        self.name = " ".join(program).removeprefix("-m ")
        with log.open("w") as output:
            self.process = subprocess.Popen(  # noqa: S603 (our own console entry point)
                [sys.executable, *program, "--port", str(self.port), *arguments],
                cwd=cwd,
                env=dict(env),
                stdout=output,
                stderr=subprocess.STDOUT,
            )

    def wait_ready(self, seconds: float = 60) -> None:
        """Wait until /readyz answers 200; fail with the server's log if it never does."""
        give_up = time.monotonic() + seconds
        with httpx.Client(base_url=self.url, timeout=1) as http:
            while time.monotonic() < give_up:
                if self.process.poll() is not None:
                    break
                try:
                    if http.get("/readyz").status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                time.sleep(0.05)
        raise RuntimeError(f"{self.name} did not become ready:\n{self.log.read_text()}")

    def stop(self, seconds: float = 15) -> int:
        """SIGTERM, as a process manager sends it; the exit status."""
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=seconds)

    def kill(self) -> None:
        """SIGKILL: the process dies at once, as in a crash."""
        os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)


def clean_env(**values: str) -> dict[str, str]:
    """This process's environment without todochat's settings, plus `values`."""
    prefixes = ("DATABASE_URL", "BETTER_AUTH", "OPENAI_", "CHAT_")
    return {
        **{key: value for key, value in os.environ.items() if not key.startswith(prefixes)},
        **values,
    }
