"""Findings name the workload from the GPU processes' cgroups when no scheduler says who
holds the GPU, name pods from the Kubernetes reader, and judge Kubernetes nodes."""

from __future__ import annotations

from aiconsole.health import judge
from aiconsole.model import (
    FleetSnapshot,
    GpuProcess,
    KubeCluster,
    KubeNode,
    KubePod,
    ProcessWorkload,
)
from tests.test_health_rules import NOW, cluster, gpu, host, snap, xid

UID = "0f4c1e2a-7b3d-4c5e-9f1a-2b3c4d5e6f70"


def pod_process(pid: int = 4242) -> GpuProcess:
    return GpuProcess(
        pid=pid,
        user="root",
        command="python serve.py",
        workload=ProcessWorkload(kind="pod", id=UID, runtime="containerd"),
    )


def kube(*nodes: KubeNode, pods: tuple[KubePod, ...] = ()) -> KubeCluster:
    return KubeCluster(name="prod-a", status="ok", nodes=nodes, pods=pods)


POD = KubePod(
    namespace="ml",
    name="serve-7d9f-x2",
    uid=UID,
    node="gpu07",
    phase="Running",
    owner_kind="ReplicaSet",
    owner_name="serve-7d9f",
)


def test_with_no_scheduler_the_cgroups_job_id_is_named() -> None:
    process = GpuProcess(pid=1, user="alice", workload=ProcessWorkload(kind="slurm_job", id="777"))
    (finding,) = judge(snap(host(gpus=(gpu(3, processes=(process,)),), xids=(xid(79, 3),))))
    assert finding.summary.endswith("on GPU 3 (job 777 alice)")
    assert [(w.kind, w.id, w.user) for w in finding.workloads] == [("slurm_job", "777", "alice")]


def test_a_pod_uid_becomes_the_pod_its_namespace_and_owner() -> None:
    node = KubeNode(name="gpu07", summary="Ready", ready=True)
    snapshot = FleetSnapshot(
        generated_at=NOW,
        hosts=(host(gpus=(gpu(3, processes=(pod_process(),)),), xids=(xid(79, 3),)),),
        kubernetes=(kube(node, pods=(POD,)),),
    )
    (finding,) = judge(snapshot)
    assert finding.summary.endswith("on GPU 3 (pod ml/serve-7d9f-x2)")
    (workload,) = finding.workloads
    assert (workload.cluster, workload.namespace, workload.owner) == (
        "prod-a",
        "ml",
        "ReplicaSet/serve-7d9f",
    )
    # Without Kubernetes configured, the UID still says which pod.
    alone = judge(snap(host(gpus=(gpu(3, processes=(pod_process(),)),), xids=(xid(79, 3),))))
    assert alone[0].summary.endswith(f"(pod {UID})")


def test_slurm_s_own_word_wins_and_a_job_process_is_no_orphan() -> None:
    from tests.test_health_rules import JOB

    process = GpuProcess(pid=9, user="bob", workload=ProcessWorkload(kind="slurm_job", id="555"))
    snapshot = snap(
        host(gpus=(gpu(3, processes=(process,)), gpu(5, processes=(process,)))),
        clusters=(cluster(JOB),),
    )
    # GPU 3 is held by job 81234 per scontrol; GPU 5's process is in job 555's cgroup: neither
    # is an orphan (the indices Slurm printed may lag the cgroup).
    assert [f.rule for f in judge(snapshot)] == []


def test_a_not_ready_kubernetes_node_is_critical_with_its_pods() -> None:
    sick = KubeNode(name="gpu07", summary="NotReady", ready=False)
    pressed = KubeNode(name="gpu08", summary="Ready", ready=True, problems=("DiskPressure: low",))
    fine = KubeNode(name="gpu09", summary="Ready", ready=True)
    snapshot = FleetSnapshot(generated_at=NOW, kubernetes=(kube(sick, pressed, fine, pods=(POD,)),))
    findings = judge(snapshot)
    assert [(f.rule, f.severity, f.subject.name) for f in findings] == [
        ("k8s.node_not_ready", "critical", "gpu07"),
        ("k8s.node_condition", "warning", "gpu08"),
    ]
    assert findings[0].summary == "Kubernetes node gpu07 NotReady (1 pods)"
    assert [w.name for w in findings[0].workloads] == ["serve-7d9f-x2"]
