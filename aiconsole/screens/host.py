"""The host screen: one machine in full (GPUs and their processes, CPU, memory, disks, links)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.widgets import DataTable, Footer, Header, Static

from aiconsole import units
from aiconsole.history import GpuHistory
from aiconsole.kubernetes.hosts import kube_line
from aiconsole.model import FleetSnapshot, Gpu, GpuProcess, GpuSection, HostSample, HostState
from aiconsole.screens.base import LiveScreen
from aiconsole.widgets.render import (
    Palette,
    column_bars,
    percent_bar,
    sparkline,
    status_text,
)
from aiconsole.widgets.table_sync import Cell, Rows, TableSync

BAR_WIDTH = 8
SPARK_WIDTH = 36

PROCESS_ORDERS: dict[str, Callable[[tuple[int, GpuProcess]], Any]] = {
    "GPU, then memory": lambda item: (item[0], -(item[1].gpu_memory_bytes or 0)),
    "GPU memory": lambda item: -(item[1].gpu_memory_bytes or 0),
    "CPU": lambda item: -(item[1].cpu_percent or 0.0),
    "RSS": lambda item: -(item[1].rss_bytes or 0),
    "PID": lambda item: item[1].pid,
}
"""How the process table can be ordered (``o`` steps through them)."""

# Per section: title and (column, width). Columns whose values change get a fixed width;
# None fits the values present when a row is added (names, mount points, commands).
SECTIONS: dict[str, tuple[str, tuple[tuple[str, int | None], ...]]] = {
    "gpus": (
        "GPUs",
        (
            ("GPU", 3),
            ("Name", None),
            ("Util", 13),
            ("Memory", 13),
            ("Temp", 4),
            ("Power", 9),
            ("SM", 7),
            ("Slurm job", None),
        ),
    ),
    "gpu-health": (
        "GPU health",
        (
            ("GPU", 3),
            ("P", 3),
            ("SM MHz", 9),
            ("Mem MHz", 9),
            ("PCIe", 8),
            ("NVLink", 6),
            ("ECC c/u", 9),
            ("Remap c/u", 12),
            ("Clocks held by", None),
        ),
    ),
    "gpu-history": (
        "GPU history (3 minutes, newest right)",
        (("GPU", 3), ("Util %", SPARK_WIDTH + 5), ("Power W", SPARK_WIDTH + 10)),
    ),
    "xids": (
        "XID events",
        (
            ("When", 19),
            ("GPU", 5),
            ("XID", 4),
            ("Meaning", None),
            ("Seen by", 10),
            ("Detail", None),
        ),
    ),
    "processes": (
        "GPU processes",
        (
            ("GPU", 3),
            ("PID", 7),
            ("User", None),
            ("GPU mem", 7),
            ("CPU", 5),
            ("RSS", 6),
            ("Command", None),
        ),
    ),
    "filesystems": (
        "Filesystems",
        (("Mount", None), ("Type", None), ("Size", 6), ("Used", 6), ("Free", 6), ("Use", 11)),
    ),
    "disks": ("Disks", (("Disk", None), ("Read", 8), ("Write", 8), ("r/s", 6), ("w/s", 6))),
    "nics": (
        "Network",
        (
            ("NIC", None),
            ("State", 7),
            ("Speed", 5),
            ("Rx", 8),
            ("Tx", 8),
            ("Err rx/tx", 13),
            ("Drop rx/tx", 13),
        ),
    ),
    "ib": (
        "InfiniBand",
        (
            ("Port", None),
            ("State", 6),
            ("Phys", 8),
            ("Rate", None),
            ("Rx", 8),
            ("Tx", 8),
            ("SymErr", 6),
            ("LinkDown", 8),
        ),
    ),
}


class HostScreen(LiveScreen):
    BINDINGS = [
        Binding("escape", "app.pop_screen", "Back"),
        Binding("o", "next_process_order", "Order processes"),
    ]

    def __init__(self, host_name: str) -> None:
        super().__init__()
        self.host_name = host_name
        self._syncs: dict[str, TableSync] = {}
        self.process_order = next(iter(PROCESS_ORDERS))

    def compose(self) -> ComposeResult:
        yield Header()
        with VerticalScroll(id="host-body"):
            yield Static(id="host-identity")
            yield Static(id="host-slurm")
            yield Static(id="host-kube")
            yield Static(id="host-resources")
            for key, (title, columns) in SECTIONS.items():
                yield Static(title, classes="section-title", id=f"{key}-title")
                yield Static(id=f"{key}-empty", classes="section-empty")
                table: DataTable[Cell] = DataTable(
                    id=f"{key}-table", cursor_type="row", zebra_stripes=True
                )
                for column, width in columns:
                    table.add_column(column, key=column, width=width)
                yield table
        yield Footer()

    def on_mount(self) -> None:
        self.title = self.host_name
        for key, (_, columns) in SECTIONS.items():
            self._syncs[key] = TableSync(
                self.query_one(f"#{key}-table", DataTable), [name for name, _ in columns]
            )
        super().on_mount()

    def render_snapshot(self, snapshot: FleetSnapshot) -> None:
        state = next((h for h in snapshot.hosts if h.name == self.host_name), None)
        palette = self.palette
        identity = self.query_one("#host-identity", Static)
        if state is None:
            identity.update(f"{self.host_name}: no longer in the inventory")
            return
        identity.update(identity_line(state, palette))
        self.query_one("#host-slurm", Static).update(slurm_line(self.host_name, snapshot))
        names = {self.host_name}
        if state.sample is not None:
            names.add(state.sample.identity.hostname)
        kube_text = kube_line(names, snapshot)
        kube = self.query_one("#host-kube", Static)
        kube.update(Text(kube_text))
        kube.display = bool(kube_text)
        sample = state.sample
        if sample is None:
            self.query_one("#host-resources", Static).update("waiting for the first sample…")
            return
        self.query_one("#host-resources", Static).update(resources_text(sample, palette))
        owners = gpu_owners(self.host_name, snapshot)
        self._show("gpus", gpu_rows(sample, palette, owners), gpu_empty_reason(sample))
        self._show("gpu-health", gpu_health_rows(sample, palette), gpu_empty_reason(sample))
        history = self.console.gpu_history
        self._show(
            "gpu-history", gpu_history_rows(self.host_name, sample, history, palette), "no GPUs"
        )
        self.query_one("#xids-title", Static).update(xid_title(sample.gpu))
        self._show("xids", xid_rows(sample.gpu, palette), "no XID events")
        self.query_one("#processes-title", Static).update(
            f"GPU processes (by {self.process_order}; o: order)"
        )
        self._show(
            "processes", process_rows(sample, self.process_order), "no processes on the GPUs"
        )
        self._show("filesystems", filesystem_rows(sample, palette), "no filesystems")
        self._show("disks", disk_rows(sample), "no disks")
        self._show("nics", nic_rows(sample), "no network interfaces")
        self._show("ib", ib_rows(sample, palette), "no InfiniBand ports")

    def action_next_process_order(self) -> None:
        orders = list(PROCESS_ORDERS)
        self.process_order = orders[(orders.index(self.process_order) + 1) % len(orders)]
        snapshot = self.console.fleet_snapshot
        if snapshot is not None:
            self.render_snapshot(snapshot)

    def _show(self, key: str, rows: Rows, empty_reason: str) -> None:
        self._syncs[key].apply(rows)
        table = self.query_one(f"#{key}-table", DataTable)
        empty = self.query_one(f"#{key}-empty", Static)
        table.display = bool(rows)
        empty.display = not rows
        if not rows:
            empty.update(empty_reason)


def slurm_line(host: str, snapshot: FleetSnapshot) -> str:
    """The host's Slurm node: state, reason, and who holds which of its GPUs."""
    short = host.split(".")[0]
    for cluster in snapshot.clusters:
        node = next((n for n in cluster.nodes if n.name in (host, short)), None)
        if node is None:
            continue
        text = f"Slurm {cluster.name}: {node.name} {node.summary}"
        if node.reason:
            text += f" ({node.reason}, by {node.reason_user or '?'})"
        holders = [
            f"job {job.job_id} {job.user or '?'} GPU "
            + ",".join(str(i) for i in job.gpu_indices.get(node.name, ()))
            for job in cluster.jobs
            if job.state == "RUNNING" and node.name in job.nodes
        ]
        if holders:
            text += "; " + "; ".join(holders)
        return text
    return ""


def gpu_owners(host: str, snapshot: FleetSnapshot) -> dict[int, str]:
    """GPU index -> ``job user`` of the Slurm job holding it on this host."""
    short = host.split(".")[0]
    owners: dict[int, str] = {}
    for cluster in snapshot.clusters:
        for job in cluster.jobs:
            if job.state != "RUNNING":
                continue
            for node, indices in job.gpu_indices.items():
                if node in (host, short):
                    for index in indices:
                        owners[index] = f"{job.job_id} {job.user or '?'}"
    return owners


def identity_line(state: HostState, palette: Palette) -> Text:
    text = Text()
    text.append_text(status_text(state.status, palette))
    if state.reason:
        text.append(f" ({state.reason})", style=palette.level("error"))
    text.append(f"  data age {units.duration(state.age_s)}", style=palette.dim)
    sample = state.sample
    if sample is not None:
        ident = sample.identity
        text.append(f"  {ident.hostname}  kernel {ident.kernel or units.NA}")
        text.append(f"  up {units.duration(ident.uptime_s)}")
        text.append(f"  probe {ident.probe_version}", style=palette.dim)
    return text


def resources_text(sample: HostSample, palette: Palette) -> Text:
    cpu, memory = sample.cpu, sample.memory
    text = Text("CPU  ")
    text.append_text(percent_bar(cpu.total_percent, BAR_WIDTH, palette))
    loads = (cpu.load1, cpu.load5, cpu.load15)
    text.append(f"  {cpu.count} cores  load " + " ".join(units.number(v, "", 2) for v in loads))
    if cpu.per_core_percent:
        text.append("\n     ")
        text.append_text(column_bars(cpu.per_core_percent, palette))
        text.append(" per core", style=palette.dim)
    memory_percent = _fraction(memory.used_bytes, memory.total_bytes)
    text.append("\nMem  ")
    text.append_text(percent_bar(memory_percent, BAR_WIDTH, palette))
    text.append(
        f"  {units.bytes_short(memory.used_bytes)} used of {units.bytes_short(memory.total_bytes)}"
    )
    if memory.swap_total_bytes:
        text.append(
            f"   swap {units.bytes_short(memory.swap_used_bytes)}"
            f"/{units.bytes_short(memory.swap_total_bytes)}"
        )
    return text


def _fraction(part: float | None, whole: float | None) -> float | None:
    if part is None or not whole:
        return None
    return 100.0 * part / whole


def gpu_empty_reason(sample: HostSample) -> str:
    section = sample.gpu
    if section.status == "ok":
        return "no GPUs"
    return f"GPUs: {section.status.replace('_', ' ')}: {section.reason or 'no detail'}"


def gpu_rows(sample: HostSample, palette: Palette, owners: dict[int, str] | None = None) -> Rows:
    owners = owners or {}
    rows: dict[str, tuple[Cell, ...]] = {}
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
        memory_percent = _fraction(gpu.memory_used_bytes, gpu.memory_total_bytes)
        memory = percent_bar(memory_percent, BAR_WIDTH, palette)
        power = (
            units.number(gpu.power_draw_w, "W")
            if gpu.power_limit_w is None
            else f"{units.number(gpu.power_draw_w)}/{units.number(gpu.power_limit_w, 'W')}"
        )
        rows[str(gpu.index)] = (
            str(gpu.index),
            short_gpu_name(gpu.name),
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
            rows[str(gpu.index)] = (str(gpu.index), *([units.NA] * 7), lost)
            continue
        rows[str(gpu.index)] = (
            str(gpu.index),
            units.NA if gpu.performance_state is None else f"P{gpu.performance_state}",
            _of(gpu.sm_clock_mhz, gpu.sm_clock_max_mhz),
            _of(gpu.memory_clock_mhz, gpu.memory_clock_max_mhz),
            _pcie(gpu, palette),
            _nvlink(gpu, palette),
            _counts(gpu.ecc_corrected_volatile, gpu.ecc_uncorrected_volatile, palette),
            _remap(gpu, palette),
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


def _counts(corrected: int | None, uncorrected: int | None, palette: Palette) -> Cell:
    if corrected is None and uncorrected is None:
        return units.NA
    text = f"{_count(corrected)}/{_count(uncorrected)}"
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
            (process.command or units.NA)[:200],
        )
        for index, process in processes
    }


def gpu_history_rows(host: str, sample: HostSample, history: GpuHistory, palette: Palette) -> Rows:
    rows: dict[str, tuple[Cell, ...]] = {}
    for gpu in sample.gpu.gpus:
        util = sparkline(
            history.utilisation(host, gpu.index), SPARK_WIDTH, 100.0, palette.level("accent")
        )
        power_values = history.power(host, gpu.index)
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
        when = (
            units.NA
            if event.at is None
            else datetime.fromtimestamp(event.at).strftime("%Y-%m-%d %H:%M:%S")
        )
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


def filesystem_rows(sample: HostSample, palette: Palette) -> Rows:
    rows: dict[str, tuple[Cell, ...]] = {}
    for fs in sample.filesystems:
        use = _fraction(fs.used_bytes, fs.size_bytes)
        rows[fs.mount] = (
            fs.mount,
            fs.fstype,
            units.bytes_short(fs.size_bytes),
            units.bytes_short(fs.used_bytes),
            units.bytes_short(fs.free_bytes),
            percent_bar(use, 6, palette)
            if fs.size_bytes
            else Text(
                next(iter(fs.unavailable.values()), units.NA), style=palette.level("warning")
            ),
        )
    return rows


def disk_rows(sample: HostSample) -> Rows:
    return {
        disk.name: (
            disk.name,
            units.rate_short(disk.read_bytes_per_s),
            units.rate_short(disk.write_bytes_per_s),
            units.number(disk.read_iops),
            units.number(disk.write_iops),
        )
        for disk in sample.disks
    }


def nic_rows(sample: HostSample) -> Rows:
    # Physical interfaces first: on a container host the veths would bury them.
    nics = sorted(sample.nics, key=lambda nic: (nic.virtual, nic.name))
    return {
        nic.name: (
            nic.name,
            nic.state or units.NA,
            units.NA
            if nic.speed_mbps is None
            else f"{nic.speed_mbps // 1000}G"
            if nic.speed_mbps >= 1000
            else f"{nic.speed_mbps}M",
            units.rate_short(nic.rx_bytes_per_s),
            units.rate_short(nic.tx_bytes_per_s),
            f"{_count(nic.rx_errors)}/{_count(nic.tx_errors)}",
            f"{_count(nic.rx_drops)}/{_count(nic.tx_drops)}",
        )
        for nic in nics
    }


def ib_rows(sample: HostSample, palette: Palette) -> Rows:
    def flagged(value: int | None) -> Cell:
        if value:
            return Text(str(value), style=palette.level("warning"))
        return _count(value)

    return {
        f"{port.device}/{port.port}": (
            f"{port.device}/{port.port}",
            _state_cell(port.state, "ACTIVE", palette),
            _state_cell(port.phys_state, "LinkUp", palette),
            port.rate or units.NA,
            units.rate_short(port.rx_bytes_per_s),
            units.rate_short(port.tx_bytes_per_s),
            flagged(port.symbol_errors),
            flagged(port.link_downed),
        )
        for port in sample.ib_ports
    }


def _state_cell(value: str | None, healthy: str, palette: Palette) -> Text:
    return Text(value or units.NA, style=palette.level("success" if value == healthy else "error"))


def _count(value: int | None) -> str:
    return units.NA if value is None else str(value)
