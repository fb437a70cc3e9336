"""Small things a new user trips over: a closed pipe, Ctrl+C in the TUI, a fake 0."""

from __future__ import annotations

import subprocess
import sys

from aiconsole.cli_text import format_text
from aiconsole.model import FleetSnapshot, HostState
from tests.conftest import REPO
from tests.test_screens import static_app


def test_a_closed_pipe_is_not_an_error() -> None:
    # As `aiconsole schema | head -3`: the reader stops after three lines.
    process = subprocess.Popen(
        [sys.executable, "-m", "aiconsole", "schema"],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert process.stdout is not None and process.stderr is not None
    process.stdout.readline()
    process.stdout.close()
    stderr = process.stderr.read().decode()
    assert process.wait(timeout=30) == 0
    assert "BrokenPipe" not in stderr and "Traceback" not in stderr


def test_an_unreachable_host_has_no_gpu_count_rather_than_zero() -> None:
    snapshot = FleetSnapshot(
        generated_at=0.0, hosts=(HostState(name="h1", status="unreachable", reason="down"),)
    )
    row = format_text(snapshot).splitlines()[1].split()
    assert row[:2] == ["h1", "unreachable"] and row[4] == "–"


async def test_ctrl_c_quits_the_tui() -> None:
    app = static_app()
    async with app.run_test() as pilot:
        await pilot.press("ctrl+c")
        await pilot.pause()
    assert app.return_code == 0 and not app.is_running


WITHOUT_KUBERNETES = """
import importlib.abc, sys
class Missing(importlib.abc.MetaPathFinder):
    # As on an install without the [kubernetes] extra: neither the client nor aiohttp.
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in ("kubernetes", "aiohttp"):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None
sys.meta_path.insert(0, Missing())
from aiconsole.cli import main
sys.exit(main(sys.argv[1:]))
"""


def test_a_missing_optional_backend_is_a_one_line_hint() -> None:
    commands = (["snapshot", "--json", "--context", "prod"], ["logs", "p", "--context", "prod"])
    for command in commands:
        done = subprocess.run(
            [sys.executable, "-c", WITHOUT_KUBERNETES, *command],
            cwd=REPO, capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert done.returncode == 1, done.stderr
        assert done.stderr == (
            "aiconsole: error: Kubernetes needs the official client: "
            "pip install 'aiconsole[kubernetes]'\n"
        ), command
