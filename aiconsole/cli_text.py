"""The CLI's text tables (``snapshot`` and ``hosts check`` without ``--json``): every name
and reason from hosts, Slurm and the inventory is cleaned for the terminal on the way out."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from aiconsole import units
from aiconsole.model import FleetSnapshot
from aiconsole.summary import summarize
from aiconsole.text import MAX_REASON, clean

if TYPE_CHECKING:
    from aiconsole.collectors.ssh import HostCheck


def format_text(snapshot: FleetSnapshot) -> str:
    """The snapshot as a short table. Every name and reason passes through :func:`shown`: the
    table goes to a terminal, and these strings come from hosts, Slurm and the inventory."""
    header = (
        f"{'HOST':<20} {'STATUS':<12} {'CPU':>5} {'MEM':>13} {'GPUS':>4} {'UTIL':>5} {'REASON'}"
    )
    lines = [header]
    for state in snapshot.hosts:
        s = summarize(state)
        memory = (
            f"{units.bytes_short(s.memory_used_bytes)}/{units.bytes_short(s.memory_total_bytes)}"
        )
        lines.append(
            f"{shown(s.name):<20} {s.status:<12} {units.percent(s.cpu_percent):>5} {memory:>13} "
            f"{units.NA if s.gpu_count is None else s.gpu_count:>4} "
            f"{units.percent(s.gpu_util_mean):>5} {shown(s.reason)}".rstrip()
        )
    for cluster in snapshot.clusters:
        lines.append("")
        lines.append(
            f"Slurm {shown(cluster.name)}: {cluster.status}"
            + (f" ({shown(cluster.reason)})" if cluster.reason else "")
            + f", {len(cluster.nodes)} nodes, {len(cluster.jobs)} jobs"
        )
        for node in cluster.nodes:
            lines.append(
                f"  {shown(node.name):<18} {shown(node.summary):<12} GPUs {node.gpus_used or 0}/"
                f"{node.gpus_total or 0}  {shown(node.reason)}".rstrip()
            )
    if snapshot.kubernetes:
        from aiconsole.cli_kube import format_kubernetes

        lines.extend(format_kubernetes(snapshot))
    return "\n".join(lines)


def shown(value: str | None) -> str:
    """Text from elsewhere, safe to print to a terminal (no escape sequence gets through)."""
    return clean(value, MAX_REASON) if value else ""


def format_checks(results: Sequence[HostCheck]) -> str:
    """``hosts check`` as a table; a host's words (its name for itself, why it failed, what
    its SSH server said) pass through :func:`shown`. RTT is the TCP connect alone (one
    network round trip), SSH the handshake and authentication, CMD running ``true``."""
    lines = [
        f"{'HOST':<20} {'STATUS':<16} {'RTT':>7} {'SSH':>7} {'CMD':>7} {'PROBE':<7} "
        f"{'PYTHON':<8} HOSTNAME/REASON"
    ]
    for r in results:
        lines.append(
            f"{shown(r.name):<20} {r.status:<16} {units.number(r.rtt_ms, 'ms', 1):>7} "
            f"{units.number(r.handshake_ms, 'ms'):>7} {units.number(r.command_ms, 'ms'):>7} "
            f"{shown(r.probe_version) or units.NA:<7} {shown(r.python_version) or units.NA:<8} "
            f"{shown(r.reason or r.hostname)}"
        )
    return "\n".join(lines)
