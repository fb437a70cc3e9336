"""Carry out a Kubernetes rebalance plan through the one machinery, and verify it.

Run: cordon the relieved nodes (kubectl's patch), then evict each pod by the eviction path
``drain`` uses (PodDisruptionBudgets honoured by the API server, refusals retried until a
short deadline). Verify, per pod: gone from its node, and a new pod of the same controller
running on another node; per node: cordoned.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from aiconsole.actions.audit import AuditLog
from aiconsole.actions.execute import Progress, carry_out
from aiconsole.actions.kubernetes_run import KubeVerifier, _cordon_all
from aiconsole.actions.kubernetes_session import Execute, KubeTarget
from aiconsole.actions.plan import Outcome, Plan, TargetResult
from aiconsole.actions.policy import Policy
from aiconsole.actions.rebalance_kube import kube_rebalance_plan
from aiconsole.kubernetes import operations
from aiconsole.kubernetes.api import KubeApi
from aiconsole.kubernetes.drain import Budget
from aiconsole.kubernetes.objects import pod_from
from aiconsole.model import Finding, FleetSnapshot, KubeCluster, KubePod
from aiconsole.rebalance.kube import KubeLimits
from aiconsole.rebalance.moves import Result


@dataclass(frozen=True)
class Before:
    uid: str
    node: str
    owner_uid: str

    @classmethod
    def of(cls, plan: Plan, target: str) -> Before:
        uid, node, owner = [*plan.before.get(target, "").split(" "), "", "", ""][:3]
        return cls(uid, node, owner)


class RebalanceVerifier(KubeVerifier):
    """Nodes as the cordon verifier; pods: evicted and recreated elsewhere by their owner."""

    async def _one(self, plan: Plan, target: str) -> TargetResult:
        if "/" not in target:
            return await super()._one(plan, target)
        namespace, name = target.split("/", 1)
        was = Before.of(plan, target)
        old = KubePod(namespace=namespace, name=name, uid=was.uid, phase="Running", node=was.node)
        if operations.gone(old, await operations.read_pod(self.api, namespace, name), was.node):
            return await self._elsewhere(target, namespace, was)
        return TargetResult(target, False, f"still on {was.node}", "not evicted")

    async def _elsewhere(self, target: str, namespace: str, was: Before) -> TargetResult:
        raw = await self.api.request("GET", f"/api/v1/namespaces/{namespace}/pods")
        pending = None
        for item in raw.get("items") or []:
            pod = pod_from(item)
            if pod is None or pod.owner_uid != was.owner_uid or pod.uid == was.uid:
                continue
            if pod.deleting:
                continue
            if pod.node == was.node:
                return TargetResult(
                    target, False, f"recreated on {was.node}", "back on the node it left"
                )
            if pod.node is not None and pod.phase == "Running":
                return TargetResult(target, True, f"recreated as {pod.name} on {pod.node}")
            pending = pod
        if pending is not None:
            state = f"recreated as {pending.name}, {pending.phase}"
            return TargetResult(target, False, state, "not running on another node yet")
        return TargetResult(
            target, False, "evicted, no new pod yet", "its owner has not recreated it"
        )


async def _evict_all(
    api: KubeApi, plan: Plan, cluster: KubeCluster, timeout: float, progress: Progress
) -> tuple[bool, str]:
    nodes = [t for t in plan.targets if "/" not in t]
    ok, error = await _cordon_all(api, nodes, True, plan.reason, progress)
    if not ok:
        return ok, error
    pods = {f"{pod.namespace}/{pod.name}": pod for pod in cluster.pods}
    deadline = asyncio.get_running_loop().time() + timeout
    await asyncio.gather(
        *(
            operations.evict_until_gone(
                api,
                pods[target],
                Before.of(plan, target).node,
                grace_period=None,
                deadline=deadline,
                progress=progress,
            )
            for target in plan.targets
            if target in pods and target in plan.before
        )
    )
    return True, ""  # which pod left and came back elsewhere is verification's to say


async def carry_out_rebalance(
    plan: Plan,
    api: KubeApi,
    cluster: KubeCluster,
    *,
    policy: Policy,
    audit: AuditLog,
    progress: Progress = lambda _line: None,
    eviction_timeout: float = 60.0,
    verify_timeout: float = 60.0,
) -> Outcome:
    """``cluster``: as read for the plan (the pods to evict, with their uids)."""

    async def run(_requests: list[str]) -> tuple[bool, str]:
        return await _evict_all(api, plan, cluster, eviction_timeout, progress)

    return await carry_out(
        plan,
        policy=policy,
        audit=audit,
        run=run,
        verifier=RebalanceVerifier(api),
        progress=progress,
        verify_timeout=verify_timeout,
    )


async def read_for_rebalance(api: KubeApi) -> tuple[KubeCluster, list[Budget]]:
    """Every node and pod, and the PodDisruptionBudgets, as they are now."""
    return await operations.read_cluster(api, None), await operations.read_budgets(api)


async def prepare(
    target: KubeTarget,
    policy_name: str,
    fleet: FleetSnapshot,
    findings: Sequence[Finding],
    policy: Policy,
    audit: AuditLog,
    *,
    idle_action: str = "notify",
    min_idle_s: float = 0.0,
    limits: KubeLimits | None = None,
    reason: str | None = None,
    namespace: str | None = None,
    verify_timeout: float = 60.0,
) -> tuple[Result, Plan, Execute]:
    """Read the cluster and its budgets now, plan, and return how to carry the plan out
    (connecting again then: no connection is held while the operator reads the plan)."""
    api = await KubeApi.connect(target.context, target.kubeconfig, target.timeout)
    try:
        cluster, budgets = await read_for_rebalance(api)
    finally:
        await api.close()
    result, plan = kube_rebalance_plan(
        cluster,
        fleet,
        findings,
        policy_name,
        policy=policy,
        budgets=budgets,
        idle_action=idle_action,
        min_idle_s=min_idle_s,
        limits=limits,
        reason=reason,
        namespace=namespace,
    )

    async def execute(confirmed: Plan, progress: Callable[[str], None]) -> Outcome:
        session = await KubeApi.connect(target.context, target.kubeconfig, target.timeout)
        try:
            return await carry_out_rebalance(
                confirmed,
                session,
                cluster,
                policy=policy,
                audit=audit,
                progress=progress,
                verify_timeout=verify_timeout,
            )
        finally:
            await session.close()

    return result, plan, execute
