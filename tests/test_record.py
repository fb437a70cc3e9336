"""Recordings: exact round trips across keyframes, --at, events, damaged files, hostile text,
and record/replay through the command line."""

from __future__ import annotations

import datetime
import json
import subprocess
import sys
from pathlib import Path

import msgspec
import pytest

from aiconsole.cli_record import BadTime, parse_duration, parse_moment
from aiconsole.model import FleetSnapshot, HostState
from aiconsole.recording import Recording, RecordingError, RecordingWriter
from aiconsole.recording.precision import quantize
from tests.conftest import run_aiconsole
from tests.moving_fleet import MovingFleet, with_xid

replace = msgspec.structs.replace


def incident(hosts: int = 8, frames: int = 40, seed: int = 3) -> list[FleetSnapshot]:
    """A moving fleet with the shapes a recording must survive: processes starting and
    stopping, a host joining, one leaving, a value becoming unavailable, an XID at frame 17."""
    fleet = MovingFleet(hosts, seed=seed, xid_every=10**9)
    snapshots = []
    for frame in range(frames):
        snapshot = fleet.step()
        if frame == 17:
            snapshot = with_xid(snapshot, snapshot.hosts[0].name, 79, gpu_index=3)
            fleet.snapshot = snapshot
        if frame in (5, 23):
            host = snapshot.hosts[1]
            assert host.sample is not None
            gpus = list(host.sample.gpu.gpus)
            kept = gpus[0].processes[:-1] if frame == 5 else ()
            gpus[0] = replace(
                gpus[0],
                processes=kept,
                temperature_c=None,
                unavailable={"temperature_c": "Not Supported"},
            )
            sample = replace(host.sample, gpu=replace(host.sample.gpu, gpus=tuple(gpus)))
            snapshot = replace(
                snapshot,
                hosts=(snapshot.hosts[0], replace(host, sample=sample), *snapshot.hosts[2:]),
            )
            fleet.snapshot = snapshot
        if frame == 12:
            joined = HostState(name="late-joiner", status="connecting")
            snapshot = replace(snapshot, hosts=(*snapshot.hosts, joined))
            fleet.snapshot = snapshot
        if frame == 30:
            snapshot = replace(snapshot, hosts=snapshot.hosts[:-1])
            fleet.snapshot = snapshot
        snapshots.append(snapshot)
    return snapshots


def as_recorded(snapshot: FleetSnapshot) -> FleetSnapshot:
    """The snapshot as a recording keeps it: measurements at the precision they are shown at
    (aiconsole/recording/precision.py)."""
    return msgspec.convert(quantize(msgspec.to_builtins(snapshot)), FleetSnapshot)


def write(
    path: Path, snapshots: list[FleetSnapshot], chunk_frames: int = 7, audit: Path | None = None
) -> RecordingWriter:
    writer = RecordingWriter(path, chunk_frames=chunk_frames, interval=1.0, audit_path=audit)
    for snapshot in snapshots:
        writer.add(snapshot)
    writer.close()
    return writer


def test_every_frame_decodes_to_exactly_the_snapshot_written(tmp_path: Path) -> None:
    snapshots = incident()
    write(tmp_path / "r.aicrec", snapshots)
    with Recording(tmp_path / "r.aicrec") as recording:
        assert len(recording.chunks) == 6  # 40 frames in chunks of 7: keyframes 0, 7, ... 35
        assert not recording.truncated
        # Backwards as well as forwards: no frame depends on having decoded the one before.
        for frame in [*range(len(snapshots)), *reversed(range(len(snapshots)))]:
            assert recording.snapshot(frame) == as_recorded(snapshots[frame]), frame
    # The JSON is the live one's too (key for key, float for float).
    with Recording(tmp_path / "r.aicrec") as recording:
        expected = as_recorded(snapshots[33])
        assert msgspec.json.encode(recording.snapshot(33)) == msgspec.json.encode(expected)


def test_at_picks_the_last_frame_at_or_before_the_time(tmp_path: Path) -> None:
    snapshots = incident(frames=20)
    write(tmp_path / "r.aicrec", snapshots)
    with Recording(tmp_path / "r.aicrec") as recording:
        start = snapshots[0].generated_at
        assert recording.frame_at(start) == 0
        assert recording.frame_at(start + 9.0) == 9
        assert recording.frame_at(start + 9.999) == 9
        assert recording.frame_at(parse_moment("12.5", start)) == 12
        with pytest.raises(RecordingError, match="outside the recording"):
            recording.frame_at(start - 1)
        with pytest.raises(RecordingError, match="outside the recording"):
            recording.frame_at(start + 60)


def test_times_are_iso_8601_or_seconds_and_durations_take_units() -> None:
    assert parse_moment("2026-11-29T16:40:03+00:00", 0) == 1_795_970_403.0
    assert parse_moment("2026-11-29T16:40:03Z", 0) == 1_795_970_403.0
    assert parse_moment("90", 1000.0) == 1090.0
    assert (
        parse_duration("15m") == 900 and parse_duration("2") == 2 and parse_duration("1h") == 3600
    )
    for bad in ("soon", "-5", "0"):
        with pytest.raises(BadTime):
            parse_duration(bad)
    with pytest.raises(BadTime):
        parse_moment("yesterday", 0)


def test_xids_and_audit_records_become_events_on_their_frames(tmp_path: Path) -> None:
    audit = tmp_path / "audit.jsonl"
    audit.write_text(json.dumps({"time": 1.0, "action": "old", "phase": "intent"}) + "\n")
    snapshots = incident(frames=20)
    writer = RecordingWriter(tmp_path / "r.aicrec", chunk_frames=7, audit_path=audit)
    for frame, snapshot in enumerate(snapshots):
        if frame == 9:
            record = {
                "time": snapshot.generated_at,
                "action": "drain",
                "phase": "intent",
                "targets": ["gpu-node-01"],
                "scope": "prod",
                "reason": "xid 79",
            }
            with audit.open("a") as log:
                log.write(json.dumps(record) + "\n")
        writer.add(snapshot)
    writer.close()
    with Recording(tmp_path / "r.aicrec") as recording:
        kinds = [(e.kind, e.frame) for e in recording.events]
        assert kinds == [("action", 9), ("xid", 17)]  # the record from before is not the period's
        xid = recording.events[1]
        assert xid.host == snapshots[0].hosts[0].name and xid.text.startswith("XID 79 GPU 3")
        assert "drain gpu-node-01 on prod" in recording.events[0].text


def test_a_recording_decodes_through_the_same_cleaning_as_a_sample(tmp_path: Path) -> None:
    snapshot = incident(frames=1)[0]
    hostile = replace(snapshot.hosts[0], reason="\x1b]52;c;cm0gLXJmIH4=\x07gone\u202e")
    write(tmp_path / "r.aicrec", [replace(snapshot, hosts=(hostile, *snapshot.hosts[1:]))])
    with Recording(tmp_path / "r.aicrec") as recording:
        reason = recording.snapshot(0).hosts[0].reason
    assert reason is not None and "\x1b" not in reason and "\u202e" not in reason
    assert reason.endswith("gone")


def test_a_file_that_was_not_closed_replays_up_to_its_last_whole_chunk(tmp_path: Path) -> None:
    snapshots = incident(frames=20)
    writer = RecordingWriter(tmp_path / "r.aicrec", chunk_frames=7)
    for snapshot in snapshots:
        writer.add(snapshot)
    writer._worker.shutdown(wait=True)  # as if killed now: chunks 0-6 and 7-13 on disk
    writer._file.flush()
    with Recording(tmp_path / "r.aicrec") as recording:
        assert recording.truncated and len(recording.times) == 14
        assert recording.snapshot(13) == as_recorded(snapshots[13])


def damaged(tmp_path: Path) -> dict[str, Path]:
    write(tmp_path / "whole.aicrec", incident(frames=10))
    data = (tmp_path / "whole.aicrec").read_bytes()
    files = {
        "cut in the first chunk": data[:200],
        "cut in the header": data[:12],
        "not a recording": b"hello world\n" * 4,
        "empty": b"",
    }
    flipped = bytearray(data)
    flipped[120] ^= 0xFF  # inside the first chunk's compressed payload
    files["a flipped byte"] = bytes(flipped)
    paths = {}
    for number, (name, content) in enumerate(files.items()):
        paths[name] = tmp_path / f"damaged-{number}.aicrec"
        paths[name].write_bytes(content)
    return paths


def test_damaged_files_raise_one_line_errors(tmp_path: Path) -> None:
    for name, path in damaged(tmp_path).items():
        with pytest.raises(RecordingError) as error:
            Recording(path).snapshot(0)
        message = str(error.value)
        assert "\n" not in message and str(path) in message, name


def test_replay_of_a_damaged_file_prints_one_line_and_no_traceback(
    tmp_path: Path, no_gpu_env: dict[str, str]
) -> None:
    path = damaged(tmp_path)["a flipped byte"]
    code, out, err = run_aiconsole(
        "replay", str(path), "--at", "0", "snapshot", "--json", env=no_gpu_env
    )
    assert code == 1 and out == ""
    assert err.count("\n") == 1 and "Traceback" not in err
    assert err.startswith("aiconsole: error: ") and "checksum" in err


def test_record_a_live_fleet_then_print_it_as_it_was(
    tmp_path: Path, no_gpu_env: dict[str, str]
) -> None:
    env = {**no_gpu_env, "XDG_STATE_HOME": str(tmp_path / "state")}
    path = tmp_path / "live.aicrec"
    code, out, err = run_aiconsole(
        "--interval", "0.3", "record", str(path), "--duration", "2", env=env
    )
    assert code == 0, err
    assert out.startswith("recorded ") and str(path) in out
    with Recording(path) as recording:
        frames = len(recording.times)
        assert frames >= 3
        wanted = recording.snapshot(1)
        between = (recording.times[1] + recording.times[2]) / 2  # frame 1 was the fleet then
        offset = between - recording.times[0]
    at = datetime.datetime.fromtimestamp(between, datetime.timezone.utc).isoformat()
    code, out, err = run_aiconsole("replay", str(path), "--at", at, "snapshot", "--json", env=env)
    assert code in (0, 2), err
    printed = msgspec.json.decode(out.encode(), type=FleetSnapshot)
    assert printed == wanted
    assert printed.hosts and printed.hosts[0].sample is not None
    # Seconds from the start give the same frame.
    code, again, err = run_aiconsole(
        "replay", str(path), "--at", f"{offset}", "snapshot", "--json", env=env
    )
    assert again == out


def test_record_and_replay_at_stay_headless(tmp_path: Path, no_gpu_env: dict[str, str]) -> None:
    path = tmp_path / "r.aicrec"
    write(path, incident(frames=3))
    script = (
        "import sys\n"
        "from aiconsole.cli import main\n"
        f"assert main(['replay', {str(path)!r}, '--at', '1', 'snapshot', '--json']) in (0, 2)\n"
        "import aiconsole.recording, aiconsole.recording.live, aiconsole.cli_record\n"
        "loaded = sorted(m for m in sys.modules if m.split('.')[0] in ('textual', 'rich'))\n"
        "print(loaded, file=sys.stderr)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], env=no_gpu_env, capture_output=True, text=True, check=True
    )
    assert result.stderr.strip() == "[]"
    assert json.loads(result.stdout)["hosts"]
