"""Rebalance bench: planner time per policy on 1,024 nodes x 8 GPUs with 5,000 running and
500 pending jobs, and plan quality against two baselines run on the same cluster:

* greedy: for the same blocked job, requeue the smallest jobs on the emptiest node (no check
  that the requeued work fits again);
* the Kubernetes descheduler's LowNodeUtilization rule applied to requests (its default):
  nodes above 50 % of GPUs requested give pods to nodes under 20 %.

Run: .venv/bin/python bench/rebalance.py   (prints a table; asserts nothing)
Target (rebalance issue): < 200 ms per policy.
"""

from __future__ import annotations

import random
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from aiconsole.model import (  # noqa: E402
    Finding,
    FleetSnapshot,
    HostState,
    SlurmCluster,
    SlurmJob,
    SlurmNode,
    Subject,
    Workload,
)
from aiconsole.rebalance.defrag import plan_defrag  # noqa: E402
from aiconsole.rebalance.hot import plan_hot  # noqa: E402
from aiconsole.rebalance.idle import plan_idle  # noqa: E402
from aiconsole.rebalance.placement import Cluster, Job  # noqa: E402

NODES, GPUS, RUNNING, PENDING = 1024, 8, 5000, 500
NOW = 1_795_000_000.0


def synthetic(seed: int = 11) -> tuple[SlurmCluster, FleetSnapshot]:
    rng = random.Random(seed)
    free = {f"n{i:04d}": GPUS for i in range(NODES)}
    names = list(free)
    jobs: list[SlurmJob] = []
    findings: list[Finding] = []
    while len(jobs) < RUNNING:
        size = rng.choices((1, 2, 4), weights=(70, 20, 10))[0]
        # One small job on every node first, then random placement: the fragmentation that
        # builds up over a week, where no node has all its GPUs free.
        node = names[len(jobs)] if len(jobs) < NODES else rng.choice(names)
        size = 1 if len(jobs) < NODES else size
        if free[node] < size:
            continue
        first = GPUS - free[node]
        free[node] -= size
        job_id = str(100000 + len(jobs))
        user = rng.choice(("alice", "bob", "carol", "dmitri"))
        jobs.append(
            SlurmJob(
                job_id=job_id,
                state="RUNNING",
                partition="gpu",
                nodes=(node,),
                user=user,
                gpu_indices={node: tuple(range(first, first + size))},
                priority=rng.randrange(1, 1000),
                requeueable=rng.random() < 0.8,
                time_used_s=rng.randrange(60, 48 * 3600),
            )
        )
        if rng.random() < 0.1:  # a tenth of the jobs hold GPUs they do not use
            for index in range(first, first + size):
                findings.append(
                    Finding(
                        rule="gpu.idle_allocated",
                        severity="warning",
                        subject=Subject(kind="gpu", host=node, name=str(index)),
                        summary="idle",
                        workloads=(
                            Workload(kind="slurm_job", id=job_id, cluster="prod", user=user),
                        ),
                        first_seen=NOW - rng.randrange(1800, 6 * 3600),
                        last_seen=NOW,
                        incident=f"{node}-{index}",
                    )
                )
    for n in range(PENDING):
        jobs.append(
            SlurmJob(
                job_id=str(900000 + n),
                state="PENDING",
                partition="gpu",
                gpus_per_node=rng.choice((1, 2, 4, 8, 8)),
                nodes_requested=1,
                priority=rng.randrange(1, 1000),
                user="erin",
            )
        )
    nodes = tuple(
        SlurmNode(
            name=name,
            state="mixed",
            summary="mixed",
            gpus_total=GPUS,
            gpus_used=GPUS - free[name],
            partitions=("gpu",),
        )
        for name in names
    )
    cluster = SlurmCluster(name="prod", status="ok", nodes=nodes, jobs=tuple(jobs))
    return cluster, FleetSnapshot(generated_at=NOW, clusters=(cluster,), findings=tuple(findings))


def greedy(cluster: SlurmCluster) -> tuple[float, float, int]:
    """(GPUs started, GPU-hours lost, requeued jobs left with nowhere to run)."""
    state = Cluster.of(cluster)
    pending = sorted(
        (j for j in state.jobs.values() if j.state == "PENDING" and j.gpus_per_node),
        key=lambda j: (-j.gpus, -j.priority),
    )
    target = next(j for j in pending if state.fits(j) is None)
    node = max(state.nodes.values(), key=lambda n: (n.free, n.name))
    chosen: list[Job] = []
    for job in sorted(state.running_on(node.name), key=lambda j: j.gpus):
        if node.free + sum(j.gpus_per_node for j in chosen) >= target.gpus_per_node:
            break
        chosen.append(job)  # greedy ignores the requeue flag's cost and the re-placement
    for job in chosen:
        state.release(job)
    state.place(target, [node.name])
    stranded = 0
    for job in chosen:
        fit = state.fits(job)
        if fit is None:
            stranded += 1
        else:
            state.place(job, fit)
    return float(target.gpus), sum(j.cost_gpu_hours() for j in chosen), stranded


def descheduler(cluster: SlurmCluster) -> tuple[int, int, int]:
    """LowNodeUtilization on requests: (nodes over 50 %, nodes under 20 %, allocated GPUs it
    can see are idle). It reads requests, so an allocated GPU always counts as used: the
    last figure is 0 by construction, whatever the GPUs do."""
    over = sum((n.gpus_used or 0) / GPUS > 0.5 for n in cluster.nodes)
    under = sum((n.gpus_used or 0) / GPUS < 0.2 for n in cluster.nodes)
    return over, under, 0


def with_hosts(cluster: SlurmCluster, snapshot: FleetSnapshot, seed: int = 5) -> FleetSnapshot:
    """Every node as a host of the fleet with 8 GPUs; one node in fifty has a GPU at 90 C and
    GPU use is random, so the hot policy has heat, slowdowns and use above the mean to judge."""
    import msgspec

    from tests.synthetic import recorded_host_sample

    rng = random.Random(seed)
    base = recorded_host_sample()
    hosts = []
    for index, node in enumerate(cluster.nodes):
        identity = msgspec.structs.replace(base.identity, name=node.name, hostname=node.name)
        gpus = tuple(
            msgspec.structs.replace(
                gpu,
                temperature_c=90 if index % 50 == 0 and n == 0 else rng.randrange(40, 70),
                util_gpu_percent=rng.randrange(0, 100),
                clock_event_reasons=(),
            )
            for n, gpu in enumerate(base.gpu.gpus[:GPUS])
        )
        sample = msgspec.structs.replace(
            base, identity=identity, gpu=msgspec.structs.replace(base.gpu, gpus=gpus)
        )
        hosts.append(HostState(name=node.name, status="ok", received_at=NOW, sample=sample))
    return msgspec.structs.replace(snapshot, hosts=tuple(hosts))


def timed(function: object, runs: int = 5) -> tuple[float, object]:
    times, result = [], None
    for _ in range(runs):
        start = time.process_time()
        result = function()  # type: ignore[operator]
        times.append(time.process_time() - start)
    return statistics.median(times), result


def main() -> None:
    cluster, snapshot = synthetic()
    print(
        f"{NODES} nodes x {GPUS} GPUs, {RUNNING} running, {PENDING} pending; "
        f"{sum(n.gpus_used or 0 for n in cluster.nodes)} GPUs allocated"
    )
    defrag_s, defrag = timed(lambda: plan_defrag(cluster))
    idle_s, idle = timed(lambda: plan_idle(snapshot, cluster, NOW))
    greedy_s, (g_started, g_lost, g_stranded) = timed(lambda: greedy(cluster))
    d = defrag.merit  # type: ignore[attr-defined]
    print(
        f"{'planner':<34}{'CPU ms':>8}{'GPUs started':>14}{'GPU-h lost':>12}{'per GPU-h':>11}"
        f"{'stranded':>10}"
    )
    per = d["pending_gpus_started"] / d["gpu_hours_lost"] if d["gpu_hours_lost"] else float("inf")
    print(
        f"{'defrag (aiconsole)':<34}{defrag_s * 1000:>8.1f}{d['pending_gpus_started']:>14.0f}"
        f"{d['gpu_hours_lost']:>12.2f}{per:>11.2f}{0:>10}"
    )
    g_per = g_started / g_lost if g_lost else float("inf")
    print(
        f"{'greedy: smallest on emptiest node':<34}{greedy_s * 1000:>8.1f}{g_started:>14.0f}"
        f"{g_lost:>12.2f}{g_per:>11.2f}{g_stranded:>10}"
    )
    m = idle.merit  # type: ignore[attr-defined]
    print(
        f"{'idle reclaim (aiconsole)':<34}{idle_s * 1000:>8.1f}  idle GPUs found by actual use: "
        f"{m['gpus_idle']:.0f} in {m['idle_jobs']:.0f} jobs, "
        f"{m['gpu_hours_wasted']:.0f} GPU-h wasted"
    )
    hot_snapshot = with_hosts(cluster, snapshot)
    hot_s, hot = timed(lambda: plan_hot(hot_snapshot, cluster))
    h = hot.merit  # type: ignore[attr-defined]
    moves = len(hot.moves)  # type: ignore[attr-defined]
    print(
        f"{'hot relief (aiconsole)':<34}{hot_s * 1000:>8.1f}  {moves} moves planned (caps: 8 a "
        f"plan, 1 a node); merit {', '.join(f'{k} {v:g}' for k, v in sorted(h.items()))}"
    )
    over, under, seen = descheduler(cluster)
    print(
        f"{'descheduler LowNodeUtilization':<34}{'':>8}  idle GPUs found by requests: {seen} "
        f"({over} nodes over 50 % requested, {under} under 20 %)"
    )


if __name__ == "__main__":
    main()
