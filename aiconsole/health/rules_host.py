"""Host, network, storage and scheduler rules.

Counters that only grow (IB symbol errors, NIC errors) are judged by how much they grew since
the previous evaluation, never by their size: a port that logged errors a month ago is fine
today, a port whose count moves is not.
"""

from __future__ import annotations

from collections.abc import Iterator

from aiconsole.health.context import describe, jobs_on
from aiconsole.health.observe import Context, Observation, host_subject
from aiconsole.model import HostState, KubeCluster, SlurmCluster, Subject, Workload

# Statuses where the console cannot see the host at all, and what to say.
UNSEEN = {
    "unreachable": "unreachable",
    "auth_failed": "SSH authentication failed",
    "host_key_refused": "host key refused",
    "probe_error": "probe failing",
}


def host_status(ctx: Context, state: HostState, counters: dict[str, int]) -> Iterator[Observation]:
    """A host the console cannot read, or whose data stopped arriving."""
    if state.status == "ok" and (state.age_s or 0.0) <= ctx.thresholds.stale_after_s:
        return
    workloads = ctx.join.host_workloads(state.name)
    hits = describe(workloads)
    if state.status in UNSEEN:
        yield Observation(
            rule="host.unreachable",
            severity="critical",
            subject=host_subject(state),
            summary=f"{UNSEEN[state.status]}: {state.reason or 'no reason given'}"
            + (f" ({hits})" if hits else ""),
            evidence={"status": state.status, "reason": state.reason or ""},
            workloads=workloads,
            action="investigate",
        )
    elif state.status == "stale" or (
        state.age_s is not None and state.age_s > ctx.thresholds.stale_after_s
    ):
        age = "unknown" if state.age_s is None else f"{state.age_s:.0f} s"
        yield Observation(
            rule="host.stale",
            severity="warning",
            subject=host_subject(state),
            summary=f"no fresh data for {age}" + (f" ({hits})" if hits else ""),
            evidence={"status": state.status, "age_s": age},
            workloads=workloads,
            action="investigate",
        )


def network(ctx: Context, state: HostState, counters: dict[str, int]) -> Iterator[Observation]:
    """IB ports down or logging errors; NICs logging errors."""
    assert state.sample is not None
    for port in state.sample.ib_ports:
        name = f"{port.device}/{port.port}"
        subject = Subject(kind="ib_port", host=state.name, name=name)
        if port.link_layer != "Ethernet" and port.state is not None and port.state != "ACTIVE":
            yield Observation(
                rule="ib.port_down",
                severity="warning",
                subject=subject,
                summary=f"IB port {name} {port.state} ({port.phys_state or 'phys state unknown'})",
                evidence={"state": port.state, "phys_state": port.phys_state or ""},
                action="investigate",
            )
        for counter in ("symbol_errors", "link_downed"):
            grew = ctx.rising(f"{state.name}/ib/{name}/{counter}", getattr(port, counter), counters)
            if grew:
                yield Observation(
                    rule=f"ib.{counter}_rising",
                    severity="warning",
                    subject=subject,
                    summary=f"IB port {name}: {counter.replace('_', ' ')} +{grew}",
                    evidence={counter: str(getattr(port, counter)), "increase": str(grew)},
                    action="investigate",
                )
    for nic in state.sample.nics:
        if nic.virtual:
            continue
        for counter in ("rx_errors", "tx_errors"):
            grew = ctx.rising(
                f"{state.name}/nic/{nic.name}/{counter}", getattr(nic, counter), counters
            )
            if grew:
                yield Observation(
                    rule="nic.errors_rising",
                    severity="warning",
                    subject=Subject(kind="nic", host=state.name, name=nic.name),
                    summary=f"NIC {nic.name}: {counter.replace('_', ' ')} +{grew}",
                    evidence={counter: str(getattr(nic, counter)), "increase": str(grew)},
                    action="investigate",
                )


def _not_answering(reasons: dict[str, str]) -> str | None:
    for reason in reasons.values():
        lowered = reason.lower()
        if "did not answer" in lowered or "hung" in lowered or "timed out" in lowered:
            return reason
    return None


def filesystems(ctx: Context, state: HostState, counters: dict[str, int]) -> Iterator[Observation]:
    """A filesystem that does not answer (jobs hang on it), or one nearly full."""
    assert state.sample is not None
    for fs in state.sample.filesystems:
        subject = Subject(kind="mount", host=state.name, name=fs.mount)
        hung = _not_answering(fs.unavailable)
        if hung is not None:
            workloads = ctx.join.host_workloads(state.name)
            yield Observation(
                rule="fs.not_answering",
                severity="critical",
                subject=subject,
                summary=f"{fs.mount} ({fs.fstype}) not answering: {hung}",
                evidence={"fstype": fs.fstype, "reason": hung},
                workloads=workloads,
                action="drain",
            )
            continue
        if fs.size_bytes and fs.free_bytes is not None:
            used = 100.0 * (fs.size_bytes - fs.free_bytes) / fs.size_bytes
            if used >= ctx.thresholds.filesystem_full_percent:
                yield Observation(
                    rule="fs.full",
                    severity="warning",
                    subject=subject,
                    summary=f"{fs.mount} {used:.0f} % full",
                    evidence={"used_percent": f"{used:.1f}", "free_bytes": str(fs.free_bytes)},
                    action="clean",
                )


HOST_RULES = (network, filesystems)


def slurm_nodes(ctx: Context, cluster: SlurmCluster) -> Iterator[Observation]:
    """A node slurmctld says does not respond."""
    for node in cluster.nodes:
        if "NOT_RESPONDING" in node.flags:
            jobs = jobs_on(cluster, node.name)
            yield Observation(
                rule="slurm.node_not_responding",
                severity="critical",
                subject=Subject(kind="slurm_node", cluster=cluster.name, name=node.name),
                summary=f"Slurm node {node.name} not responding ({node.summary})"
                + (f": {node.reason}" if node.reason else ""),
                evidence={"state": node.state, "flags": ",".join(node.flags)},
                workloads=jobs,
                action="investigate",
            )


def kube_nodes(ctx: Context, cluster: KubeCluster) -> Iterator[Observation]:
    """A Kubernetes node that is not Ready (critical) or reports a pressure condition."""
    for node in cluster.nodes:
        subject = Subject(kind="k8s_node", cluster=cluster.name, name=node.name)
        pods = tuple(
            Workload(
                kind="pod",
                id=p.uid,
                cluster=cluster.name,
                name=p.name,
                namespace=p.namespace,
                owner=f"{p.owner_kind}/{p.owner_name}" if p.owner_kind else None,
            )
            for p in cluster.pods
            if p.node == node.name and p.phase in ("Running", "Pending") and not p.deleting
        )
        if node.ready is not True:
            state = "NotReady" if node.ready is False else "Ready unknown"
            yield Observation(
                rule="k8s.node_not_ready",
                severity="critical",
                subject=subject,
                summary=f"Kubernetes node {node.name} {state}"
                + (f" ({len(pods)} pods)" if pods else ""),
                evidence={"ready": str(node.ready), "summary": node.summary},
                workloads=pods,
                action="investigate",
            )
        elif node.problems:
            yield Observation(
                rule="k8s.node_condition",
                severity="warning",
                subject=subject,
                summary=f"Kubernetes node {node.name}: " + "; ".join(node.problems)[:200],
                evidence={"problems": "; ".join(node.problems)[:500]},
                workloads=pods,
                action="investigate",
            )
