"""`todochat serve` as its own process, as its users run it."""

import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def todochat_env(**values: str) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DATABASE_URL", "BETTER_AUTH"))
    }
    return {**env, **values}


class Server:
    """`todochat serve` running as its own process, logging to a file beside its database."""

    def __init__(self, cwd: Path, env: dict[str, str]) -> None:
        self.port = free_port()
        self.log = cwd / "serve.log"
        with self.log.open("w") as log:
            self.process = subprocess.Popen(  # noqa: S603 (our own console entry point)
                [sys.executable, "-m", "todochat", "serve", "--port", str(self.port)],
                cwd=cwd,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        self.url = f"http://127.0.0.1:{self.port}"

    def wait_ready(self) -> None:
        with httpx.Client(base_url=self.url, transport=httpx.HTTPTransport(retries=50)) as http:
            for _ in range(200):
                assert self.process.poll() is None, self.log.read_text()
                try:
                    if http.get("/readyz", timeout=1).status_code == 200:
                        return
                except httpx.TransportError:
                    continue
        raise AssertionError(self.log.read_text())

    def stop(self) -> None:
        """SIGTERM, as a process manager sends it: the server shuts down gracefully."""
        self.process.terminate()
        # uvicorn re-raises the signal once it has shut down cleanly.
        assert self.process.wait(timeout=15) in (0, -signal.SIGTERM), self.log.read_text()
        assert "Application shutdown complete" in self.log.read_text()
