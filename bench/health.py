"""Health rules bench: every rule over 1,024 hosts x 8 GPUs, per refresh, with the tracker
carrying 30 minutes of state; beside it, the fleet screen's own refresh cost.

Run: .venv/bin/python bench/health.py   (needs the test extras; prints a table, asserts nothing)

Target (health issue): < 20 ms per refresh.
"""

from __future__ import annotations

import asyncio
import random
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import msgspec  # noqa: E402

from aiconsole.health import Thresholds, TrackerState, observe, step  # noqa: E402
from aiconsole.model import FleetSnapshot, SlurmCluster, SlurmJob, SlurmNode  # noqa: E402
from bench.local import describe, refresh_times  # noqa: E402
from tests.synthetic import fleet_store  # noqa: E402

HOSTS, GPUS = 1024, 8
REFRESHES = 20
MINUTES = 30


def with_jobs(snapshot: FleetSnapshot, seed: int = 3) -> FleetSnapshot:
    """A Slurm cluster whose nodes are the fleet's hosts, each GPU held by one of 4 jobs."""
    rng = random.Random(seed)
    nodes, jobs = [], []
    for state in snapshot.hosts:
        nodes.append(SlurmNode(name=state.name, state="allocated", summary="allocated"))
        for first in range(0, GPUS, 2):
            jobs.append(
                SlurmJob(
                    job_id=str(len(jobs) + 1000),
                    user=rng.choice(("alice", "bob", "carol")),
                    name="train",
                    state="RUNNING",
                    nodes=(state.name,),
                    gpu_indices={state.name: (first, first + 1)},
                )
            )
    cluster = SlurmCluster(name="prod", status="ok", nodes=tuple(nodes), jobs=tuple(jobs))
    return msgspec.structs.replace(snapshot, clusters=(cluster,))


def busy(snapshot: FleetSnapshot) -> FleetSnapshot:
    """The same fleet with every GPU at work and sound (the synthetic fleet gives every host a
    pending remap and an NVLink down): a fleet with no problems, the common case."""
    hosts = []
    for state in snapshot.hosts:
        if state.sample is None:
            hosts.append(state)
            continue
        gpus = tuple(
            msgspec.structs.replace(
                g,
                util_gpu_percent=max(g.util_gpu_percent or 0.0, 50.0),
                remap_pending=False,
                nvlink_links_up=g.nvlink_links_total,
            )
            for g in state.sample.gpu.gpus
        )
        section = msgspec.structs.replace(state.sample.gpu, gpus=gpus)
        sample = msgspec.structs.replace(state.sample, gpu=section)
        hosts.append(msgspec.structs.replace(state, sample=sample))
    return msgspec.structs.replace(snapshot, hosts=tuple(hosts))


def main() -> None:
    faulty = [
        with_jobs(fleet_store(HOSTS, GPUS, 2, seed=seed, with_faults=True).snapshot())
        for seed in (1, 2)
    ]
    healthy = [
        busy(with_jobs(fleet_store(HOSTS, GPUS, 2, seed=seed, with_faults=False).snapshot()))
        for seed in (1, 2)
    ]
    print(f"{HOSTS} hosts x {GPUS} GPUs, {len(faulty[0].clusters[0].jobs)} Slurm jobs joined")
    for label, snapshots in (("stress fleet", faulty), ("healthy fleet", healthy)):
        measure(label, snapshots)
    fleet = asyncio.run(refresh_times(HOSTS, GPUS, 2, open_host=False))
    print(f"baseline: fleet screen refresh               {describe(fleet)}")


def measure(label: str, snapshots: list[FleetSnapshot]) -> None:
    thresholds = Thresholds()
    state = TrackerState()
    now = snapshots[0].generated_at
    # Thirty minutes of state at one evaluation a minute (the tracker keeps state, not
    # samples, so its size depends on the findings, not on the length of history).
    for minute in range(MINUTES):
        observations, counters = observe(snapshots[minute % 2], thresholds, state.counters, now)
        state, findings = step(state, observations, counters, thresholds, now)
        now += 60
    times, cpu = [], []
    for n in range(REFRESHES):
        start, start_cpu = time.perf_counter(), time.process_time()
        observations, counters = observe(snapshots[n % 2], thresholds, state.counters, now)
        state, findings = step(state, observations, counters, thresholds, now)
        times.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
        now += 1
    severities = {s: sum(f.severity == s for f in findings) for s in ("critical", "warning")}
    print(
        f"rules + tracker, {label:<21} CPU median {statistics.median(cpu) * 1000:.1f}"
        f" ms, max {max(cpu) * 1000:.1f} ms; wall median {statistics.median(times) * 1000:.1f} ms"
        f" (n={REFRESHES}); {len(observations)} observations, findings: "
        f"{severities['critical']} critical, {severities['warning']} warning"
    )


if __name__ == "__main__":
    main()
