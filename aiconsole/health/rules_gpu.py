"""GPU rules: faults the driver reports, and GPUs a job holds without using them.

Each rule is a pure function of one host's sample (plus the join and thresholds); it yields an
:class:`Observation` per problem it sees. The suggested action follows the usual runbook: a
fault of the GPU itself -> drain the node (and diagnose it); a degraded link or a slowdown ->
investigate; an idle allocation -> talk to its owner.
"""

from __future__ import annotations

from collections.abc import Iterator

from aiconsole.health.context import describe
from aiconsole.health.observe import Context, Observation
from aiconsole.health.thresholds import APPLICATION_XIDS, CRITICAL_XIDS
from aiconsole.model import Gpu, HostState, Severity, Subject, Workload

SLOWDOWN_REASONS = ("hw_thermal_slowdown", "sw_thermal_slowdown", "hw_power_brake_slowdown")
SLOWDOWN_SET = frozenset(SLOWDOWN_REASONS)


def _subject(state: HostState, index: int | None) -> Subject:
    if index is None:
        return Subject(kind="host", host=state.name)
    return Subject(kind="gpu", host=state.name, name=str(index))


def _on(gpu_index: int | None, workloads_text: str) -> str:
    where = f" on GPU {gpu_index}" if gpu_index is not None else ""
    return where + (f" ({workloads_text})" if workloads_text else "")


def xid_events(ctx: Context, state: HostState) -> Iterator[Observation]:
    """An XID younger than the window: critical if the GPU is at fault, else a warning."""
    assert state.sample is not None
    newest: dict[tuple[int, int | None], float | None] = {}
    for event in state.sample.gpu.xid_events:
        at = event.at
        if at is not None and ctx.now - at > ctx.thresholds.xid_window_s:
            continue
        key = (event.xid, event.gpu_index)
        if key not in newest or (at or 0.0) > (newest[key] or 0.0):
            newest[key] = at
    names = {(e.xid, e.gpu_index): e.name for e in state.sample.gpu.xid_events}
    for (xid, index), at in sorted(newest.items(), key=lambda item: item[0]):
        gpu = next((g for g in state.sample.gpu.gpus if g.index == index), None)
        workloads = ctx.gpu_workloads(state.name, gpu) if gpu is not None else ()
        if not workloads and index is None:
            workloads = ctx.join.host_workloads(state.name)
        # A fault of the GPU: drain. An XID the program itself causes (a bad address, an
        # illegal instruction): information beside the job it hit. Others: a warning.
        severity: Severity = "critical" if xid in CRITICAL_XIDS else "warning"
        if xid in APPLICATION_XIDS:
            severity = "info"
        action = "drain" if xid in CRITICAL_XIDS else "investigate"
        evidence = {"xid": str(xid), "meaning": names[(xid, index)]}
        if at is not None:
            evidence["at"] = f"{at:.0f}"
        yield Observation(
            rule="gpu.xid_critical" if severity == "critical" else "gpu.xid",
            severity=severity,
            subject=Subject(kind="gpu", host=state.name, name=f"{index}:xid{xid}")
            if index is not None
            else Subject(kind="host", host=state.name, name=f"xid{xid}"),
            summary=f"XID {xid} ({names[(xid, index)]}){_on(index, describe(workloads))}",
            evidence=evidence,
            workloads=workloads,
            action=action,
            event=True,
            since=at,
        )


def _faults(gpu: Gpu) -> Iterator[tuple[str, Severity, str, dict[str, str]]]:
    """(rule, severity, summary, evidence) for each fault of the GPU itself."""
    if gpu.lost:
        yield "gpu.lost", "critical", "GPU lost", {"lost": "true"}
        return
    if gpu.ecc_uncorrected_volatile:
        count = gpu.ecc_uncorrected_volatile
        yield (
            "gpu.ecc_uncorrectable",
            "critical",
            f"{count} uncorrectable ECC errors",
            {"ecc_uncorrected_volatile": str(count)},
        )
    if gpu.remap_failure:
        yield "gpu.remap_failure", "critical", "row remap failed", {"remap_failure": "true"}
    elif gpu.remap_pending:
        yield (
            "gpu.remap_pending",
            "warning",
            "row remap pending (needs a GPU reset)",
            {"remap_pending": "true"},
        )
    if gpu.retired_pages_pending:
        yield (
            "gpu.retired_pages_pending",
            "warning",
            "page retirement pending (needs a GPU reset)",
            {"retired_pages_pending": "true"},
        )


def gpu_faults(ctx: Context, state: HostState, gpu: Gpu) -> Iterator[Observation]:
    """Lost GPUs, uncorrectable ECC, row remapping trouble, retired pages pending: each
    needs the GPU reset or serviced, so the suggestion is to drain."""
    faults = list(_faults(gpu))
    if faults:
        workloads = ctx.gpu_workloads(state.name, gpu)
        on = _on(gpu.index, describe(workloads))
        for rule, severity, summary, evidence in faults:
            yield Observation(
                rule=rule,
                severity=severity,
                subject=_subject(state, gpu.index),
                summary=summary + on,
                evidence=evidence,
                workloads=workloads,
                action="drain",
            )


def gpu_degradation(ctx: Context, state: HostState, gpu: Gpu) -> Iterator[Observation]:
    """Slowdowns, NVLink links down, PCIe trained below its maximum."""
    if not gpu.lost:
        slowdowns = [r for r in gpu.clock_event_reasons or () if r in SLOWDOWN_REASONS]
        up, total = gpu.nvlink_links_up, gpu.nvlink_links_total
        nvlink_down = up is not None and total is not None and up < total
        if not slowdowns and not nvlink_down and not _pcie_low(gpu):
            return  # the common case: nothing to say, and no join to look up
        workloads = ctx.gpu_workloads(state.name, gpu)
        on = _on(gpu.index, describe(workloads))
        subject = _subject(state, gpu.index)
        if slowdowns:
            yield Observation(
                rule="gpu.slowdown",
                severity="warning",
                subject=subject,
                summary=f"clocks held down: {', '.join(slowdowns)}{on}",
                evidence={"reasons": ",".join(slowdowns), **_temperature(gpu)},
                workloads=workloads,
                action="investigate",
            )
        if nvlink_down and up is not None and total is not None:
            yield Observation(
                rule="gpu.nvlink_down",
                severity="warning",
                subject=subject,
                summary=f"NVLink {total - up} of {total} links down{on}",
                evidence={"nvlink_links_up": str(up), "nvlink_links_total": str(total)},
                workloads=workloads,
                action="drain",
            )
        yield from _pcie(gpu, subject, on, workloads)


def _temperature(gpu: Gpu) -> dict[str, str]:
    return {} if gpu.temperature_c is None else {"temperature_c": f"{gpu.temperature_c:.0f}"}


def _pcie_low(gpu: Gpu) -> bool:
    # Width is fixed once trained; the generation drops on purpose when the GPU idles (link
    # power saving), so a low generation counts only while the GPU is busy.
    width, width_max = gpu.pcie_link_width, gpu.pcie_link_width_max
    gen, gen_max = gpu.pcie_link_gen, gpu.pcie_link_gen_max
    low_width = width is not None and width_max is not None and width < width_max
    busy = (gpu.util_gpu_percent or 0.0) >= 10.0
    return low_width or (gen is not None and gen_max is not None and gen < gen_max and busy)


def _pcie(
    gpu: Gpu, subject: Subject, on: str, workloads: tuple[Workload, ...]
) -> Iterator[Observation]:
    width, width_max = gpu.pcie_link_width, gpu.pcie_link_width_max
    gen, gen_max = gpu.pcie_link_gen, gpu.pcie_link_gen_max
    if _pcie_low(gpu):
        yield Observation(
            rule="gpu.pcie_degraded",
            severity="warning",
            subject=subject,
            summary=f"PCIe Gen{gen} x{width}, capable of Gen{gen_max} x{width_max}{on}",
            evidence={
                "pcie_link_gen": str(gen),
                "pcie_link_gen_max": str(gen_max),
                "pcie_link_width": str(width),
                "pcie_link_width_max": str(width_max),
            },
            workloads=workloads,
            action="investigate",
        )


def gpu_allocation(ctx: Context, state: HostState, gpu: Gpu) -> Iterator[Observation]:
    """GPUs a job holds but does not use, and GPU processes that belong to no job."""
    slurm = ctx.join.slurm(state.name)
    util = gpu.util_gpu_percent
    idle = util is not None and util <= ctx.thresholds.idle_util_percent
    if not gpu.lost and (idle or (slurm and gpu.processes)):
        workloads = ctx.gpu_workloads(state.name, gpu)
        if workloads and util is not None and idle:
            yield Observation(
                rule="gpu.idle_allocated",
                severity="warning",
                subject=_subject(state, gpu.index),
                summary=f"GPU {gpu.index} idle at {util:.0f} % ({describe(workloads)})",
                evidence={"util_gpu_percent": f"{util:.0f}"},
                workloads=workloads,
                action="notify",
                min_duration_s=ctx.thresholds.idle_minutes * 60.0,
            )
        if slurm and not workloads and gpu.processes:
            pids = ", ".join(str(p.pid) for p in gpu.processes[:5])
            users = sorted({p.user for p in gpu.processes if p.user})
            yield Observation(
                rule="gpu.orphan_process",
                severity="warning",
                subject=_subject(state, gpu.index),
                summary=f"GPU {gpu.index} used by no Slurm job: pid {pids}"
                + (f" ({', '.join(users)})" if users else ""),
                evidence={"pids": pids, "users": ",".join(users)},
                action="clean",
            )


PER_GPU = (gpu_faults, gpu_degradation, gpu_allocation)


def _suspect(gpu: Gpu, idle_percent: float, slurm: bool, held: set[int]) -> bool:
    """Cheap test that any per-GPU rule could fire: most GPUs are fine, and the rules run on
    every refresh for thousands of GPUs."""
    util = gpu.util_gpu_percent
    return bool(
        gpu.lost
        or gpu.ecc_uncorrected_volatile
        or gpu.remap_failure
        or gpu.remap_pending
        or gpu.retired_pages_pending
        or (gpu.clock_event_reasons and not SLOWDOWN_SET.isdisjoint(gpu.clock_event_reasons))
        or (gpu.nvlink_links_up or 0) < (gpu.nvlink_links_total or 0)
        or _pcie_low(gpu)
        or (util is not None and util <= idle_percent)
        or (slurm and gpu.processes and gpu.index not in held)
    )


def gpu_rules(ctx: Context, state: HostState) -> Iterator[Observation]:
    """Every per-GPU rule, in one pass over the host's GPUs."""
    assert state.sample is not None
    slurm = bool(ctx.join.slurm(state.name))
    held = ctx.join.held(state.name) if slurm else set()
    # A process whose cgroup names a Slurm job is that job's, whatever the GPU indices say.
    held |= {
        g.index
        for g in state.sample.gpu.gpus
        if any(p.workload is not None and p.workload.kind == "slurm_job" for p in g.processes)
    }
    idle = ctx.thresholds.idle_util_percent
    for gpu in state.sample.gpu.gpus:
        if _suspect(gpu, idle, slurm, held):
            for rule in PER_GPU:
                yield from rule(ctx, state, gpu)


RULES = (xid_events, gpu_rules)
