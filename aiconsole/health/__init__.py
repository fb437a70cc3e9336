"""Health: pure rules over fleet snapshots that judge what an operator must look at.

``observe(snapshot)`` runs every rule and returns what they see now; :mod:`tracker` adds
hysteresis for the live console; :func:`judge` is the one-shot judgement of ``aiconsole
health``. No I/O, no Textual: the same functions serve the TUI, the CLI, alerts and replays.
"""

from __future__ import annotations

from aiconsole.health.cgroups import pods_by_uid
from aiconsole.health.context import join
from aiconsole.health.observe import Context, Observation
from aiconsole.health.rules_gpu import RULES as GPU_RULES
from aiconsole.health.rules_host import HOST_RULES, host_status, kube_nodes, slurm_nodes
from aiconsole.health.silences import muted
from aiconsole.health.thresholds import Thresholds
from aiconsole.health.tracker import TrackerState, order, step
from aiconsole.model import Finding, FleetSnapshot

__all__ = ["Thresholds", "TrackerState", "judge", "observe", "step", "worst"]

# The exit codes of the monitoring-plugin convention (Nagios, Icinga, NHC).
EXIT_OK, EXIT_WARNING, EXIT_CRITICAL, EXIT_UNKNOWN = 0, 1, 2, 3


def observe(
    snapshot: FleetSnapshot, thresholds: Thresholds, previous: dict[str, int], now: float
) -> tuple[list[Observation], dict[str, int]]:
    """Every rule over every host and cluster: what is wrong now, and the counters seen."""
    ctx = Context(snapshot, join(snapshot), thresholds, now, previous, pods_by_uid(snapshot))
    counters: dict[str, int] = {}
    found: list[Observation] = []
    for state in snapshot.hosts:
        found.extend(host_status(ctx, state, counters))
        if state.sample is None or state.status not in ("ok", "stale"):
            continue
        for gpu_rule in GPU_RULES:
            found.extend(gpu_rule(ctx, state))
        for host_rule in HOST_RULES:
            found.extend(host_rule(ctx, state, counters))
    for cluster in snapshot.clusters:
        found.extend(slurm_nodes(ctx, cluster))
    for kube in snapshot.kubernetes:
        if kube.status in ("ok", "stale"):
            found.extend(kube_nodes(ctx, kube))
    return found, counters


def judge(snapshot: FleetSnapshot, thresholds: Thresholds | None = None) -> tuple[Finding, ...]:
    """One-shot judgement of a single snapshot (no history): every problem seen counts at
    once, except those that need a duration (an idle GPU), which need the live console."""
    thresholds = thresholds or Thresholds()
    now = snapshot.generated_at
    observations, counters = observe(snapshot, thresholds, {}, now)
    once = [o for o in observations if o.min_duration_s == 0]
    _, findings = step(TrackerState(), once, counters, _immediate(thresholds), now)
    return findings


def _immediate(thresholds: Thresholds) -> Thresholds:
    from dataclasses import replace

    return replace(thresholds, raise_after=1)


def worst(findings: tuple[Finding, ...]) -> str | None:
    return min(findings, key=order).severity if findings else None


def exit_code(snapshot: FleetSnapshot, findings: tuple[Finding, ...]) -> int:
    """0 nothing found, 1 warnings, 2 critical, 3 nothing could be judged."""
    if not snapshot.hosts and not snapshot.clusters:
        return EXIT_UNKNOWN
    # Acknowledged or silenced findings stay listed but no longer page anyone.
    severity = worst(tuple(f for f in findings if not muted(f)))
    if severity == "critical":
        return EXIT_CRITICAL
    if severity == "warning":
        return EXIT_WARNING
    return EXIT_OK
