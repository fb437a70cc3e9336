"""Under CI=true a machine that cannot build the estate fails the run (it must not pass with
every SSH and Slurm test skipped); elsewhere those tests skip with the reason."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.conftest import REPO


def _collect(ci: str | None) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    env.pop("CI", None)
    if ci is not None:
        env["CI"] = ci
    # No `ip` on PATH: available() then says the estate cannot be built.
    env["PATH"] = "/nonexistent"
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "--collect-only", "-p", "no:cacheprovider",
         "tests/test_ssh_fleet.py", "tests/test_slurm_estate.py"],
        env=env, cwd=REPO, capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def test_missing_estate_fails_under_ci() -> None:
    result = _collect("true")
    assert result.returncode not in (0, 5), result.stdout
    assert "CI is set but the test estate cannot be built here: ip not installed" in result.stdout


def test_missing_estate_skips_outside_ci() -> None:
    result = _collect(None)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "RuntimeError" not in result.stdout
