"""The drain scenario: four 8-GPU nodes n1..n4 and, on n2, every kind of pod a drain must tell
apart (DaemonSet, mirror, Job, Deployment behind a blocking PDB, emptyDir, bare)."""

from __future__ import annotations

from dataclasses import dataclass

from tests.kubeserver import objects as o
from tests.kubeserver.state import KubeState

NODES = ("n1", "n2", "n3", "n4")
PRODUCT = "NVIDIA-H100-80GB-HBM3"


@dataclass
class DrainScenario:
    state: KubeState
    node: str  # the node to drain
    evictable: set[tuple[str, str]]  # (namespace, name) a drain of `node` evicts
    kept: set[tuple[str, str]]  # pods on `node` a drain leaves alone (DaemonSet, mirror)
    pdb: tuple[str, str]  # (namespace, name) of the PDB that blocks until allowed

    def allow_disruptions(self, allowed: int = 1) -> None:
        """Let the PDB allow `allowed` disruptions now (safe from any thread)."""
        self.state.set_disruptions_allowed(*self.pdb, allowed)

    def allow_after_refusals(self, refusals: int = 1, allowed: int = 1) -> None:
        """Let the PDB allow `allowed` disruptions once it has refused `refusals` evictions."""
        self.state.release_after(*self.pdb, refusals, allowed)


def drain_scenario(state: KubeState | None = None) -> DrainScenario:
    state = state if state is not None else KubeState()
    for name in ("default", "kube-system", "gpu-operator", "ml"):
        state.add(o.namespace(name))
    nodes = {name: state.add(o.node(name, gpus=8, product=PRODUCT)) for name in NODES}

    plugin_labels = {"app": "nvidia-device-plugin"}
    plugin = state.add(
        o.daemonset("nvidia-device-plugin", plugin_labels, namespace="gpu-operator", nodes=4)
    )
    for index, name in enumerate(NODES):
        state.add(
            o.pod(
                f"nvidia-device-plugin-{index}x{index}z",
                node=name,
                namespace="gpu-operator",
                owner=plugin,
                labels=plugin_labels,
            )
        )

    # A static pod's API mirror: the kubelet owns it, through the Node.
    mirror = o.pod(
        "kube-proxy-n2",
        node="n2",
        namespace="kube-system",
        labels={"k8s-app": "kube-proxy"},
        annotations={
            "kubernetes.io/config.mirror": "0f1e2d3c4b5a",
            "kubernetes.io/config.source": "file",
            "kubernetes.io/config.hash": "0f1e2d3c4b5a",
        },
    )
    mirror["metadata"]["ownerReferences"] = [
        {
            "apiVersion": "v1",
            "kind": "Node",
            "name": "n2",
            "uid": nodes["n2"]["metadata"]["uid"],
            "controller": True,
        }
    ]
    state.add(mirror)

    train_labels = {"job-name": "train-42"}
    train = state.add(o.job("train-42", train_labels, namespace="ml", gpus=4))
    state.add(
        o.pod(
            "train-42-hx7kq",
            node="n2",
            namespace="ml",
            owner=train,
            labels=train_labels,
            gpus=4,
            restart="Never",
        )
    )
    other = state.add(o.job("eval-7", {"job-name": "eval-7"}, namespace="ml", gpus=2))
    state.add(
        o.pod(
            "eval-7-p2m4d",
            node="n1",
            namespace="ml",
            owner=other,
            labels={"job-name": "eval-7"},
            gpus=2,
            restart="Never",
        )
    )

    serve_labels = {"app": "serve"}
    serve = state.add(o.deployment("serve", serve_labels, namespace="ml", replicas=2, gpus=1))
    replica_labels = {**serve_labels, "pod-template-hash": "7d4b9c6f5"}
    serve_rs = state.add(
        o.replicaset(
            "serve-7d4b9c6f5", replica_labels, namespace="ml", owner=serve, replicas=2, gpus=1
        )
    )
    state.add(
        o.pod(
            "serve-7d4b9c6f5-abcde",
            node="n2",
            namespace="ml",
            owner=serve_rs,
            labels=replica_labels,
            gpus=1,
        )
    )
    state.add(
        o.pod(
            "serve-7d4b9c6f5-fghij",
            node="n3",
            namespace="ml",
            owner=serve_rs,
            labels=replica_labels,
            gpus=1,
        )
    )
    state.add(o.pdb("serve", serve_labels, namespace="ml", min_available=2))  # allows 0

    cache_labels = {"app": "cache", "pod-template-hash": "5c8d7e9f1"}
    cache = state.add(o.replicaset("cache-5c8d7e9f1", cache_labels, namespace="ml"))
    state.add(
        o.pod(
            "cache-5c8d7e9f1-qrstu",
            node="n2",
            namespace="ml",
            owner=cache,
            labels=cache_labels,
            emptydir=True,
        )
    )

    state.add(o.pod("debug-shell", node="n2", namespace="default", labels={"run": "debug"}))
    state.add(o.pod("notebook", node="n4", namespace="default", labels={"run": "notebook"}, gpus=1))
    return DrainScenario(
        state=state,
        node="n2",
        evictable={
            ("ml", "train-42-hx7kq"),
            ("ml", "serve-7d4b9c6f5-abcde"),
            ("ml", "cache-5c8d7e9f1-qrstu"),
            ("default", "debug-shell"),
        },
        kept={("gpu-operator", "nvidia-device-plugin-1x1z"), ("kube-system", "kube-proxy-n2")},
        pdb=("ml", "serve"),
    )
