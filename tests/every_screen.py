"""One fixed console for pictures and layout tests of every screen: the synthetic fleet
(tests/synthetic.py, hosts built from the recorded GPU node) with a Slurm cluster and a
Kubernetes cluster over the same hosts, findings judged on the fixed clock, and history.

Names and reasons are long on purpose: they are what gets cut at 80 columns.
"""

from __future__ import annotations

from aiconsole.app import ConsoleApp
from aiconsole.collectors.slurm import SlurmCollector
from aiconsole.fleet import Fleet
from aiconsole.health import Thresholds
from aiconsole.health.monitor import HealthMonitor
from aiconsole.model import KubeCluster, KubeNode, KubePod, SlurmCluster, SlurmJob, SlurmNode
from aiconsole.slurm.runner import LocalRunner
from aiconsole.store import FleetStore
from tests.synthetic import NOW, fleet_store, seed_history

NODE_REASON = "xid 79 on GPU 3 (job 81234 alice)"
JOBS = (
    SlurmJob(
        job_id="81234",
        name="llama-70b-pretrain",
        user="alice",
        state="RUNNING",
        nodes=("gpu-node-05", "gpu-node-06"),
        gpu_indices={"gpu-node-05": (0, 1, 2, 3), "gpu-node-06": (0, 1, 2, 3)},
        time_used_s=7_380,
        restarts=2,
    ),
    SlurmJob(
        job_id="81240",
        name="vllm-serve",
        user="bob",
        state="RUNNING",
        nodes=("gpu-node-01",),
        gpu_indices={"gpu-node-01": (4, 5, 6, 7)},
        time_used_s=312,
        restarts=0,
    ),
    SlurmJob(
        job_id="81251",
        name="nccl-allreduce-sweep",
        user="carol",
        state="PENDING",
        reason="Resources",
        gpus_per_node=8,
        time_used_s=0,
        restarts=0,
    ),
)


def slurm_cluster() -> SlurmCluster:
    nodes = tuple(
        SlurmNode(
            name=f"gpu-node-0{n}",
            state="mixed" if n != 5 else "drained",
            summary="mixed" if n != 5 else "drained",
            reason=NODE_REASON if n == 5 else None,
            reason_user="root" if n == 5 else None,
            reason_time="2026-11-21T13:25:39" if n == 5 else None,
            gpus_total=8,
            gpus_used=4 if n in (1, 5, 6) else 0,
            cpus_total=128,
            cpus_allocated=32 if n in (1, 5, 6) else 0,
        )
        for n in range(1, 7)
    )
    return SlurmCluster(name="prod", status="ok", nodes=nodes, jobs=JOBS, collected_at=NOW)


def kube_cluster() -> KubeCluster:
    nodes = tuple(
        KubeNode(
            name=f"gpu-node-0{n}",
            summary="Ready" if n != 3 else "NotReady",
            ready=n != 3,
            reason="kubelet stopped posting node status" if n == 3 else None,
            gpu_product="NVIDIA-H100-80GB-HBM3",
            gpu_capacity={"nvidia.com/gpu": 8},
            gpu_allocatable={"nvidia.com/gpu": 8},
            gpu_requested={"nvidia.com/gpu": 2 if n == 1 else 0},
        )
        for n in range(1, 4)
    )
    pods = (
        KubePod(
            namespace="inference",
            name="llama-serve-7d9f8c6b5-x2k4p",
            uid="u1",
            node="gpu-node-01",
            phase="Running",
            owner_kind="ReplicaSet",
            owner_name="llama-serve-7d9f8c6b5",
            gpus={"nvidia.com/gpu": 2},
            restarts=3,
            created_at=NOW - 5_400,
        ),
        KubePod(
            namespace="research",
            name="notebook-erin",
            uid="u2",
            node="gpu-node-01",
            phase="Running",
            restarts=0,
            created_at=NOW - 600,
        ),
    )
    return KubeCluster(name="kind-gpu", status="ok", collected_at=NOW, nodes=nodes, pods=pods)


def every_screen_app() -> ConsoleApp:
    """The console over the fixed fleet, cluster and context; nothing polls."""
    store: FleetStore = fleet_store()
    collector = SlurmCollector("prod", LocalRunner(), store)  # for the action keys; never polls
    store.put_cluster(slurm_cluster())
    store.put_kube(kube_cluster())
    fleet = Fleet(
        store,
        clusters=[collector],
        health=HealthMonitor(Thresholds(raise_after=1), clock=lambda: NOW),
    )
    app = ConsoleApp(fleet, collect=False)
    seed_history(app.gpu_history, store)
    return app
