"""wrk, the HTTP load generator: installed from Debian's packages on first use, driven by Lua."""

import json
import os
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

MARKER = "WRK_RESULT "
# wrk calls `done` once, after the run, with every thread's counts and latencies merged.
_DONE = """
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '%s{"requests": %d, "duration_us": %d, "connect": %d, "read": %d, "write": %d,'
    .. ' "status": %d, "timeout": %d, "p50_us": %d, "p95_us": %d, "p99_us": %d,'
    .. ' "max_us": %d}\\n',
    "MARKER", summary.requests, summary.duration, e.connect, e.read, e.write, e.status,
    e.timeout, latency:percentile(50), latency:percentile(95), latency:percentile(99),
    latency.max))
end
""".replace("MARKER", MARKER)


class WrkMissing(Exception):
    """wrk is not installed and could not be."""


def ensure_wrk() -> str:
    """The path of wrk, installing Debian's package if it is missing."""
    found = shutil.which("wrk")
    if found:
        return found
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = ["apt-get", "install", "-y", "-qq", "wrk"]
    for step in (install, ["apt-get", "update", "-qq"], install):
        subprocess.run(step, env=env, capture_output=True, check=False)  # noqa: S603
        found = shutil.which("wrk")
        if found:
            return found
    raise WrkMissing("wrk is not installed and `apt-get install -y wrk` failed: install it")


@dataclass(frozen=True)
class Load:
    """What one wrk run saw."""

    requests: int
    seconds: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    max_ms: float
    errors: int  # answers other than 2xx/3xx, and connections that failed to connect, read or write
    timeouts: int

    @property
    def per_second(self) -> float:
        """Requests answered per second."""
        return self.requests / self.seconds


def get_script(headers: dict[str, str]) -> str:
    """Lua for GET requests with `headers`."""
    lines = [f"wrk.headers[{_lua(name)}] = {_lua(value)}" for name, value in headers.items()]
    return "\n".join(lines) + _DONE


def post_script(requests: Sequence[tuple[str, dict[str, str]]], body: str) -> str:
    """Lua for POST requests of `body`, cycling through (path, headers) pairs."""

    def table(headers: dict[str, str]) -> str:
        return "{" + ", ".join(f"[{_lua(k)}] = {_lua(v)}" for k, v in headers.items()) + "}"

    entries = ",\n".join(f"  {{{_lua(path)}, {table(h)}}}" for path, h in requests)
    return f"""
local targets = {{
{entries}
}}
local body = {_lua(body)}
local next_target = 0
request = function()
  next_target = next_target % #targets + 1
  local target = targets[next_target]
  return wrk.format("POST", target[1], target[2], body)
end
{_DONE}"""


def _lua(text: str) -> str:
    return json.dumps(text)  # a JSON string of ASCII characters is a Lua string literal too


def run(wrk: str, url: str, script: str, *, connections: int, seconds: float, folder: Path) -> Load:
    """Load `url` with `connections` connections for `seconds`, as `script` says."""
    path = folder / "load.lua"
    path.write_text(script)
    threads = max(1, min(connections, os.cpu_count() or 1))
    command = [
        wrk, f"--threads={threads}", f"--connections={connections}",
        f"--duration={max(1, round(seconds))}s", "--timeout=2s", f"--script={path}", url,
    ]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, check=True)  # noqa: S603
    line = next(line for line in done.stdout.splitlines() if line.startswith(MARKER))
    raw = json.loads(line.removeprefix(MARKER))
    return Load(
        requests=raw["requests"],
        seconds=raw["duration_us"] / 1e6,
        p50_ms=raw["p50_us"] / 1000,
        p95_ms=raw["p95_us"] / 1000,
        p99_ms=raw["p99_us"] / 1000,
        max_ms=raw["max_us"] / 1000,
        errors=raw["status"] + raw["connect"] + raw["read"] + raw["write"],
        timeouts=raw["timeout"],
    )
