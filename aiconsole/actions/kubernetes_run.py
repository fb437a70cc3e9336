"""Carry out a confirmed Kubernetes plan through :func:`aiconsole.actions.execute.carry_out`.

The requests run here; verification re-reads each target: a node's ``spec.unschedulable``,
a drained pod gone from its node (404, a new uid, or another node), a restarted pod's owner
with a new pod.
"""

from __future__ import annotations

import asyncio

from aiconsole.actions.audit import AuditLog
from aiconsole.actions.execute import Progress, carry_out
from aiconsole.actions.kubernetes import DrainOptions, pod_key
from aiconsole.actions.plan import Outcome, Plan, TargetResult
from aiconsole.actions.policy import Policy
from aiconsole.kubernetes import operations
from aiconsole.kubernetes.api import ApiError, KubeApi
from aiconsole.kubernetes.objects import pod_from
from aiconsole.model import KubeCluster, KubePod


class KubeVerifier:
    def __init__(self, api: KubeApi) -> None:
        self.api = api

    async def check(self, plan: Plan) -> list[TargetResult]:
        return [await self._one(plan, target) for target in plan.targets]

    async def _one(self, plan: Plan, target: str) -> TargetResult:
        if "/" not in target:
            node = await operations.read_node(self.api, target)
            if node is None:
                return TargetResult(target, False, "missing", "node no longer listed")
            wanted = plan.action != "uncordon"
            return TargetResult(target, node.unschedulable == wanted, node.summary)
        namespace, name = target.split("/", 1)
        first, second = (plan.before.get(target, "") + " ").split(" ")[:2]
        if plan.action == "restart":
            return await self._replaced(target, namespace, uid=first, owner_uid=second)
        now = await operations.read_pod(self.api, namespace, name)
        old = KubePod(namespace=namespace, name=name, uid=first, phase="Running", node=second)
        how = operations.gone(old, now, second)
        if how is not None:
            return TargetResult(target, True, how)
        state = f"{now.phase if now else '?'} on {second}"
        return TargetResult(target, False, state, "still on the node")

    async def _replaced(
        self, target: str, namespace: str, uid: str, owner_uid: str
    ) -> TargetResult:
        raw = await self.api.request("GET", f"/api/v1/namespaces/{namespace}/pods")
        for item in raw.get("items") or []:
            pod = pod_from(item)
            if pod and pod.owner_uid == owner_uid and pod.uid != uid and not pod.deleting:
                return TargetResult(target, True, f"replaced by {pod_key(pod)} ({pod.phase})")
        return TargetResult(target, False, "no new pod yet", "its owner has not recreated it")


async def _cordon_all(
    api: KubeApi, nodes: list[str], on: bool, reason: str | None, progress: Progress
) -> tuple[bool, str]:
    for name in nodes:
        try:
            await operations.set_unschedulable(api, name, on, reason)
        except ApiError as error:
            return False, f"{'cordon' if on else 'uncordon'} {name}: {error}"
        progress(f"{name}: {'cordoned' if on else 'uncordoned'}")
    return True, ""


async def _drain(
    api: KubeApi,
    plan: Plan,
    cluster: KubeCluster,
    options: DrainOptions,
    progress: Progress,
) -> tuple[bool, str]:
    nodes = [t for t in plan.targets if "/" not in t]
    ok, error = await _cordon_all(api, nodes, True, plan.reason, progress)
    if not ok:
        return ok, error
    pods = {pod_key(pod): pod for pod in cluster.pods}
    loop = asyncio.get_running_loop()
    deadline = None if options.timeout is None else loop.time() + options.timeout
    # One task per pod, as kubectl: a pod held by a PDB does not hold up the others.
    await asyncio.gather(
        *(
            operations.evict_until_gone(
                api,
                pods[target],
                plan.before[target].split(" ")[1],
                grace_period=options.grace_period,
                deadline=deadline,
                progress=progress,
            )
            for target in plan.targets
            if target in pods and target in plan.before
        )
    )
    return True, ""  # what left and what did not is verification's to say, per pod


async def _restart(
    api: KubeApi, plan: Plan, cluster: KubeCluster, progress: Progress
) -> tuple[bool, str]:
    pods = {pod_key(pod): pod for pod in cluster.pods}
    errors = []
    for target in plan.targets:
        try:
            await operations.delete_pod(api, pods[target], None)
            progress(f"{target}: deleted; waiting for its replacement")
        except ApiError as error:
            if error.status != 404:
                errors.append(f"{target}: {error}")
    return not errors, "; ".join(errors)


async def carry_out_on_kubernetes(
    plan: Plan,
    api: KubeApi,
    cluster: KubeCluster,
    *,
    policy: Policy,
    audit: AuditLog,
    options: DrainOptions | None = None,
    progress: Progress = lambda _line: None,
    verify_timeout: float = 60.0,
) -> Outcome:
    """``cluster``: as read for the plan (the pods to evict or delete, with their uids)."""

    async def run(_requests: list[str]) -> tuple[bool, str]:
        if plan.action in ("cordon", "uncordon"):
            on = plan.action == "cordon"
            return await _cordon_all(api, list(plan.targets), on, plan.reason, progress)
        if plan.action == "drain":
            return await _drain(api, plan, cluster, options or DrainOptions(), progress)
        if plan.action == "restart":
            return await _restart(api, plan, cluster, progress)
        return False, f"unknown Kubernetes action {plan.action!r}"

    return await carry_out(
        plan,
        policy=policy,
        audit=audit,
        run=run,
        verifier=KubeVerifier(api),
        progress=progress,
        # A drain has already waited for each pod (up to its timeout): verification confirms.
        verify_timeout=min(verify_timeout, 5.0) if plan.action == "drain" else verify_timeout,
    )
