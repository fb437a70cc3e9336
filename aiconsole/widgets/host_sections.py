"""The host screen's sections about the machine itself: who it is, CPU and memory, its Slurm
node, filesystems, disks, network interfaces and InfiniBand ports.

Pure functions from a sample to rows of cells (or one line of text); the screen shows them.
Host text in these cells was cleaned when the sample was decoded, and every ``str`` cell is
shown as plain text by :class:`~aiconsole.widgets.table_sync.TableSync`.
"""

from __future__ import annotations

from rich.text import Text

from aiconsole import units
from aiconsole.model import FleetSnapshot, HostSample, HostState
from aiconsole.widgets.render import Palette, column_bars, percent_bar, status_text
from aiconsole.widgets.table_sync import Cell, Rows

BAR_WIDTH = 8


def slurm_line(host: str, snapshot: FleetSnapshot) -> Text:
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
        return Text(text)
    return Text()


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
    memory_percent = percent_of(memory.used_bytes, memory.total_bytes)
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


def percent_of(part: float | None, whole: float | None) -> float | None:
    """``part`` as a percentage of ``whole`` (None when either is unknown or whole is 0)."""
    if part is None or not whole:
        return None
    return 100.0 * part / whole


def filesystem_rows(sample: HostSample, palette: Palette) -> Rows:
    rows: dict[str, tuple[Cell, ...]] = {}
    for fs in sample.filesystems:
        use = percent_of(fs.used_bytes, fs.size_bytes)
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
            f"{count_text(nic.rx_errors)}/{count_text(nic.tx_errors)}",
            f"{count_text(nic.rx_drops)}/{count_text(nic.tx_drops)}",
        )
        for nic in nics
    }


def ib_rows(sample: HostSample, palette: Palette) -> Rows:
    def flagged(value: int | None) -> Cell:
        if value:
            return Text(str(value), style=palette.level("warning"))
        return count_text(value)

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


def count_text(value: int | None) -> str:
    """A counter as shown in a cell: the number, or the dash for unknown (never a fake 0)."""
    return units.NA if value is None else str(value)
