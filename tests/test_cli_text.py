"""Plain output goes to a terminal too: no escape sequence from a host, Slurm or SSH server
reaches it, and a hostile process on this machine arrives cleaned in ``snapshot --json``."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from aiconsole.cli_text import format_checks, format_text
from aiconsole.collectors.ssh import HostCheck
from aiconsole.model import FleetSnapshot, HostState, SlurmCluster, SlurmNode
from tests.conftest import NvmlConfig, run_aiconsole

OSC52 = "\x1b]52;c;cm0gLXJmIH4=\x07"
OSC0 = "\x1b]0;you have been pwned\x07"
CLEAR = "\x1b[2J"
RLO = "\u202e"


def assert_terminal_safe(output: str) -> None:
    assert "\x1b" not in output and "\x07" not in output and RLO not in output
    assert "\x9b" not in output  # the one-byte CSI


def test_snapshot_table_prints_no_escape_sequence() -> None:
    # A state built directly (not through the store or a decoder): the printer cleans
    # on its own, whatever path the text took.
    snapshot = FleetSnapshot(
        generated_at=0.0,
        hosts=(HostState(name="gpu01", status="unreachable", reason=f"banner {OSC52}{RLO}x\x9b"),),
        clusters=(
            SlurmCluster(
                name=f"prod{OSC0}",
                status="error",
                reason=f"slurmctld {CLEAR}",
                nodes=(
                    SlurmNode(name="gpu01", state="down", summary="down", reason=f"xid{OSC52}"),
                ),
            ),
        ),
    )
    output = format_text(snapshot)
    assert_terminal_safe(output)
    assert "banner ␛]52;c;cm0gLXJmIH4=␇x\\x9b" in output
    assert "Slurm prod␛]0;you have been pwned␇: error (slurmctld ␛[2J)" in output
    assert output.splitlines()[-1].endswith("xid␛]52;c;cm0gLXJmIH4=␇")


def test_hosts_check_prints_no_escape_sequence() -> None:
    results = [
        HostCheck("gpu01", "unreachable", f"SSH server says: {OSC52}{CLEAR}\nlogin:"),
        HostCheck(
            "gpu02",
            "ok",
            None,
            rtt_ms=1.0,
            handshake_ms=2.0,
            command_ms=3.0,
            probe_version=f"0.1{OSC0}",
            python_version="3.12",
            hostname=f"{RLO}evil",
        ),
    ]
    output = format_checks(results)
    assert_terminal_safe(output)
    assert len(output.splitlines()) == 3  # the newline in the banner stays on its line
    assert "SSH server says: ␛]52;c;cm0gLXJmIH4=␇␛[2J␊login:" in output
    assert output.splitlines()[2].endswith(" evil")


def test_a_hostile_command_line_on_this_machine_is_cleaned_in_the_snapshot(
    gpu_env: dict[str, str], nvml_config: NvmlConfig
) -> None:
    # A real process whose argv carries an OSC 52 sequence, a bidi override and markup,
    # holding the stand-in GPU: the real probe reads its /proc/PID/cmdline.
    argv = [sys.executable, "-c", "import time; time.sleep(60)", OSC52, f"{RLO}fdp", "[/x]"]
    holder = subprocess.Popen(argv, env={"PATH": os.environ.get("PATH", "")})
    try:
        nvml_config.set(device_count=1).gpu(0, processes=f"{holder.pid}:{1024**3}")
        code, stdout, stderr = run_aiconsole("snapshot", "--json", "--window", "0", env=gpu_env)
    finally:
        holder.kill()
        holder.wait()
    assert code == 0, stderr
    assert "\\u001b" not in stdout and RLO not in stdout
    (process,) = json.loads(stdout)["hosts"][0]["sample"]["gpu"]["gpus"][0]["processes"]
    assert process["command"].endswith(" ␛]52;c;cm0gLXJmIH4=␇ fdp [/x]")
