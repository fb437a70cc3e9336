"""A pod's log: `aiconsole logs POD -n NS --context C` and the workloads screen's log view,
against the test API server through the official client, with real kubectl reading the same
server as the check that the server's log endpoint behaves like a real one.

New lines are written by the test (an event), never waited for by the clock.
"""

from __future__ import annotations

import asyncio
import os
import queue
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import REPO, run_aiconsole
from tests.kubeserver import KubeState, RunningServer, find_kubectl, kubectl, serve
from tests.kubeserver import objects as o

HOSTILE = "\x1b[2J\x1b]0;owned\x07 [red]markup[/red] \u202etxt.exe"


@pytest.fixture
def running(tmp_path: Path) -> Iterator[RunningServer]:
    state = KubeState(controller=False)
    state.add(o.node("n1", gpus=8))
    state.add(o.pod("train", node="n1", namespace="ml", gpus=1))
    two = o.pod("served", node="n1", namespace="ml")
    two["spec"]["containers"].append(o.container("sidecar"))
    state.add(two)
    state.logs.write("ml", "train", "main", HOSTILE, *(f"line {n}" for n in range(1, 6)))
    state.logs.write("ml", "served", "main", "main says hi")
    state.logs.write("ml", "served", "sidecar", "sidecar says hi")
    (tmp_path / "srv").mkdir()
    with serve(tmp_path / "srv", state) as server:
        yield server


@pytest.fixture
def env(tmp_path: Path, running: RunningServer) -> dict[str, str]:
    """A user whose only configuration is a kubeconfig."""
    base = {k: v for k, v in os.environ.items() if k != "AICONSOLE_CONFIG"}
    return {
        **base,
        "HOME": str(tmp_path),
        "XDG_STATE_HOME": str(tmp_path / "state"),
        "KUBECONFIG": str(running.kubeconfig),
    }


def logs(env: dict[str, str], *args: str) -> tuple[int, str, str]:
    return run_aiconsole("logs", *args, env=env)


def test_logs_prints_the_last_lines_like_kubectl_and_cleans_them(
    running: RunningServer, env: dict[str, str]
) -> None:
    code, stdout, stderr = logs(env, "train", "-n", "ml", "--context", "test", "--lines", "2")
    assert code == 0, stderr
    assert stdout.splitlines() == ["line 4", "line 5"]
    if find_kubectl():
        real = kubectl(running.kubeconfig, "logs", "train", "-n", "ml", "--tail", "2")
        assert real.returncode == 0, real.stderr
        assert real.stdout == stdout

    # Options on the other side of the command, and ns/name, mean the same.
    code, stdout, stderr = run_aiconsole("--context", "test", "logs", "ml/train", env=env)
    assert code == 0, stderr
    first = stdout.splitlines()[0]
    assert "\x1b" not in stdout and "\x07" not in stdout and "\u202e" not in stdout
    assert first == "␛[2J␛]0;owned␇ [red]markup[/red] txt.exe"


def test_container_selection_and_what_is_missing(env: dict[str, str]) -> None:
    code, stdout, stderr = logs(env, "served", "-n", "ml", "--context", "test", "-c", "sidecar")
    assert (code, stdout) == (0, "sidecar says hi\n"), stderr
    # No -c: the first container, as kubectl picks it.
    code, stdout, stderr = logs(env, "served", "-n", "ml", "--context", "test")
    assert (code, stdout) == (0, "main says hi\n"), stderr
    assert "container main" in stderr

    code, stdout, stderr = logs(env, "served", "-n", "ml", "--context", "test", "-c", "nope")
    assert (code, stdout) == (1, "")
    assert stderr.splitlines() == [
        "aiconsole: error: context test: pod ml/served: container nope is not valid for pod served"
    ]
    code, stdout, stderr = logs(env, "ghost", "-n", "ml", "--context", "test")
    assert (code, stdout) == (1, "") and len(stderr.splitlines()) == 1
    assert 'pods "ghost" not found' in stderr
    code, _, stderr = logs(env, "train", "-n", "ml", "--context", "nowhere")
    assert code == 1 and "nowhere" in stderr and "Traceback" not in stderr


def _follow(argv: list[str], env: dict[str, str]) -> tuple[subprocess.Popen[str], queue.Queue[str]]:
    process = subprocess.Popen(
        argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO, env=env
    )
    lines: queue.Queue[str] = queue.Queue()

    def pump() -> None:
        for line in process.stdout or ():
            lines.put(line.rstrip("\n"))

    threading.Thread(target=pump, daemon=True).start()
    return process, lines


def _wait_line(lines: queue.Queue[str], wanted: str) -> None:
    while True:
        try:
            if lines.get(timeout=30) == wanted:
                return
        except queue.Empty:
            raise AssertionError(f"{wanted!r} never came") from None


def test_follow_shows_new_lines_until_the_container_ends(
    running: RunningServer, env: dict[str, str]
) -> None:
    ours = [sys.executable, "-m", "aiconsole", "logs", "train", "-n", "ml", "--context", "test"]
    followers = [_follow([*ours, "--follow", "--lines", "1"], env)]
    program = find_kubectl()
    if program:
        config = str(running.kubeconfig)
        real = [program, "--kubeconfig", config, "logs", "-f", "train", "-n", "ml", "--tail", "1"]
        followers.append(_follow(real, {**env, "HOME": str(running.kubeconfig.parent)}))
    try:
        for _, lines in followers:
            _wait_line(lines, "line 5")
        running.state.logs.write("ml", "train", "main", "after the follow began")
        for _, lines in followers:
            _wait_line(lines, "after the follow began")
        running.state.logs.end("ml", "train", "main")
        for process, _ in followers:
            assert process.wait(timeout=30) == 0
    finally:
        for process, _ in followers:
            if process.poll() is None:
                process.kill()


def test_the_workloads_screen_opens_the_selected_pods_log(running: RunningServer) -> None:
    from textual.widgets import RichLog

    from aiconsole.app import ConsoleApp
    from aiconsole.collectors.kubernetes import KubeCollector
    from aiconsole.fleet import Fleet
    from aiconsole.screens.logs import LogScreen
    from aiconsole.screens.workloads import WorkloadsScreen
    from aiconsole.store import FleetStore
    from tests.test_screens import wait_for

    async def scenario() -> None:
        store = FleetStore()
        collector = KubeCollector("test", store, kubeconfig=str(running.kubeconfig))
        await collector.poll_once()
        app = ConsoleApp(Fleet(store, kube=[collector]), collect=False)

        def shown() -> list[str]:
            return [strip.text for strip in app.screen.query_one(RichLog).lines]

        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.press("w")
            await wait_for(pilot, lambda: isinstance(app.screen, WorkloadsScreen))
            await pilot.pause()
            await pilot.press("o")  # the first pod on n1: ml/served, by name
            await wait_for(pilot, lambda: isinstance(app.screen, LogScreen))
            assert app.screen.title == "test pod ml/served"
            await wait_for(pilot, lambda: "main says hi" in shown())
            running.state.logs.write("ml", "served", "main", "[b]new[/b] line")
            await wait_for(pilot, lambda: "[b]new[/b] line" in shown())
            assert isinstance(app.screen, LogScreen) and app.screen.ended is None
            await pilot.press("escape")
            await wait_for(pilot, lambda: isinstance(app.screen, WorkloadsScreen))
        await collector.aclose()

    asyncio.run(scenario())
