"""Incidents: one id per finding from the first XID on, acknowledgements and silences
(audited, out of the alerts and the exit code), and `audit --incident` telling the story."""

from __future__ import annotations

import json
import os
from pathlib import Path

import msgspec

from aiconsole.actions.audit import AuditLog
from aiconsole.actions.incidents import IncidentRecorder, WatchedMutes
from aiconsole.actions.mutes import acknowledgement, add, silence
from aiconsole.health import exit_code, judge
from aiconsole.health.silences import apply
from tests.conftest import NvmlConfig, run_aiconsole
from tests.test_health_rules import JOB as SLURM_JOB
from tests.test_health_rules import NOW, cluster, gpu, host, snap, xid


def xid_snapshot(at: float) -> object:
    return msgspec.structs.replace(
        snap(host(gpus=(gpu(3),), xids=(xid(79, 3, age_s=60),)), clusters=(cluster(SLURM_JOB),)),
        generated_at=at,
    )


def test_an_xid_incident_has_the_same_id_whenever_it_is_judged() -> None:
    # The XID happened at NOW - 60 (host clock): judged now or ten minutes later, by the CLI
    # or the console, it is the same incident.
    first = judge(xid_snapshot(NOW))[0]  # type: ignore[arg-type]
    later = judge(msgspec.structs.replace(xid_snapshot(NOW), generated_at=NOW + 600))[0]  # type: ignore[arg-type]
    assert first.incident == later.incident
    assert first.incident.startswith("gpu07-") and len(first.incident) == len("gpu07-") + 8
    assert first.first_seen == NOW - 60


def test_acknowledged_and_silenced_findings_stay_listed_but_do_not_count(tmp_path: Path) -> None:
    snapshot = xid_snapshot(NOW)
    (finding,) = judge(snapshot)  # type: ignore[arg-type]
    assert exit_code(snapshot, (finding,)) == 2  # type: ignore[arg-type]
    ack = acknowledgement(finding.incident, "alice replaces the GPU")
    (acked,) = apply((finding,), (ack,), NOW)
    assert acked.acknowledged is not None and acked.acknowledged.endswith(
        ": alice replaces the GPU"
    )
    assert exit_code(snapshot, (acked,)) == 0  # type: ignore[arg-type]
    quiet = silence("gpu.xid_critical", "gpu07", 3600, "known bad board")
    (silenced,) = apply((finding,), (quiet,), quiet.at)
    assert silenced.silenced_until == quiet.until
    # Expired, or for another host, or another rule: no effect.
    assert apply((finding,), (quiet,), quiet.at + 3601) == (finding,)
    other = silence("gpu.xid_critical", "gpu070", 3600, "another host")
    assert apply((finding,), (other,), other.at) == (finding,)
    assert apply((finding,), (silence("gpu.lost", "gpu07", 60, "x"),), NOW) == (finding,)


def test_ack_and_silence_from_the_cli_are_audited_and_change_health(
    gpu_env: dict[str, str], nvml_config: NvmlConfig, tmp_path: Path
) -> None:
    env = {**gpu_env, "XDG_STATE_HOME": str(tmp_path / "state")}
    nvml_config.set(device_count=1).gpu(0, lost=1)
    code, stdout, _ = run_aiconsole("health", "--json", env=env)
    assert code == 2
    (finding,) = json.loads(stdout)["findings"]
    code, stdout, stderr = run_aiconsole(
        "ack", finding["incident"], "--note", "RMA opened", env=env
    )
    assert code == 0, stderr
    code, stdout, _ = run_aiconsole("health", "--json", env=env)
    report = json.loads(stdout)
    assert code == 0 and report["status"] == "critical"  # listed as it is, not counted
    assert report["findings"][0]["acknowledged"].endswith(": RMA opened")
    code, _, stderr = run_aiconsole("silence", "gpu.lost", "--for", "2h", "--note", "x", env=env)
    assert code == 0, stderr
    records = [
        json.loads(line)
        for line in (tmp_path / "state/aiconsole/audit.jsonl").read_text().splitlines()
    ]
    assert [(r["phase"], r["action"]) for r in records] == [("event", "ack"), ("event", "silence")]
    assert records[0]["incident"] == finding["incident"] and records[0]["reason"] == "RMA opened"
    assert records[1]["until"] > records[1]["time"]
    # Bad input: one line, nothing recorded.
    for args in (
        ["ack", "not an id", "--note", "x"],
        ["silence", "gpu.lost", "--for", "2h", "--note", " "],
        ["silence", "rm -rf", "--for", "1h", "--note", "x"],
    ):
        code, _, stderr = run_aiconsole(*args, env=env)
        assert code in (1, 2) and "Traceback" not in stderr
    assert len((tmp_path / "state/aiconsole/audit.jsonl").read_text().splitlines()) == 2


def test_the_live_console_records_each_critical_finding_once_across_restarts(
    tmp_path: Path,
) -> None:
    audit = AuditLog(tmp_path / "audit.jsonl", syslog="off")
    findings = judge(xid_snapshot(NOW))  # type: ignore[arg-type]
    IncidentRecorder(audit).record(findings)
    IncidentRecorder(audit).record(findings)  # a restarted console: nothing new
    (event,) = list(audit.records())
    assert (event["action"], event["incident"], event["reason"]) == (
        "finding",
        findings[0].incident,
        findings[0].summary,
    )
    assert event["workloads"] == ["81234"]


def test_watched_mutes_reread_on_change_and_keep_the_last_good_set(tmp_path: Path) -> None:
    audit = AuditLog(tmp_path / "audit.jsonl", syslog="off")
    watched = WatchedMutes(audit)
    assert watched() == ()
    add(audit, acknowledgement("gpu07-0123abcd", "mine"))
    assert [m.incident for m in watched()] == ["gpu07-0123abcd"]
    watched.path.write_text("{broken")
    os.utime(watched.path, (1, 1))
    assert [m.incident for m in watched()] == ["gpu07-0123abcd"]
    assert watched.error is not None and "cannot read" in watched.error


def test_audit_incident_tells_one_story(tmp_path: Path) -> None:
    env = {**os.environ, "XDG_STATE_HOME": str(tmp_path / "state")}
    audit = AuditLog(tmp_path / "state/aiconsole/audit.jsonl", syslog="off")
    findings = judge(xid_snapshot(NOW))  # type: ignore[arg-type]
    IncidentRecorder(audit).record(findings)
    add(audit, acknowledgement(findings[0].incident, "on it"))
    audit.event("something-else", "x", ["y"], incident="other-00000000")
    code, stdout, _ = run_aiconsole("audit", "--incident", findings[0].incident, env=env)
    assert code == 0
    lines = stdout.splitlines()
    assert len(lines) == 2
    assert "finding" in lines[0] and "XID 79" in lines[0] and "ack" in lines[1]
