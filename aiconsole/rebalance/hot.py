"""Relieve hot or sick nodes: move requeueable work off nodes whose GPUs run hot, slow down,
carry warning findings, or work far above the cluster's mean, onto cool nodes with free GPUs.

Slurm: each move is a requeue with the hot node excluded (``ExcNodeList``), so the job lands
elsewhere; the planned target is where the placement model expects it.
"""

from __future__ import annotations

from dataclasses import dataclass

from aiconsole.health.context import join
from aiconsole.model import FleetSnapshot, HostState, SlurmCluster
from aiconsole.rebalance.moves import Move, NodeView, Result
from aiconsole.rebalance.placement import Cluster

SLOWDOWNS = frozenset({"hw_thermal_slowdown", "sw_thermal_slowdown", "hw_power_brake_slowdown"})


@dataclass(frozen=True)
class HotLimits:
    hot_c: float = 85.0
    """A GPU at or above this is hot."""
    cool_c: float = 75.0
    """A node whose hottest GPU is below this (and has no findings) may take work."""
    above_mean_percent: float = 30.0
    """A node this many points above the cluster's mean GPU use counts as overloaded."""
    max_moves: int = 8
    max_per_node: int = 1


@dataclass(frozen=True)
class NodeHeat:
    name: str
    hottest_c: float | None
    util: float | None
    slowdowns: tuple[str, ...]
    findings: int


def _heat(name: str, state: HostState | None, findings: int) -> NodeHeat:
    if state is None or state.sample is None or not state.sample.gpu.gpus:
        return NodeHeat(name, None, None, (), findings)
    gpus = state.sample.gpu.gpus
    temps = [g.temperature_c for g in gpus if g.temperature_c is not None]
    utils = [g.util_gpu_percent for g in gpus if g.util_gpu_percent is not None]
    slow = sorted({r for g in gpus for r in g.clock_event_reasons or () if r in SLOWDOWNS})
    return NodeHeat(
        name,
        max(temps) if temps else None,
        sum(utils) / len(utils) if utils else None,
        tuple(slow),
        findings,
    )


def node_heat(snapshot: FleetSnapshot, cluster: SlurmCluster) -> dict[str, NodeHeat]:
    """Per Slurm node: its host's hottest GPU, mean use, slowdowns and warning findings."""
    places = join(snapshot)
    host_of: dict[str, HostState] = {}
    for state in snapshot.hosts:
        for place in places.slurm(state.name):
            if place.cluster.name == cluster.name:
                host_of[place.node.name] = state
    warnings: dict[str, int] = {}
    for finding in snapshot.findings:
        if finding.severity in ("warning", "critical") and finding.subject.host is not None:
            warnings[finding.subject.host] = warnings.get(finding.subject.host, 0) + 1
    return {
        node.name: _heat(
            node.name,
            host_of.get(node.name),
            warnings.get(host_of[node.name].name, 0) if node.name in host_of else 0,
        )
        for node in cluster.nodes
    }


def is_cool(heat: NodeHeat, limits: HotLimits) -> bool:
    """May take work moved off a hot node: no findings, no slowdown, its hottest GPU below
    ``cool_c`` (or not seen: a node without GPU telemetry is not held against)."""
    return (
        not heat.findings
        and not heat.slowdowns
        and (heat.hottest_c is None or heat.hottest_c < limits.cool_c)
    )


def _why_hot(heat: NodeHeat, mean: float | None, limits: HotLimits) -> str | None:
    if heat.hottest_c is not None and heat.hottest_c >= limits.hot_c:
        return f"GPU at {heat.hottest_c:.0f} C"
    if heat.slowdowns:
        return "clocks held down: " + ", ".join(heat.slowdowns)
    if heat.findings:
        return f"{heat.findings} warning finding(s)"
    if heat.util is not None and mean is not None and heat.util - mean >= limits.above_mean_percent:
        return f"GPU use {heat.util:.0f} % against a mean of {mean:.0f} %"
    return None


def plan_hot(
    snapshot: FleetSnapshot, cluster: SlurmCluster, limits: HotLimits | None = None
) -> Result:
    limits = limits or HotLimits()
    heat = node_heat(snapshot, cluster)
    utils = [h.util for h in heat.values() if h.util is not None]
    mean = sum(utils) / len(utils) if utils else None
    hot = {name: why for name, h in heat.items() if (why := _why_hot(h, mean, limits))}
    cool = {name for name, h in heat.items() if name not in hot and is_cool(h, limits)}
    state = Cluster.of(cluster)
    before = state.copy()
    moves: list[Move] = []
    refusals: list[str] = []
    for name in sorted(hot):
        jobs = [j for j in state.running_on(name) if len(j.nodes) == 1 and j.gpus_per_node]
        movable = sorted(
            (j for j in jobs if j.requeueable), key=lambda j: (j.priority, j.elapsed_s)
        )
        refusals += [f"{j.id} on {name}: not requeueable" for j in jobs if not j.requeueable]
        moved_here = 0
        for job in movable:
            if moved_here >= limits.max_per_node or len(moves) >= limits.max_moves:
                break
            excluded = frozenset(n for n in state.nodes if n not in cool)
            fit = state.fits(job, exclude=excluded)
            if fit is None:
                refusals.append(
                    f"{job.id} on {name}: no cool node has {job.gpus_per_node} free GPU(s)"
                )
                continue
            state.release(job)
            state.place(job, fit)
            moved_here += 1
            moves.append(
                Move(
                    job.id,
                    "requeue",
                    name,
                    ",".join(fit),
                    f"{name}: {hot[name]}",
                    job.gpus,
                    job.user,
                    job.cost_gpu_hours(),
                    exclude=(name,),
                )
            )
    touched = sorted({m.source for m in moves} | {m.target or "" for m in moves} - {""})
    views = tuple(
        NodeView(
            n,
            before.nodes[n].gpus_total,
            before.nodes[n].gpus_used,
            state.nodes[n].gpus_used,
            heat[n].util,
            heat[n].hottest_c,
        )
        for n in touched
    )
    relieved = {m.source for m in moves}
    return Result(
        policy="hot",
        moves=tuple(moves),
        refusals=tuple(refusals),
        nodes=views,
        merit={
            "hot_nodes": float(len(hot)),
            "hot_nodes_relieved": float(len(relieved)),
            "gpu_hours_lost": sum(m.cost_gpu_hours for m in moves),
        },
    )
