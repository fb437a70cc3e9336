"""The host screen's GPU sections: the GPUs, their health, their recent history, XID events
and the processes on them.

Pure functions from a sample to rows of cells; the screen shows them. Host text in these
cells was cleaned when the sample was decoded, and every ``str`` cell is shown as plain text
by :class:`~aiconsole.widgets.table_sync.TableSync`.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from rich.text import Text

from aiconsole import units
from aiconsole.model import Gpu, GpuProcess, GpuSection, HostSample, nvlink_totals
from aiconsole.widgets.host_sections import BAR_WIDTH, count_text, percent_of
from aiconsole.widgets.host_view import HostView
from aiconsole.widgets.render import Palette, percent_bar, sparkline
from aiconsole.widgets.table_sync import Cell, Rows

SPARK_WIDTH = 36

PROCESS_ORDERS: dict[str, Callable[[tuple[int, GpuProcess]], Any]] = {
    "GPU, then memory": lambda item: (item[0], -(item[1].gpu_memory_bytes or 0)),
    "GPU memory": lambda item: -(item[1].gpu_memory_bytes or 0),
    "CPU": lambda item: -(item[1].cpu_percent or 0.0),
    "RSS": lambda item: -(item[1].rss_bytes or 0),
    "PID": lambda item: item[1].pid,
}
"""How the process table can be ordered (``o`` steps through them)."""


def gpu_empty_reason(sample: HostSample) -> str:
    section = sample.gpu
    if section.status == "ok":
        return "no GPUs"
    return f"GPUs: {section.status.replace('_', ' ')}: {section.reason or 'no detail'}"


def gpu_rows(sample: HostSample, palette: Palette, owners: dict[int, str] | None = None) -> Rows:
    owners = owners or {}
    rows: dict[str, tuple[Cell, ...]] = {}
    mixed = len({gpu.vendor or "nvidia" for gpu in sample.gpu.gpus}) > 1
    for gpu in sample.gpu.gpus:
        if gpu.lost:
            lost = Text("GPU is lost", style=palette.level("error"))
            rows[str(gpu.index)] = (
                str(gpu.index),
                lost,
                *([units.NA] * 5),
                owners.get(gpu.index, ""),
            )
            continue
        memory_percent = percent_of(gpu.memory_used_bytes, gpu.memory_total_bytes)
        memory = percent_bar(memory_percent, BAR_WIDTH, palette)
        power = (
            units.number(gpu.power_draw_w, "W")
            if gpu.power_limit_w is None
            else f"{units.number(gpu.power_draw_w)}/{units.number(gpu.power_limit_w, 'W')}"
        )
        rows[str(gpu.index)] = (
            str(gpu.index),
            gpu_label(gpu, mixed),
            percent_bar(gpu.util_gpu_percent, BAR_WIDTH, palette),
            memory,
            Text(
                units.number(gpu.temperature_c, "C"),
                style=palette.for_percent(gpu.temperature_c, 80, 88),
            ),
            power,
            units.number(gpu.sm_clock_mhz, "MHz"),
            owners.get(gpu.index, ""),
        )
    return rows


REASON_LEVEL = {
    "hw_slowdown": "error",
    "hw_thermal_slowdown": "error",
    "hw_power_brake_slowdown": "error",
    "sw_thermal_slowdown": "warning",
    "sw_power_cap": "warning",
    "board_limit": "warning",
    "reliability": "warning",
}
"""Clock-event reasons worth a colour; the rest (idle, app clocks, sync boost) are normal."""


def gpu_health_rows(sample: HostSample, palette: Palette) -> Rows:
    rows: dict[str, tuple[Cell, ...]] = {}
    for gpu in sample.gpu.gpus:
        if gpu.lost:
            lost = Text("GPU is lost", style=palette.level("error"))
            rows[str(gpu.index)] = (str(gpu.index), *([units.NA] * 8), lost)
            continue
        rows[str(gpu.index)] = (
            str(gpu.index),
            units.NA if gpu.performance_state is None else f"P{gpu.performance_state}",
            _of(gpu.sm_clock_mhz, gpu.sm_clock_max_mhz),
            _of(gpu.memory_clock_mhz, gpu.memory_clock_max_mhz),
            _pcie(gpu, palette),
            _xgmi(gpu, palette) if gpu.vendor == "amd" else _nvlink(gpu, palette),
            _ecc(gpu, palette),
            _remap(gpu, palette),
            _nvlink_rates(gpu),
            _reasons(gpu.clock_event_reasons, palette),
        )
    return rows


def _of(value: int | None, maximum: int | None) -> str:
    if value is None:
        return units.NA
    return str(value) if maximum is None else f"{value}/{maximum}"


def _pcie(gpu: Gpu, palette: Palette) -> Cell:
    if gpu.pcie_link_gen is None or gpu.pcie_link_width is None:
        return units.NA
    text = f"Gen{gpu.pcie_link_gen} x{gpu.pcie_link_width}"
    # A link trained below its maximum (a bad riser or slot) is a classic silent slowdown;
    # an idle GPU may drop its generation to save power, so only the width is a warning.
    degraded = gpu.pcie_link_width_max is not None and gpu.pcie_link_width < gpu.pcie_link_width_max
    return Text(text, style=palette.level("warning")) if degraded else text


def _nvlink(gpu: Gpu, palette: Palette) -> Cell:
    if gpu.nvlink_links_total is None or gpu.nvlink_links_up is None:
        return units.NA
    text = f"{gpu.nvlink_links_up}/{gpu.nvlink_links_total}"
    down = gpu.nvlink_links_up < gpu.nvlink_links_total
    return Text(text, style=palette.level("error")) if down else text


def _nvlink_rates(gpu: Gpu) -> str:
    """The GPU's NVLink payload received/transmitted per second, summed over its links."""
    rx, tx = nvlink_totals(gpu.nvlink_links)
    if rx is None and tx is None:
        return units.NA
    return f"{units.bytes_short(rx)}/{units.bytes_short(tx)}"


def _xgmi(gpu: Gpu, palette: Palette) -> Cell:
    """AMD's links: XGMI ports up of all (ROCm 6.4's amd-smi), else the peers linked."""
    ports = [state for state in gpu.xgmi_ports if state != "disabled"]
    if ports:
        up = sum(state == "up" for state in ports)
        text = f"{up}/{len(ports)}"
    elif gpu.xgmi_links:
        up, text = len(gpu.xgmi_links), f"{len(gpu.xgmi_links)}"
    else:
        return units.NA
    failing = (ports and up < len(ports)) or gpu.xgmi_error in ("single", "multiple")
    return Text(text, style=palette.level("error")) if failing else text


def _ecc(gpu: Gpu, palette: Palette) -> Cell:
    """Corrected/uncorrected counts; on AMD, the block most of them come from (UMC: HBM)."""
    cell = _counts(gpu.ecc_corrected_volatile, gpu.ecc_uncorrected_volatile, palette)
    blocks = [b for b in gpu.ecc_blocks or () if (b.uncorrectable or 0) + (b.correctable or 0)]
    if not blocks or not isinstance(cell, Text):
        return cell
    worst = max(blocks, key=lambda b: (b.uncorrectable or 0, b.correctable or 0))
    return Text.assemble(cell, " ", (worst.block, cell.style))


def _counts(corrected: int | None, uncorrected: int | None, palette: Palette) -> Cell:
    if corrected is None and uncorrected is None:
        return units.NA
    text = f"{count_text(corrected)}/{count_text(uncorrected)}"
    if uncorrected:
        return Text(text, style=palette.level("error"))
    if corrected:
        return Text(text, style=palette.level("warning"))
    return text


def _remap(gpu: Gpu, palette: Palette) -> Cell:
    if gpu.remapped_rows_correctable is None:
        # Pre-Ampere GPUs retire pages instead of remapping rows.
        if gpu.retired_pages_single_bit is None and gpu.retired_pages_double_bit is None:
            return units.NA
        cell = _counts(gpu.retired_pages_single_bit, gpu.retired_pages_double_bit, palette)
        return Text.assemble("ret ", cell) if isinstance(cell, Text) else f"ret {cell}"
    cell = _counts(gpu.remapped_rows_correctable, gpu.remapped_rows_uncorrectable, palette)
    if gpu.remap_failure:
        return Text(f"{cell} FAILED", style=palette.level("error"))
    if gpu.remap_pending:
        return Text(f"{cell} reset!", style=palette.level("warning"))
    return cell


def _reasons(reasons: tuple[str, ...] | None, palette: Palette) -> Cell:
    if reasons is None:
        return units.NA
    if not reasons:
        return Text("nothing", style=palette.dim)
    text = Text()
    for number, reason in enumerate(reasons):
        if number:
            text.append(" ")
        level = REASON_LEVEL.get(reason)
        text.append(reason, style=palette.level(level) if level else palette.dim)
    return text


VENDOR_LABELS = {"nvidia": "NVIDIA", "amd": "AMD", "intel": "Intel"}


def gpu_label(gpu: Gpu, mixed: bool = False) -> str:
    """The GPU's name with its vendor: NVIDIA's is implied on an all-NVIDIA host (as it always
    was), every other vendor is named, and on a host with several vendors every row says."""
    vendor = gpu.vendor or "nvidia"
    if vendor == "nvidia" and not mixed:
        return short_gpu_name(gpu.name)
    label = VENDOR_LABELS.get(vendor, vendor)
    name = gpu.name or units.NA
    return name if name.lower().startswith(label.lower()) else f"{label} {name}"


def short_gpu_name(name: str | None) -> str:
    """'NVIDIA H100 80GB HBM3' -> 'H100 80GB HBM3': the vendor is the same on every row."""
    if name is None:
        return units.NA
    return name.removeprefix("NVIDIA ").strip() or name


def process_rows(sample: HostSample, order: str = "GPU, then memory") -> Rows:
    processes = [(gpu.index, process) for gpu in sample.gpu.gpus for process in gpu.processes]
    processes.sort(key=PROCESS_ORDERS[order])
    return {
        f"{index}:{process.pid}": (
            str(index),
            str(process.pid),
            process.user or units.NA,
            units.bytes_short(process.gpu_memory_bytes),
            units.percent(process.cpu_percent),
            units.bytes_short(process.rss_bytes),
            units.percent(process.gpu_util_percent),
            workload_text(process),
            (process.command or units.NA)[:200],
        )
        for index, process in processes
    }


WORKLOAD_PREFIXES = {"slurm_job": "job", "pod": "pod", "container": "ctr"}


def workload_text(process: GpuProcess) -> str:
    """``job 81234.0``, ``pod 5b7c…``, ``ctr 1f2e…`` (ids cut to 12 characters)."""
    workload = process.workload
    if workload is None:
        return ""
    prefix = WORKLOAD_PREFIXES.get(workload.kind, workload.kind)
    if workload.kind == "slurm_job":
        step = f".{workload.step}" if workload.step else ""
        return f"{prefix} {workload.id}{step}"
    return f"{prefix} {workload.id[:12]}"


def gpu_history_rows(view: HostView, palette: Palette) -> Rows:
    """Per GPU: utilisation and power over the view's span as sparklines, newest right."""
    rows: dict[str, tuple[Cell, ...]] = {}
    history, end = view.history, view.snapshot.generated_at
    for gpu in view.sample.gpu.gpus:
        util_values = history.gpu_series(view.name, gpu.index, "util", view.span_s, end).values
        util = sparkline(util_values, SPARK_WIDTH, 100.0, palette.level("accent"))
        power_values = history.gpu_series(view.name, gpu.index, "power", view.span_s, end).values
        top = gpu.power_limit_w or max((v for v in power_values if v == v), default=None)
        power = sparkline(power_values, SPARK_WIDTH, top, palette.level("warning"))
        util.append(f" {units.number(gpu.util_gpu_percent)}", style=palette.dim)
        power.append(f" {units.number(gpu.power_draw_w)}/{units.number(top)}", style=palette.dim)
        rows[str(gpu.index)] = (str(gpu.index), util, power)
    return rows


SEVERE_XIDS = frozenset({48, 63, 64, 74, 79, 92, 94, 95, 119, 120, 140})
"""XIDs that mean a GPU needs attention (a reset, a drain or a service call)."""


def xid_title(section: GpuSection) -> Text:
    text = Text("XID events")
    notes = [
        section.unavailable[key]
        for key in ("xid_history", "xid_live")
        if key in section.unavailable
    ]
    if notes:
        text.append("  (" + "; ".join(notes) + ")", style="italic")
    return text


def xid_rows(section: GpuSection, palette: Palette) -> Rows:
    rows: dict[str, tuple[Cell, ...]] = {}
    # Newest first: the one that matters now is at the top.
    for number, event in reversed(list(enumerate(section.xid_events))):
        when = xid_time(event.at)
        style = palette.level("error" if event.xid in SEVERE_XIDS else "warning")
        gpu = units.NA if event.gpu_index is None else str(event.gpu_index)
        if event.gpu_index is None and event.bus_id:
            gpu = event.bus_id[-7:-2]  # a GPU already gone: its PCI bus:device
        rows[f"{number}:{event.at}:{event.xid}"] = (
            when,
            gpu,
            Text(str(event.xid), style=style),
            Text(event.name, style=style),
            "NVML" if event.source == "nvml" else "kernel log",
            (event.detail or "")[:120],
        )
    return rows


def xid_time(at: float | None) -> str:
    """Local date and time of an XID; a time no calendar can hold is shown as the number."""
    if at is None:
        return units.NA
    try:
        return datetime.fromtimestamp(at).strftime("%Y-%m-%d %H:%M:%S")
    except (OverflowError, OSError, ValueError):  # e.g. 1e300 or NaN from a confused host
        return f"t={at:.6g}"
