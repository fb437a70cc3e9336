"""A Kubernetes action from a front end that confirms in between (the TUI's plan modal).

:func:`prepare` connects, reads the cluster, plans and disconnects; the ``execute`` it returns
connects again, carries the plan out (audit, run, verify, audit) and disconnects. No
connection is held while the operator reads the plan, and one left unconfirmed costs nothing.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from aiconsole.actions.audit import AuditLog
from aiconsole.actions.kubernetes import DrainOptions
from aiconsole.actions.kubernetes_plan import plan_kubernetes
from aiconsole.actions.kubernetes_run import carry_out_on_kubernetes
from aiconsole.actions.plan import Outcome, Plan
from aiconsole.actions.policy import Policy
from aiconsole.kubernetes.api import KubeApi

Execute = Callable[[Plan, Callable[[str], None]], Awaitable[Outcome]]
"""The shape the plan modal calls: (plan, progress) -> outcome."""


@dataclass(frozen=True)
class KubeTarget:
    """Which cluster: a kubeconfig context, the kubeconfig path(s), the request timeout."""

    context: str
    kubeconfig: str
    timeout: float = 5.0


async def prepare(
    target: KubeTarget,
    action: str,
    targets: list[str],
    policy: Policy,
    audit: AuditLog,
    *,
    options: DrainOptions | None = None,
    reason: str | None = None,
    namespace: str = "default",
    verify_timeout: float = 60.0,
) -> tuple[Plan, Execute]:
    api = await KubeApi.connect(target.context, target.kubeconfig, target.timeout)
    try:
        plan, cluster = await plan_kubernetes(
            api, action, targets, policy, options=options, reason=reason, namespace=namespace
        )
    finally:
        await api.close()

    async def execute(confirmed: Plan, progress: Callable[[str], None]) -> Outcome:
        session = await KubeApi.connect(target.context, target.kubeconfig, target.timeout)
        try:
            return await carry_out_on_kubernetes(
                confirmed,
                session,
                cluster,
                policy=policy,
                audit=audit,
                options=options,
                progress=progress,
                verify_timeout=verify_timeout,
            )
        finally:
            await session.close()

    return plan, execute
