"""Per-host figures for the fleet view and text output, derived from one sample."""

from __future__ import annotations

import msgspec

from aiconsole.model import HostState


class HostSummary(msgspec.Struct, frozen=True, gc=False):
    """One host's row of figures. A struct, built in one call, and left out of the cyclic
    garbage collector (it holds only strings and numbers): one is made per changed host on
    every refresh, up to the whole fleet."""

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


def summarize(state: HostState, found: tuple[int, str] | None = None) -> HostSummary:
    """``state``'s figures; ``found``: its findings' count and the worst one's severity."""
    findings, worst = found if found is not None else (0, None)
    sample = state.sample
    if sample is None:
        return HostSummary(
            state.name, state.status, state.reason, state.age_s, None, None, None, None, None,
            None, None, None, None, None, None, findings, worst,
        )  # fmt: skip
    # One pass over the GPUs: this runs for every host on every refresh. Each field is read
    # once into a local (a struct field read costs more than a local one).
    util_sum = 0.0
    util_n = 0
    temp_max: float | None = None
    mem_used = mem_total = 0
    mem_known = False
    power = 0.0
    power_known = False
    section = sample.gpu
    gpus = section.gpus
    for gpu in gpus:
        if gpu.lost:
            continue
        value = gpu.util_gpu_percent
        if value is not None:
            util_sum += value
            util_n += 1
        value = gpu.temperature_c
        if value is not None and (temp_max is None or value > temp_max):
            temp_max = value
        total = gpu.memory_total_bytes
        if total is not None:
            mem_total += total
            mem_used += gpu.memory_used_bytes or 0
            mem_known = True
        value = gpu.power_draw_w
        if value is not None:
            power += value
            power_known = True
    totals = section.totals
    if totals is not None:  # aggregated at the source (Prometheus): its gpus are a few at most
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
    memory = sample.memory
    return HostSummary(
        state.name,
        state.status,
        state.reason,
        state.age_s,
        sample.cpu.total_percent,
        memory.used_bytes,
        memory.total_bytes,
        totals.count if totals is not None else len(gpus),
        util_sum / util_n if util_n else None,
        mem_used if mem_known else None,
        mem_total if mem_known else None,
        temp_max,
        power if power_known else None,
        sum(rx) if rx else None,
        sum(tx) if tx else None,
        findings,
        worst,
    )
