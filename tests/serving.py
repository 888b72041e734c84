"""`todochat serve` as its own process, as its users run it."""

import signal
from pathlib import Path

from todochat.bench.serving import Served, clean_env, free_port

__all__ = ["Server", "free_port", "todochat_env"]
todochat_env = clean_env


class Server(Served):
    """`todochat serve` logging to a file beside its database; it must stop gracefully."""

    def __init__(self, cwd: Path, env: dict[str, str]) -> None:
        super().__init__(env, cwd, cwd / "serve.log")

    def stop(self, seconds: float = 15) -> int:
        """SIGTERM, as a process manager sends it: the server shuts down gracefully."""
        status = super().stop(seconds)
        # uvicorn re-raises the signal once it has shut down cleanly.
        assert status in (0, -signal.SIGTERM), self.log.read_text()
        assert "Application shutdown complete" in self.log.read_text()
        return status
