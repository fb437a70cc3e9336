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
    gpu_count: int
    gpu_util_mean: float | None
    gpu_memory_used_bytes: int | None
    gpu_memory_total_bytes: int | None
    gpu_temp_max: float | None
    gpu_power_w: float | None
    net_rx_bytes_per_s: float | None
    net_tx_bytes_per_s: float | None


def _sum(values: list[float | None]) -> float | None:
    known = [v for v in values if v is not None]
    return sum(known) if known else None


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
            0,
            None,
            None,
            None,
            None,
            None,
            None,
            None,
        )
    gpus = [gpu for gpu in sample.gpu.gpus if not gpu.lost]
    utils = [g.util_gpu_percent for g in gpus if g.util_gpu_percent is not None]
    temps = [g.temperature_c for g in gpus if g.temperature_c is not None]
    mem_used = _sum([g.memory_used_bytes for g in gpus])
    mem_total = _sum([g.memory_total_bytes for g in gpus])
    # Physical NICs only: a bridge and its veths would count the same bytes several times.
    nics = [nic for nic in sample.nics if not nic.virtual] or list(sample.nics)
    return HostSummary(
        name=state.name,
        status=state.status,
        reason=state.reason,
        age_s=state.age_s,
        cpu_percent=sample.cpu.total_percent,
        memory_used_bytes=sample.memory.used_bytes,
        memory_total_bytes=sample.memory.total_bytes,
        gpu_count=len(sample.gpu.gpus),
        gpu_util_mean=sum(utils) / len(utils) if utils else None,
        gpu_memory_used_bytes=None if mem_used is None else int(mem_used),
        gpu_memory_total_bytes=None if mem_total is None else int(mem_total),
        gpu_temp_max=max(temps) if temps else None,
        gpu_power_w=_sum([g.power_draw_w for g in gpus]),
        net_rx_bytes_per_s=_sum([n.rx_bytes_per_s for n in nics]),
        net_tx_bytes_per_s=_sum([n.tx_bytes_per_s for n in nics]),
    )
