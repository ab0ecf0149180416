"""``scripts/demo`` run from another directory: ``--export out`` lands there, as the README
says ("into `out/` under the current directory"), not in the repository (the script used to
``cd`` to the repository root first)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration  # runs the script, a process

REPO = Path(__file__).parents[1]


def test_scripts_demo_exports_relative_to_the_callers_directory(tmp_path: Path) -> None:
    caller = tmp_path / "elsewhere"
    caller.mkdir()
    in_repo = REPO / "out-demo-script-test"
    assert not in_repo.exists()
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    try:
        result = subprocess.run(
            [str(REPO / "scripts" / "demo"), "--duration", "0.5", "--export", in_repo.name],
            env=env,
            cwd=caller,
            capture_output=True,
            text=True,
            timeout=300,  # a first run installs the project into .venv
            check=False,
        )
        assert result.returncode == 0, result.stderr
        assert not in_repo.exists()
        folder = caller / in_repo.name
        assert sorted(p.name for p in folder.iterdir()) == [
            "dashboard.json",
            "gateway-history.json",
            "messages.json",
            "metrics.json",
            "profiles.json",
        ]
        assert f"metrics exported to {folder / 'metrics.json'}" in result.stdout
    finally:
        if in_repo.is_dir():  # the old behaviour: clean up what it wrote into the repository
            for path in in_repo.iterdir():
                path.unlink()
            in_repo.rmdir()
