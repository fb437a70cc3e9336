"""Findings reach a real Alertmanager, stay active while re-sent, and resolve on clear; a dead
receiver costs the console nothing but a counted failure."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

from aiconsole.alerts.pusher import RESEND_S, AlertPusher
from aiconsole.model import Finding, Subject, Workload
from tests.alertmanager import alertmanager, alerts, available, free_port
from tests.estate import required

pytestmark = required(available())

# The console's clock in these tests runs a little in the past, so that "now + the resend
# period" is still before the real clock: Alertmanager judges endsAt by its own clock.
NOW = time.time() - 2 * RESEND_S

XID = Finding(
    rule="gpu.xid_critical",
    severity="critical",
    subject=Subject(kind="gpu", host="gpu07", name="3:xid79"),
    summary="XID 79 (GPU has fallen off the bus) on GPU 3 (job 81234 alice)",
    evidence={"xid": "79"},
    workloads=(Workload(kind="slurm_job", id="81234", cluster="prod", user="alice"),),
    action="drain",
    first_seen=NOW - 5,
    last_seen=NOW,
    incident="gpu07-0000abcd",
)


def wait_for(condition: object, what: str) -> None:
    deadline = time.monotonic() + 20
    while not condition():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


async def test_a_finding_is_raised_kept_and_resolved_in_alertmanager(tmp_path: Path) -> None:
    with alertmanager(tmp_path / "am") as url:
        pusher = AlertPusher(alertmanager=url)
        await pusher.send((XID,), NOW)
        active = alerts(url)
        (alert,) = active
        assert alert["labels"] == {
            "alertname": "gpu.xid_critical",
            "severity": "critical",
            "source": "aiconsole",
            "subject": "gpu",
            "host": "gpu07",
            "part": "3:xid79",
        }
        annotations = alert["annotations"]
        assert isinstance(annotations, dict)
        assert annotations["summary"] == XID.summary
        assert annotations["workloads"] == "slurm_job 81234 (alice)"
        assert annotations["action"] == "drain"
        status = alert["status"]
        assert isinstance(status, dict) and status["state"] == "active"
        # Nothing changed and the resend period has not passed: nothing is sent.
        sent = pusher.delivery.sent
        await pusher.send((XID,), NOW + 1)
        assert pusher.delivery.sent == sent
        # After the period the active alert is re-sent, pushing its endsAt further.
        await pusher.send((XID,), NOW + RESEND_S + 1)
        assert pusher.delivery.sent == sent + 1
        # The finding clears: the alert resolves.
        await pusher.send((), NOW + RESEND_S + 2)
        wait_for(lambda: alerts(url, active="true") == [], "the alert to resolve")


async def test_a_dead_receiver_is_counted_and_never_raises(tmp_path: Path) -> None:
    port = free_port()  # nothing listens there
    pusher = AlertPusher(alertmanager=f"http://127.0.0.1:{port}")
    pusher.start()
    pusher.offer((XID,))
    for _ in range(200):
        if pusher.delivery.failed:
            break
        await asyncio.sleep(0.05)
    pusher.stop()
    assert pusher.delivery.failed >= 1
    assert pusher.delivery.last_error is not None and str(port) in pusher.delivery.last_error
    assert pusher.delivery.sent == 0


async def test_offer_never_blocks_and_drops_the_oldest_batch_when_behind() -> None:
    pusher = AlertPusher(alertmanager="http://127.0.0.1:9")
    pusher._queue = asyncio.Queue(maxsize=2)  # no sender task: the queue only fills
    for _ in range(5):
        pusher.offer((XID,))
    assert pusher.delivery.dropped == 3
    assert pusher._queue.qsize() == 2


async def test_the_webhook_gets_active_and_resolved_findings(tmp_path: Path) -> None:
    received: list[tuple[str, bytes]] = []
    pusher = AlertPusher(webhook="http://hook.invalid/x", post=lambda u, b: received.append((u, b)))
    await pusher.send((XID,), NOW)
    await pusher.send((), NOW + 1)
    first, second = (json.loads(body) for _, body in received)
    assert [f["rule"] for f in first["active"]] == ["gpu.xid_critical"] and first["resolved"] == []
    assert second["active"] == [] and [f["rule"] for f in second["resolved"]] == [
        "gpu.xid_critical"
    ]


async def test_the_live_console_pushes_its_findings_to_alertmanager(tmp_path: Path) -> None:
    from aiconsole.app import ConsoleApp
    from aiconsole.fleet import Fleet
    from aiconsole.health import Thresholds
    from aiconsole.health.monitor import HealthMonitor
    from tests.synthetic import NOW as RECORDED
    from tests.synthetic import fleet_store

    with alertmanager(tmp_path / "am") as url:
        pusher = AlertPusher(alertmanager=url)
        # Six recorded hosts; the fifth has GPU 3 lost with an XID 79 (tests/synthetic.py).
        # The rules judge on the recording's clock (its XID is 30 s old there); the pusher
        # keeps the real clock, which Alertmanager judges endsAt by.
        monitor = HealthMonitor(Thresholds(raise_after=1), pusher, clock=lambda: RECORDED)
        fleet = Fleet(fleet_store(6), health=monitor)
        fleet.alerts = pusher
        app = ConsoleApp(fleet, collect=False, refresh_interval=0.2)
        async with app.run_test() as pilot:
            for _ in range(100):
                names = {a["labels"]["alertname"] for a in alerts(url)}  # type: ignore[index]
                if "gpu.xid_critical" in names:
                    break
                await pilot.pause(0.1)
        snapshot = app.fleet_snapshot
        assert snapshot is not None
        assert {"gpu.xid_critical", "gpu.lost", "host.unreachable"} <= names
        assert {f.rule for f in snapshot.findings} >= {"gpu.xid_critical", "gpu.lost"}
