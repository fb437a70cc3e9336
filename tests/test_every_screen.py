"""Every screen at 80x24 and 160x50: an SVG picture each (pytest-textual-snapshot), and the
key strings each must show whole at that size, over one fixed console (tests/every_screen.py).

When a screen changes on purpose, look at the report the failing test writes, then
regenerate every picture of every test module with one command (see README, "Tests"):

    ./scripts/update-pictures
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from textual.app import App
from textual.pilot import Pilot

from aiconsole.recording import Recording
from aiconsole.replay_app import ReplayApp
from aiconsole.screens.fleet import FleetScreen
from aiconsole.screens.health import HealthScreen
from aiconsole.screens.help import HelpScreen
from aiconsole.screens.host import HostScreen
from aiconsole.screens.jobs import JobsScreen
from aiconsole.screens.plan import PlanScreen
from aiconsole.screens.workloads import WorkloadsScreen
from tests.every_screen import every_screen_app
from tests.test_record import incident, write
from tests.test_screens import on_screen, wait_for
from tests.test_tui_ux import screen_text

SIZES = [(80, 24), (160, 50)]
Steps = Callable[[Pilot[Any]], Awaitable[None]]


def to(keys: tuple[str, ...], kind: type) -> Steps:
    async def steps(pilot: Pilot[Any]) -> None:
        await pilot.pause()
        await pilot.press(*keys)
        await wait_for(pilot, on_screen(pilot.app, kind))  # type: ignore[arg-type]
        await pilot.pause()
        await pilot.pause()

    return steps


async def to_plan(pilot: Pilot[Any]) -> None:
    await to(("j",), JobsScreen)(pilot)
    await pilot.press("down", "down", "d")  # drain the third node
    await pilot.pause()
    await pilot.press(*"nvlink errors", "enter")
    await wait_for(pilot, on_screen(pilot.app, PlanScreen))  # type: ignore[arg-type]
    await pilot.pause()


# Screen -> (how to get there, strings it must show whole at 80x24, and more at 160x50).
SCREENS: dict[str, tuple[Steps, tuple[str, ...], tuple[str, ...]]] = {
    "fleet": (
        to((), FleetScreen),
        ("gpu-node-06", "ssh: connect timed out after 5 s", "findings: 5 critical", "? Help"),
        ("Net rx", "Net tx", "Power"),
    ),
    "host": (
        to(("down", "down", "down", "down", "enter"), HostScreen),
        ("gpu-node-05", "drained", "XID 94", "o Order processes", "? Help"),
        ("GPUs", "Findings (8; f: all findings)"),
    ),
    "health": (
        to(("f",), HealthScreen),
        ("5 critical, 32 warning", "gpu-node-03", "unreachable: ssh:", "d Drain node"),
        ("XID 79 (GPU has fallen off the bus) on GPU 3 (job 81234 alice)", "Since"),
    ),
    "jobs": (
        to(("j",), JobsScreen),
        ("Slurm cluster prod: ok", "Time", "Restarts", "2h03m", "32/128", "? Help"),
        ("llama-70b-pretrain", "xid 79 on GPU 3 (job 81234 alice)", "Resources"),
    ),
    "plan": (
        to_plan,
        ("Confirm drain", "gpu-node-03", "nvlink errors"),
        (),
    ),
    "help": (
        to(("question_mark",), HelpScreen),
        ("Escape to close", "Open host", "Filter"),
        ("Order processes", "Drain node", "Requeue"),
    ),
    "workloads": (
        to(("w",), WorkloadsScreen),
        ("kind-gpu: ok", "NotReady", "Restarts", "Age", "1h30m", "? Help"),
        ("kubelet stopped posting node status", "ReplicaSet llama-serve-7d9f8c6b5"),
    ),
}
EXPECTED_REPLAY = (
    ("REPLAY 2026-11-18 11:06:58", "frame 18/30", "ssh: connect timed out"),
    ("9 hosts",),
)
NAMES = [*SCREENS, "replay"]


@pytest.fixture(autouse=True)
def utc(monkeypatch: pytest.MonkeyPatch) -> None:
    """The replay's title shows local time: pictures are taken in UTC wherever they run."""
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()


def replay_app(tmp_path: Path) -> ReplayApp:
    path = tmp_path / "incident.aicrec"
    write(path, incident(frames=30))  # an XID on the first host at frame 17
    return ReplayApp(Recording(path), frame=17)


def app_for(name: str, tmp_path: Path) -> tuple[App[None], Steps]:
    if name == "replay":
        return replay_app(tmp_path), to((), FleetScreen)
    return every_screen_app(), SCREENS[name][0]


@pytest.mark.parametrize("size", SIZES, ids=["80x24", "160x50"])
@pytest.mark.parametrize("name", NAMES)
def test_picture(
    snap_compare: Callable[..., bool], name: str, size: tuple[int, int], tmp_path: Path
) -> None:
    app, steps = app_for(name, tmp_path)
    assert snap_compare(app, terminal_size=size, run_before=steps)


@pytest.mark.parametrize("size", SIZES, ids=["80x24", "160x50"])
@pytest.mark.parametrize("name", NAMES)
async def test_key_text_is_whole(name: str, size: tuple[int, int], tmp_path: Path) -> None:
    app, steps = app_for(name, tmp_path)
    narrow, wide = EXPECTED_REPLAY if name == "replay" else SCREENS[name][1:]
    async with app.run_test(size=size) as pilot:
        await steps(pilot)
        text = screen_text(app)  # type: ignore[arg-type]
        lines = text.splitlines()
        assert len(lines) == size[1] and all(len(line) <= size[0] for line in lines)
        flat = " ".join(text.split())  # a line that wraps is still whole
        for expected in (*narrow, *(wide if size[0] >= 160 else ())):
            assert " ".join(expected.split()) in flat, (name, size, expected)
