"""The action machinery without a cluster: audit records (actor, torn writes, syslog copy),
commands that get no answer, verification that fails, roles and the site policy, and a
collector that survives any error. Slurm's clients are stand-in scripts on PATH that answer
from the recorded outputs; the real cluster is in test_slurm_estate.py."""

from __future__ import annotations

import asyncio
import json
import os
import pwd
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from aiconsole.actions.audit import AuditLog
from aiconsole.actions.plan import Outcome
from aiconsole.actions.policy import Policy, SitePolicy, SitePolicyError, load_site_policy
from aiconsole.actions.slurm import carry_out_on_slurm, plan_action
from aiconsole.collectors import slurm as slurm_collector
from aiconsole.collectors.slurm import SlurmCollector
from aiconsole.model import SlurmCluster
from aiconsole.slurm.reader import read_cluster
from aiconsole.slurm.runner import LocalRunner
from aiconsole.store import FleetStore
from tests.conftest import REPO, run_aiconsole
from tests.test_slurm_parse import SLURM

STAND_IN = """#!/bin/sh
# Stand-in Slurm client: answers from the recorded outputs in $STATE; "scontrol update"
# does what $STATE/mode says: apply (drain the node), ignore, hang, apply-then-hang.
STATE="{state}"
# sinfo and squeue end each record with the marker their --Format asked for.
for last in "$@"; do :; done
end=${{last##*|}}
case "$(basename "$0")" in
  sinfo) sed "s/\\$/$end/" "$STATE/nodes.txt"; exit 0 ;;
  squeue) sed "s/\\$/$end/" "$STATE/jobs.txt"; exit 0 ;;
esac
if [ "$1" = "--details" ]; then cat "$STATE/details.txt"; exit 0; fi
echo "$@" >> "$STATE/calls"
mode=$(cat "$STATE/mode")
node=$(printf '%s\\n' "$@" | sed -n 's/^NodeName=//p')
apply() {{ sed -i "s/^$node|\\([a-z]*\\)|/$node|\\1+drain|/" "$STATE/nodes.txt"; }}
case "$mode" in
  apply) apply ;;
  hang) exec sleep 30 ;;
  apply-then-hang) apply; exec sleep 30 ;;
esac
exit 0
"""


@pytest.fixture
def slurm_bin(tmp_path: Path) -> Path:
    """A PATH directory with stand-in sinfo/squeue/scontrol; its state in tmp_path/state."""
    state = tmp_path / "state"
    state.mkdir()
    (state / "nodes.txt").write_text((SLURM / "sinfo-nodes.txt").read_text())
    (state / "jobs.txt").write_text((SLURM / "squeue-jobs.txt").read_text())
    (state / "details.txt").write_text((SLURM / "scontrol-show-job-d-o.txt").read_text())
    (state / "mode").write_text("apply")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name in ("sinfo", "squeue", "scontrol"):
        script = bin_dir / name
        script.write_text(STAND_IN.format(state=state))
        script.chmod(0o755)
    return bin_dir


def mode(slurm_bin: Path, value: str) -> None:
    (slurm_bin.parent / "state" / "mode").write_text(value)


def env_with(slurm_bin: Path, tmp_path: Path, **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "PATH": f"{slurm_bin}:{os.environ['PATH']}",
        "AICONSOLE_SITE_POLICY": str(tmp_path / "no-site-policy.toml"),
        "AICONSOLE_AUDIT_SYSLOG": "off",
        **extra,
    }


def config(tmp_path: Path, extra: str = "") -> Path:
    path = tmp_path / "config.toml"
    path.write_text(f'[settings]\naudit_log = "{tmp_path / "audit.jsonl"}"\n{extra}')
    return path


def records(tmp_path: Path) -> list[dict[str, object]]:
    path = tmp_path / "audit.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


# -- commands without an answer, verification that fails ---------------------------------


async def _drain(slurm_bin: Path, tmp_path: Path, verify_timeout: float) -> Outcome:
    os.environ["PATH"] = f"{slurm_bin}:{os.environ['PATH']}"
    runner = LocalRunner()
    cluster = await read_cluster("estate", runner, 5)
    plan = plan_action(cluster, "drain", ["node4"], Policy(), "fan")
    return await carry_out_on_slurm(
        plan,
        runner,
        0.5,
        policy=Policy(),
        audit=AuditLog(tmp_path / "audit.jsonl", syslog="off"),
        verify_timeout=verify_timeout,
    )


async def test_a_command_without_an_answer_is_unknown_not_failed(
    slurm_bin: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", os.environ["PATH"])  # restored after the test
    mode(slurm_bin, "hang")
    outcome = await _drain(slurm_bin, tmp_path, verify_timeout=1.0)
    assert outcome.status == "unknown" and outcome.error is None
    assert outcome.unanswered == "scontrol did not answer within 0.5 s"
    (result,) = outcome.results
    assert (result.ok, result.state) == (False, "mixed")
    assert result.detail == "unknown: the command got no answer"
    _intent, final = records(tmp_path)
    assert (final["phase"], final["ok"], final["status"]) == ("outcome", None, "unknown")
    assert final["error"] == "scontrol did not answer within 0.5 s"


async def test_a_command_without_an_answer_that_took_effect_is_verified(
    slurm_bin: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", os.environ["PATH"])
    mode(slurm_bin, "apply-then-hang")
    outcome = await _drain(slurm_bin, tmp_path, verify_timeout=10.0)
    assert outcome.status == "verified" and outcome.ok
    assert records(tmp_path)[-1]["ok"] is True


def test_cli_exit_4_when_the_change_never_shows(slurm_bin: Path, tmp_path: Path) -> None:
    mode(slurm_bin, "ignore")  # accepted, never applied
    code, stdout, stderr = run_aiconsole(
        "--config", str(config(tmp_path)), "--slurm", "local",
        "drain", "node4", "--reason", "fan", "--yes", "--verify-timeout", "1",
        env=env_with(slurm_bin, tmp_path),
    )  # fmt: skip
    assert code == 4, stderr
    assert "node4: mixed (NOT VERIFIED: not seen in time)" in stdout
    assert records(tmp_path)[-1]["status"] == "unverified"


def test_cli_waits_slurm_timeout_and_reports_unknown(slurm_bin: Path, tmp_path: Path) -> None:
    mode(slurm_bin, "hang")
    code, _, stderr = run_aiconsole(
        "--config", str(config(tmp_path, "slurm_timeout = 1\n")), "--slurm", "local",
        "drain", "node4", "--reason", "fan", "--yes", "--verify-timeout", "1",
        env=env_with(slurm_bin, tmp_path),
    )  # fmt: skip
    assert code == 4, stderr
    assert "outcome UNKNOWN: scontrol did not answer within 1 s" in stderr
    assert records(tmp_path)[-1]["ok"] is None


# -- roles and the site policy ----------------------------------------------------------


@pytest.mark.parametrize(
    ("site", "user", "refusal"),
    [
        ("", 'role = "viewer"\n', "role 'viewer' cannot act"),
        ('role = "viewer"\n', 'role = "operator"\n', "role 'viewer' cannot act"),
        ("read_only = true\n", "", "read-only"),
        ("role = [\n", "", "cannot read the site policy"),
    ],
)
def test_roles_and_the_site_policy_refuse_before_touching_slurm(
    slurm_bin: Path, tmp_path: Path, site: str, user: str, refusal: str
) -> None:
    policy = tmp_path / "policy.toml"
    policy.write_text(site)
    code, _, stderr = run_aiconsole(
        "--config", str(config(tmp_path, user)), "--slurm", "local",
        "drain", "node4", "--reason", "fan", "--yes",
        env=env_with(slurm_bin, tmp_path, AICONSOLE_SITE_POLICY=str(policy)),
    )  # fmt: skip
    assert code == 3 and refusal in stderr, stderr
    assert not (slurm_bin.parent / "state" / "calls").exists()
    assert records(tmp_path) == []


def test_the_site_share_cap_wins_over_a_looser_user_config(slurm_bin: Path, tmp_path: Path) -> None:
    policy = tmp_path / "policy.toml"
    policy.write_text("max_out_of_service = 0.25\n")
    code, stdout, stderr = run_aiconsole(
        "--config", str(config(tmp_path, "max_out_of_service = 1.0\n")), "--slurm", "local",
        "drain", "node[3-4]", "--reason", "fan", "--yes",
        env=env_with(slurm_bin, tmp_path, AICONSOLE_SITE_POLICY=str(policy)),
    )  # fmt: skip
    assert code == 3, stderr
    assert "takes 2 of 4 nodes of partition main out of service (more than 25%)" in stdout


def test_site_policy_only_tightens() -> None:
    site = SitePolicy(role="viewer", read_only=False, max_out_of_service=0.1)
    pinned = site.apply(Policy(role="operator", max_out_of_service=0.5))
    assert (pinned.role, pinned.max_out_of_service, pinned.can_act) == ("viewer", 0.1, False)
    loose = SitePolicy(role="operator", max_out_of_service=0.9)
    kept = loose.apply(Policy(role="viewer", read_only=True, max_out_of_service=0.2))
    assert (kept.role, kept.read_only, kept.max_out_of_service) == ("viewer", True, 0.2)


def test_site_policy_file(tmp_path: Path) -> None:
    assert load_site_policy(tmp_path / "absent.toml") == SitePolicy()
    path = tmp_path / "policy.toml"
    path.write_text('role = "viewer"\nmax_out_of_service = 0.2\n')
    assert load_site_policy(path) == SitePolicy("viewer", False, 0.2, path)
    for bad in ('role = "admin"\n', "max_out_of_service = 2\n", "roles = 1\n"):
        path.write_text(bad)
        with pytest.raises(SitePolicyError):
            load_site_policy(path)


# -- the audit record itself ------------------------------------------------------------


def _plan() -> object:
    from tests.test_slurm_parse import recorded_cluster

    return plan_action(recorded_cluster(), "drain", ["node4"], Policy(), "fan")


def test_the_actor_is_the_account_not_logname(tmp_path: Path) -> None:
    program = textwrap.dedent(
        f"""
        from pathlib import Path
        from aiconsole.actions.audit import AuditLog
        from tests.test_slurm_actions import _plan
        AuditLog(Path({str(tmp_path / "audit.jsonl")!r}), syslog="off").intent(_plan())
        """
    )
    env = {**os.environ, "LOGNAME": "alice", "USER": "alice", "SUDO_USER": "bob"}
    subprocess.run([sys.executable, "-c", program], env=env, cwd=REPO, check=True)
    (record,) = records(tmp_path)
    assert record["user"] == pwd.getpwuid(os.geteuid()).pw_name != "alice"
    assert record["uid"] == os.geteuid()
    assert record.get("sudo_user") == ("bob" if os.geteuid() == 0 else None)


def test_a_short_write_stops_the_action(tmp_path: Path) -> None:
    # The file may grow by 100 bytes only (RLIMIT_FSIZE): the record is cut, the kernel
    # reports a short write, and the intent must fail rather than leave a torn line.
    program = textwrap.dedent(
        f"""
        import resource, signal, sys
        from pathlib import Path
        from aiconsole.actions.audit import AuditFailed, AuditLog
        from tests.test_slurm_actions import _plan
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        log = AuditLog(Path({str(tmp_path / "audit.jsonl")!r}), syslog="off")
        resource.setrlimit(resource.RLIMIT_FSIZE, (100, resource.RLIM_INFINITY))
        try:
            log.intent(_plan())
        except AuditFailed as error:
            print(error)
            sys.exit(7)
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", program], cwd=REPO, capture_output=True, text=True, check=False
    )
    assert result.returncode == 7, result.stderr
    assert "short write (100 of " in result.stdout
    assert (tmp_path / "audit.jsonl").stat().st_size == 100  # the torn record: reported


def test_every_record_also_goes_to_syslog(tmp_path: Path) -> None:
    address = str(tmp_path / "log.sock")
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as listener:
        listener.bind(address)
        listener.settimeout(5)
        log = AuditLog(tmp_path / "audit.jsonl", syslog=address)
        action_id = log.intent(_plan())  # type: ignore[arg-type]
        message = listener.recv(65536).decode()
    assert message.startswith(f"<85>aiconsole[{os.getpid()}]: ")
    record = json.loads(message.split(": ", 1)[1])
    assert (record["id"], record["phase"], record["targets"]) == (action_id, "intent", ["node4"])
    assert log.syslog_error is None


def test_an_unreachable_syslog_is_reported_not_fatal(tmp_path: Path) -> None:
    log = AuditLog(tmp_path / "audit.jsonl", syslog=str(tmp_path / "nobody.sock"))
    log.intent(_plan())  # type: ignore[arg-type]
    assert log.syslog_error is not None and "nobody.sock" in log.syslog_error
    assert len(records(tmp_path)) == 1


# -- the collector survives anything ----------------------------------------------------


async def test_any_error_in_a_reading_turns_the_cluster_stale_and_polling_goes_on(
    slurm_bin: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", f"{slurm_bin}:{os.environ['PATH']}")
    store = FleetStore()
    collector = SlurmCollector("estate", LocalRunner(), store, interval=0.05, timeout=5)
    assert (await collector.poll_once()).status == "ok"
    calls = 0

    async def broken(name: str, runner: object, timeout: float) -> SlurmCluster:
        nonlocal calls
        calls += 1
        raise RecursionError("maximum recursion depth exceeded")

    monkeypatch.setattr(slurm_collector, "read_cluster", broken)
    task = asyncio.create_task(collector.run())
    while calls < 3 and not task.done():
        await asyncio.sleep(0.05)
    assert not task.done()  # still polling
    task.cancel()
    state = store.cluster("estate")
    assert state is not None and state.status == "stale"
    assert state.reason is not None
    assert state.reason.startswith(
        "estate: reading Slurm failed: RecursionError: maximum recursion depth exceeded"
    )
    assert len(state.nodes) == 4  # the last known nodes, kept


def test_the_cli_plan_never_sends_a_job_name_raw_to_the_terminal(
    slurm_bin: Path, tmp_path: Path
) -> None:
    state = slurm_bin.parent / "state"
    for name in ("jobs.txt", "details.txt"):
        path = state / name
        path.write_text(path.read_text().replace("train llama", "x\x1b]52;c;aGk=\x07\u202ey"))
    code, stdout, stderr = run_aiconsole(
        "--config", str(config(tmp_path)), "--slurm", "local", "requeue", "1", "--dry-run",
        env=env_with(slurm_bin, tmp_path),
    )  # fmt: skip
    assert code == 0, stderr
    assert "job 1 (root, x␛]52;c;aGk=␇y) RUNNING on node2" in stdout
    assert "\x1b" not in stdout and "\u202e" not in stdout


@pytest.mark.parametrize("command", [["snapshot"], ["drain", "node4", "--reason", "x", "--yes"]])
def test_a_slurm_host_that_reads_as_an_option_is_refused(
    slurm_bin: Path, tmp_path: Path, command: list[str]
) -> None:
    code, stdout, stderr = run_aiconsole(
        "--config", str(config(tmp_path)), "--slurm=-oProxyCommand=touch x", *command,
        env=env_with(slurm_bin, tmp_path),
    )  # fmt: skip
    assert code == 1 and stdout == ""
    assert stderr.startswith("aiconsole: error: invalid Slurm host '-oProxyCommand=touch x'")


@pytest.mark.skipif(not Path("/usr/bin/strace").exists(), reason="strace not installed")
def test_a_new_log_file_and_directory_are_fsynced(tmp_path: Path) -> None:
    # A record fsynced into a file whose directory entry was never synced can vanish with
    # the file in a crash: the new directory and the new file's entry are synced too.
    log = tmp_path / "state" / "audit.jsonl"
    program = textwrap.dedent(
        f"""
        from pathlib import Path
        from aiconsole.actions.audit import AuditLog
        from tests.test_slurm_actions import _plan
        AuditLog(Path({str(log)!r}), syslog="off").intent(_plan())
        """
    )
    trace = tmp_path / "trace"
    subprocess.run(
        ["/usr/bin/strace", "-f", "-e", "trace=openat,fsync", "-o", str(trace),
         sys.executable, "-c", program],
        cwd=REPO, check=True, capture_output=True,
    )  # fmt: skip
    calls = trace.read_text().splitlines()
    synced = set()
    opened: dict[str, str] = {}
    for call in calls:
        if "openat(" in call and "= " in call:
            path = call.split('"')[1]
            opened[call.rsplit("= ", 1)[1].split()[0]] = path
        elif "fsync(" in call:
            synced.add(opened.get(call.split("fsync(")[1].split(")")[0]))
    assert {str(log), str(log.parent), str(tmp_path)} <= synced
