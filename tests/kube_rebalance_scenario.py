"""The Kubernetes rebalance scenario: a hot node holding every kind of GPU pod a rebalance
must tell apart, and three cool nodes, one of them tainted for another team.

    hot  (8 GPUs, 7 requested): batch (Job, 1), train (Deployment's ReplicaSet, 2),
         serve-a (ReplicaSet behind PDB ml/serve that allows 0, 1), notebook (bare, 1),
         burn (DaemonSet, 1), pinned (ReplicaSet, 1, nodeSelector pool=research and no
         toleration of n2's taint: fits nowhere)
    n2   (8, taint dedicated=research:NoSchedule, label pool=research): 5 requested
    n3   (8): serve-b 1 + fill-3 3 requested     n4 (8): fill-6 6 requested

Best fit alone would send train (2 GPUs) to n2 (3 free); its taint forbids that: n3.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tests.kubeserver import KubeState
from tests.kubeserver import objects as o

Obj = dict[str, Any]
TAINT = {"key": "dedicated", "value": "research", "effect": "NoSchedule"}


@dataclass
class RebalanceScenario:
    state: KubeState
    hot: str
    owners: dict[str, Obj]
    """Pod role (``batch``, ``train``, ...) -> its controller object as stored."""

    def pod_name(self, role: str) -> str:
        return f"{role}-pod"


def _replicated(
    state: KubeState, name: str, namespace: str, node: str, gpus: int, **spec: Any
) -> Obj:
    labels = {"app": name}
    owner = state.add(o.replicaset(f"{name}-rs", labels, namespace=namespace, gpus=gpus))
    pod = o.pod(
        f"{name}-pod", node=node, namespace=namespace, owner=owner, labels=labels, gpus=gpus
    )
    pod["spec"].update(spec)
    state.add(pod)
    return owner


def rebalance_scenario(hot: str = "n1") -> RebalanceScenario:
    state = KubeState()
    for name in ("default", "ml", "research", "gpu-operator"):
        state.add(o.namespace(name))
    state.add(o.node(hot, gpus=8))
    tainted = o.node("n2", gpus=8, labels={"pool": "research"})
    tainted["spec"]["taints"] = [dict(TAINT)]
    state.add(tainted)
    for name in ("n3", "n4"):
        state.add(o.node(name, gpus=8))
    owners: dict[str, Obj] = {}

    batch = state.add(o.job("batch", {"job-name": "batch"}, namespace="ml", gpus=1))
    state.add(
        o.pod(
            "batch-pod",
            node=hot,
            namespace="ml",
            owner=batch,
            labels={"job-name": "batch"},
            gpus=1,
            restart="Never",
        )
    )
    owners["batch"] = batch

    deployment = state.add(o.deployment("train", {"app": "train"}, namespace="ml", gpus=2))
    train = state.add(
        o.replicaset("train-rs", {"app": "train"}, namespace="ml", owner=deployment, gpus=2)
    )
    state.add(
        o.pod("train-pod", node=hot, namespace="ml", owner=train, labels={"app": "train"}, gpus=2)
    )
    owners["train"] = train

    serve = state.add(
        o.replicaset("serve-rs", {"app": "serve"}, namespace="ml", replicas=2, gpus=1)
    )
    for suffix, node in (("a", hot), ("b", "n3")):
        state.add(
            o.pod(
                f"serve-{suffix}-pod",
                node=node,
                namespace="ml",
                owner=serve,
                labels={"app": "serve"},
                gpus=1,
            )
        )
    state.add(o.pdb("serve", {"app": "serve"}, namespace="ml", min_available=2))  # allows 0
    owners["serve"] = serve

    state.add(o.pod("notebook-pod", node=hot, labels={"run": "notebook"}, gpus=1))
    burn = state.add(o.daemonset("burn", {"app": "burn"}, namespace="gpu-operator", nodes=4))
    state.add(
        o.pod(
            "burn-pod",
            node=hot,
            namespace="gpu-operator",
            owner=burn,
            labels={"app": "burn"},
            gpus=1,
        )
    )
    owners["pinned"] = _replicated(
        state, "pinned", "research", hot, 1, nodeSelector={"pool": "research"}
    )
    toleration = {"key": "dedicated", "operator": "Equal", "value": "research"}
    owners["research"] = _replicated(
        state, "research", "research", "n2", 5, tolerations=[{**toleration, "effect": "NoSchedule"}]
    )
    owners["fill-3"] = _replicated(state, "fill-3", "default", "n3", 3)
    owners["fill-6"] = _replicated(state, "fill-6", "default", "n4", 6)
    return RebalanceScenario(state, hot, owners)
