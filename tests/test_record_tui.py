"""The replay TUI (stepping, jumping to an XID, the timeline) and recording from the live TUI."""

from __future__ import annotations

from pathlib import Path

import pytest

from aiconsole.actions.audit import AuditLog
from aiconsole.actions.plan import Plan
from aiconsole.app import ConsoleApp
from aiconsole.fleet import Fleet
from aiconsole.recording import Recording
from aiconsole.replay_app import ReplayApp, TimelineScreen
from aiconsole.screens.fleet import FleetScreen
from tests.moving_fleet import with_xid
from tests.synthetic import fleet_store
from tests.test_record import as_recorded, incident, write
from tests.test_screens import on_screen, wait_for


@pytest.fixture
def recording(tmp_path: Path) -> Recording:
    snapshots = incident(frames=30)  # an XID on the first host at frame 17
    write(tmp_path / "incident.aicrec", snapshots)
    return Recording(tmp_path / "incident.aicrec")


async def test_replay_steps_and_jumps_to_the_xid(recording: Recording) -> None:
    app = ReplayApp(recording)
    async with app.run_test() as pilot:
        await wait_for(pilot, on_screen(app, FleetScreen))
        assert app.frame == 0 and "frame 1/30" in app.title
        assert "next: XID on gpu-node-01: XID 79 GPU 3" in app.title
        await pilot.press("full_stop", "full_stop")
        assert app.frame == 2
        assert app.fleet_snapshot == recording.snapshot(2)
        await pilot.press("comma")
        assert app.frame == 1
        await pilot.press("right_square_bracket")  # the next event: the XID
        assert app.frame == 17
        shown = app.fleet_snapshot
        assert shown is not None and shown == recording.snapshot(17)
        host = next(h for h in shown.hosts if h.name == "gpu-node-01")
        assert host.sample is not None and host.sample.gpu.xid_events[-1].xid == 79
        assert app.fleet.store.get("gpu-node-01") == host  # the store shows the frame too
        assert "no event after" not in app.title and "next:" not in app.title
        await pilot.press("left_square_bracket")  # nothing before it
        assert app.frame == 17
        await pilot.press("greater_than_sign")
        assert app.frame == 27


async def test_timeline_lists_the_events_and_enter_jumps(recording: Recording) -> None:
    app = ReplayApp(recording)
    async with app.run_test() as pilot:
        await wait_for(pilot, on_screen(app, FleetScreen))
        await pilot.press("t")
        await wait_for(pilot, on_screen(app, TimelineScreen))
        await pilot.press("enter")
        await wait_for(pilot, on_screen(app, FleetScreen))
        assert app.frame == 17


async def test_replay_cannot_act(recording: Recording) -> None:
    app = ReplayApp(recording)
    async with app.run_test() as pilot:
        await wait_for(pilot, on_screen(app, FleetScreen))
        assert not app.policy.can_act


async def test_an_incident_recorded_with_r_replays_with_its_xid_and_action(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    store = fleet_store()
    audit = AuditLog(tmp_path / "audit.jsonl")
    app = ConsoleApp(Fleet(store), collect=False, audit=audit)
    async with app.run_test() as pilot:
        await wait_for(pilot, on_screen(app, FleetScreen))
        await pilot.press("R")
        assert app.live_recording.active
        app.publish_snapshot()  # frame 1 (R's own frame comes at the next refresh)
        # The incident: an XID on gpu-node-01, then the operator drains it.
        state = store.get("gpu-node-01")
        assert state is not None and state.sample is not None
        store.put(with_xid(store.snapshot(), "gpu-node-01", 79, gpu_index=3).hosts[0])
        app.publish_snapshot()
        plan = Plan("drain", "prod", ("gpu-node-01",), (), ("scontrol",), reason="xid 79")
        audit.intent(plan)
        app.publish_snapshot()
        await pilot.press("R")
        assert not app.live_recording.active
    files = list((tmp_path / "state" / "aiconsole" / "recordings").glob("*.aicrec"))
    assert len(files) == 1
    recorded = Recording(files[0])
    assert recorded.snapshot(len(recorded.times) - 1).hosts == as_recorded(store.snapshot()).hosts
    # The console also judges each snapshot: its findings are events of the timeline too
    # (and the console's audit record of each new critical finding). Without them, the story
    # is the XID, then the drain.
    story = [
        e for e in recorded.events if e.kind != "finding" and not e.text.startswith("finding ")
    ]
    assert [(e.kind, e.host) for e in story] == [("xid", "gpu-node-01"), ("action", None)]
    assert "drain gpu-node-01 on prod" in story[1].text
    assert any(e.kind == "finding" for e in recorded.events)

    replay = ReplayApp(recorded)
    async with replay.run_test() as pilot:
        await wait_for(pilot, on_screen(replay, FleetScreen))
        while replay.frame < story[0].frame:
            await pilot.press("right_square_bracket")
        assert replay.frame == story[0].frame
        shown = replay.fleet.store.get("gpu-node-01")
        assert shown is not None and shown.sample is not None
        assert shown.sample.gpu.xid_events[-1].xid == 79
        while replay.frame < story[1].frame:
            await pilot.press("right_square_bracket")
        assert replay.frame == story[1].frame
