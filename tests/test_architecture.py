"""The layers hold: no module imports from a layer above its own (the contracts in pyproject)."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parents[1]


def test_no_module_imports_from_a_layer_above_its_own() -> None:
    # Contracts in pyproject.toml: surfaces over the assistant over the stores over the tables
    # over the database over `errors`; `errors` imports nothing of the project, `problems`
    # nothing but `errors`.
    result = subprocess.run(  # noqa: S603 (import-linter, installed with the dev extra)
        [Path(sys.executable).with_name("lint-imports"), "--no-cache", "--no-logo"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Contracts: 2 kept, 0 broken." in result.stdout
