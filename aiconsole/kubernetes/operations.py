"""The requests behind cordon, drain and restart, each one structured (never a command line).

Names reaching here were validated as RFC 1123 names, so they are safe in a URL path.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable
from typing import Any

from aiconsole.kubernetes.api import ApiError, KubeApi, KubeUnavailable
from aiconsole.kubernetes.drain import Budget, budget_from, budgets_for, gpus_text
from aiconsole.kubernetes.objects import REASON_ANNOTATION, node_from, pod_from, with_requests
from aiconsole.model import KubeCluster, KubeNode, KubePod

STRATEGIC = "application/strategic-merge-patch+json"
Progress = Callable[[str], None]


def node_path(name: str) -> str:
    return f"/api/v1/nodes/{name}"


def pod_path(namespace: str, name: str) -> str:
    return f"/api/v1/namespaces/{namespace}/pods/{name}"


def cordon_body(unschedulable: bool, reason: str | None) -> dict[str, Any]:
    """The strategic-merge patch kubectl sends, plus the reason as an annotation.

    Uncordoning removes the annotation (``null`` deletes a key in a merge patch)."""
    body: dict[str, Any] = {"spec": {"unschedulable": True if unschedulable else None}}
    if reason is not None or not unschedulable:
        body["metadata"] = {"annotations": {REASON_ANNOTATION: reason}}
    return body


def describe_patch(name: str, unschedulable: bool, reason: str | None) -> str:
    text = f"PATCH {node_path(name)} (strategic merge) spec.unschedulable="
    text += "true" if unschedulable else "null"
    if reason is not None:
        text += f", annotation {REASON_ANNOTATION}"
    return text


async def read_cluster(api: KubeApi, nodes: list[str] | None = None) -> KubeCluster:
    """Every node, and the pods on ``nodes`` (all pods when None), read once now."""
    raw_nodes = await api.request("GET", "/api/v1/nodes")
    node_list = [n for raw in raw_nodes.get("items") or [] if (n := node_from(raw))]
    pods: list[KubePod] = []
    selectors = [f"spec.nodeName={name}" for name in nodes] if nodes is not None else [None]
    for selector in selectors:
        query = {"fieldSelector": selector} if selector else None
        raw_pods = await api.request("GET", "/api/v1/pods", query=query)
        pods.extend(p for raw in raw_pods.get("items") or [] if (p := pod_from(raw)))
    return KubeCluster(
        name=api.context,
        status="ok",
        server=api.server,
        nodes=tuple(with_requests(node_list, pods)),
        pods=tuple(pods),
    )


async def read_budgets(api: KubeApi) -> list[Budget]:
    raw = await api.request("GET", "/apis/policy/v1/poddisruptionbudgets")
    return [b for item in raw.get("items") or [] if (b := budget_from(item))]


async def daemonset_exists(api: KubeApi, namespace: str, name: str) -> bool:
    try:
        await api.request("GET", f"/apis/apps/v1/namespaces/{namespace}/daemonsets/{name}")
    except ApiError as error:
        if error.status == 404:
            return False
        raise
    return True


async def read_pod(api: KubeApi, namespace: str, name: str) -> KubePod | None:
    try:
        return pod_from(await api.request("GET", pod_path(namespace, name)))
    except ApiError as error:
        if error.status == 404:
            return None
        raise


async def read_node(api: KubeApi, name: str) -> KubeNode | None:
    try:
        return node_from(await api.request("GET", node_path(name)))
    except ApiError as error:
        if error.status == 404:
            return None
        raise


async def set_unschedulable(
    api: KubeApi, name: str, unschedulable: bool, reason: str | None
) -> None:
    await api.request(
        "PATCH", node_path(name), body=cordon_body(unschedulable, reason), content_type=STRATEGIC
    )


def _delete_options(grace_period: int | None) -> dict[str, Any]:
    return {} if grace_period is None else {"gracePeriodSeconds": grace_period}


async def delete_pod(api: KubeApi, pod: KubePod, grace_period: int | None) -> None:
    body = {"apiVersion": "v1", "kind": "DeleteOptions", **_delete_options(grace_period)}
    # Preconditions: delete this pod, not a namesake created since it was read.
    body["preconditions"] = {"uid": pod.uid}
    await api.request("DELETE", pod_path(pod.namespace, pod.name), body=body)


def gone(pod: KubePod, now: KubePod | None, node: str | None) -> str | None:
    """How ``pod`` left (``node``: the node it was drained from), or None while it is still
    there. A new pod with the same name (a StatefulSet's) is a different pod: gone."""
    if now is None:
        return "gone"
    if now.uid != pod.uid:
        return f"replaced (new pod {now.uid[:8]})"
    if node is not None and now.node != node:
        return f"moved to {now.node or 'no node'}"
    return None


async def evict_until_gone(
    api: KubeApi,
    pod: KubePod,
    node: str,
    *,
    grace_period: int | None,
    deadline: float | None,
    progress: Progress,
    poll: float = 1.0,
    backoff_max: float = 5.0,
) -> tuple[bool, str]:
    """Evict ``pod`` (delete it when finished), retrying PDB refusals with backoff, then wait
    until it is gone from ``node``. Returns (gone, state in words)."""
    loop = asyncio.get_running_loop()
    label = f"{pod.namespace}/{pod.name}"

    def left() -> float | None:
        return None if deadline is None else max(0.0, deadline - loop.time())

    backoff = 0.5
    attempt = 0
    finished = pod.phase in ("Succeeded", "Failed")
    body = {
        "apiVersion": "policy/v1",
        "kind": "Eviction",
        "metadata": {"name": pod.name, "namespace": pod.namespace},
        "deleteOptions": {**_delete_options(grace_period), "preconditions": {"uid": pod.uid}},
    }
    progress(f"{label}: {'deleting' if finished else 'evicting'} ({gpus_text(pod)})")
    while True:
        attempt += 1
        try:
            if finished:
                await delete_pod(api, pod, grace_period)
            else:
                path = pod_path(pod.namespace, pod.name) + "/eviction"
                await api.request("POST", path, body=body)
            break
        except ApiError as error:
            if error.status == 404:
                progress(f"{label}: already gone")
                return True, "gone"
            if error.status == 409:  # the uid precondition failed: a new pod took the name
                progress(f"{label}: replaced by a new pod of that name")
                return True, "replaced"
            if error.status != 429:
                progress(f"{label}: eviction failed: {error}")
                return False, f"eviction failed: {error}"
            # Before retrying, look: a pod that is gone, replaced or moved to another node
            # is no longer this drain's business (kubectl retries those too).
            how = gone(pod, await read_pod(api, pod.namespace, pod.name), node)
            if how is not None:
                progress(f"{label}: {how}")
                return True, how
            remaining = left()
            if remaining is not None and remaining <= 0:
                progress(f"{label}: still blocked at the timeout: {error.message}")
                return False, f"blocked at the timeout: {error.message}"
            blocker = await _blocker(api, pod)
            delay = min(backoff, remaining) if remaining is not None else backoff
            budget_left = "" if remaining is None else f", {remaining:.0f} s left"
            progress(
                f"{label}: blocked by {blocker}; retry {attempt} in {delay:.1f} s{budget_left}"
            )
            await asyncio.sleep(delay * (0.8 + random.random() * 0.4))
            backoff = min(backoff * 2, backoff_max)
    progress(f"{label}: {'deleted' if finished else 'eviction accepted'}; waiting until it is gone")
    while True:
        now = await read_pod(api, pod.namespace, pod.name)
        how = gone(pod, now, node)
        if how is not None:
            progress(f"{label}: {how}")
            return True, how
        remaining = left()
        if remaining is not None and remaining <= 0:
            return False, f"still {now.phase if now else '?'} on {node} at the timeout"
        await asyncio.sleep(poll if remaining is None else min(poll, remaining))


async def _blocker(api: KubeApi, pod: KubePod) -> str:
    """Name the PodDisruptionBudget(s) refusing the eviction, with what they allow now."""
    try:
        budgets = budgets_for(pod, await read_budgets(api))
    except (ApiError, KubeUnavailable):
        budgets = []
    if not budgets:
        return "a PodDisruptionBudget (429 Too Many Requests)"
    return ", ".join(
        f"PodDisruptionBudget {b.label} (disruptions allowed now: {b.disruptions_allowed})"
        for b in budgets
    )
