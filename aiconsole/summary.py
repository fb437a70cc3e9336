"""Per-host figures for the fleet view and text output, derived from one sample."""

from __future__ import annotations

from dataclasses import dataclass

from aiconsole.model import HostState


@dataclass(frozen=True)
class HostSummary:
    name: str
    status: str
    reason: str | None
    age_s: float | None
    cpu_percent: float | None
    memory_used_bytes: int | None
    memory_total_bytes: int | None
    gpu_count: int | None
    """None when the host has never sent a sample (not a fake 0)."""
    gpu_util_mean: float | None
    gpu_memory_used_bytes: int | None
    gpu_memory_total_bytes: int | None
    gpu_temp_max: float | None
    gpu_power_w: float | None
    net_rx_bytes_per_s: float | None
    net_tx_bytes_per_s: float | None
    findings: int = 0
    """Health findings about this host (any part of it), not acknowledged or silenced."""
    worst_finding: str | None = None
    """``critical``, ``warning`` or ``info``: the worst of them."""


def summarize(state: HostState) -> HostSummary:
    sample = state.sample
    if sample is None:
        return HostSummary(
            state.name,
            state.status,
            state.reason,
            state.age_s,
            None,
            None,
            None,
            None,
            None,
            None,
            None,
            None,
            None,
            None,
            None,
        )
    # One pass over the GPUs: this runs for every host on every refresh.
    util_sum = 0.0
    util_n = 0
    temp_max: float | None = None
    mem_used = mem_total = 0
    mem_known = False
    power = 0.0
    power_known = False
    for gpu in sample.gpu.gpus:
        if gpu.lost:
            continue
        if gpu.util_gpu_percent is not None:
            util_sum += gpu.util_gpu_percent
            util_n += 1
        if gpu.temperature_c is not None and (temp_max is None or gpu.temperature_c > temp_max):
            temp_max = gpu.temperature_c
        if gpu.memory_total_bytes is not None:
            mem_total += gpu.memory_total_bytes
            mem_used += gpu.memory_used_bytes or 0
            mem_known = True
        if gpu.power_draw_w is not None:
            power += gpu.power_draw_w
            power_known = True
    totals = sample.gpu.totals
    if totals is not None and not sample.gpu.gpus:  # aggregated at the source (Prometheus)
        util_sum, util_n = (
            totals.util_mean_percent or 0.0,
            int(totals.util_mean_percent is not None),
        )
        temp_max = totals.temperature_max_c
        mem_known = totals.memory_total_bytes is not None
        mem_total, mem_used = totals.memory_total_bytes or 0, totals.memory_used_bytes or 0
        power_known = totals.power_draw_w is not None
        power = totals.power_draw_w or 0.0
    # Physical NICs only: a bridge and its veths would count the same bytes several times.
    nics = [nic for nic in sample.nics if not nic.virtual] or sample.nics
    rx = [n.rx_bytes_per_s for n in nics if n.rx_bytes_per_s is not None]
    tx = [n.tx_bytes_per_s for n in nics if n.tx_bytes_per_s is not None]
    return HostSummary(
        name=state.name,
        status=state.status,
        reason=state.reason,
        age_s=state.age_s,
        cpu_percent=sample.cpu.total_percent,
        memory_used_bytes=sample.memory.used_bytes,
        memory_total_bytes=sample.memory.total_bytes,
        gpu_count=len(sample.gpu.gpus) or (totals.count if totals else 0),
        gpu_util_mean=util_sum / util_n if util_n else None,
        gpu_memory_used_bytes=mem_used if mem_known else None,
        gpu_memory_total_bytes=mem_total if mem_known else None,
        gpu_temp_max=temp_max,
        gpu_power_w=power if power_known else None,
        net_rx_bytes_per_s=sum(rx) if rx else None,
        net_tx_bytes_per_s=sum(tx) if tx else None,
    )
