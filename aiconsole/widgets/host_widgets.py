"""The host sections about the machine itself, as widgets any screen can place: who it is and
its schedulers (Slurm, Kubernetes), findings, CPU and memory, filesystems, NVMe drives,
shared filesystems, disks, network interfaces and InfiniBand ports (rows from
:mod:`aiconsole.widgets.host_sections` and :mod:`aiconsole.widgets.storage_sections`)."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Static

from aiconsole.kubernetes.hosts import kube_line
from aiconsole.model import FleetSnapshot, HostState
from aiconsole.widgets.finding_lines import findings_text
from aiconsole.widgets.host_sections import (
    disk_rows,
    filesystem_rows,
    ib_rows,
    identity_line,
    nic_rows,
    resources_text,
    slurm_line,
)
from aiconsole.widgets.host_view import HostView
from aiconsole.widgets.render import Palette
from aiconsole.widgets.storage_sections import nvme_empty_reason, nvme_rows, shared_fs_rows
from aiconsole.widgets.table_section import TableSection
from aiconsole.widgets.table_sync import Rows


class SchedulerLines(Vertical):
    """The host as its schedulers see it: its Slurm node (state, reason, the jobs holding its
    GPUs) and, when Kubernetes is watched, its node there (hidden when it is none)."""

    DEFAULT_CSS = """
    SchedulerLines {
        height: auto;
    }
    """

    def compose(self) -> ComposeResult:
        yield Static(id="host-slurm")
        yield Static(id="host-kube")

    def show(self, name: str, snapshot: FleetSnapshot, state: HostState) -> None:
        self.query_one("#host-slurm", Static).update(slurm_line(name, snapshot))
        names = {name}
        if state.sample is not None:
            names.add(state.sample.identity.hostname)
        kube_text = kube_line(names, snapshot)
        kube = self.query_one("#host-kube", Static)
        kube.update(Text(kube_text))
        kube.display = bool(kube_text)


class HostSummary(Vertical):
    """The lines above the tables: status and identity, the schedulers' view of the host
    (:class:`SchedulerLines`), the host's findings, then CPU and memory."""

    DEFAULT_CSS = """
    HostSummary {
        height: auto;
    }
    """

    def compose(self) -> ComposeResult:
        yield Static(id="host-identity")
        yield SchedulerLines()
        yield Static(id="host-findings")
        yield Static(id="host-resources")

    def show(
        self, name: str, snapshot: FleetSnapshot, state: HostState | None, palette: Palette
    ) -> None:
        identity = self.query_one("#host-identity", Static)
        if state is None:
            identity.update(Text(f"{name}: no longer in the inventory"))
            return
        identity.update(identity_line(state, palette))
        self.query_one(SchedulerLines).show(name, snapshot, state)
        findings = self.query_one("#host-findings", Static)
        findings_line = findings_text(name, snapshot.findings, palette)
        findings.update(findings_line)
        findings.display = bool(findings_line.plain)
        resources = self.query_one("#host-resources", Static)
        if state.sample is None:
            resources.update(Text("waiting for the first sample…"))
        else:
            resources.update(resources_text(state.sample, palette))


class FilesystemSection(TableSection):
    key = "filesystems"
    title = "Filesystems"
    columns = (("Mount", None), ("Type", None), ("Size", 6), ("Used", 6), ("Free", 6), ("Use", 11))
    empty = "no filesystems"

    def rows(self, view: HostView) -> Rows:
        return filesystem_rows(view.sample, view.palette)


class NvmeSection(TableSection):
    key = "nvme"
    title = "NVMe drives"
    columns = (
        ("Drive", None),
        ("Model", None),
        ("Firmware", None),
        ("Temp", 4),
        ("Used", 5),
        ("Spare", 5),
        ("Media err", 9),
        ("Unsafe off", 10),
        ("Power-on h", 10),
        ("Warnings", None),
    )

    def rows(self, view: HostView) -> Rows:
        return nvme_rows(view.sample, view.palette)

    def empty_reason(self, view: HostView) -> str:
        return nvme_empty_reason(view.sample)


class SharedFsSection(TableSection):
    key = "shared-fs"
    title = "Shared filesystems"
    columns = (
        ("Mount", None),
        ("Kind", 6),
        ("Server", None),
        ("State", None),
        ("statvfs", 8),
        ("RTT", 8),
        ("Retrans/s", 9),
        ("Read", 8),
        ("Write", 8),
    )
    empty = "no network or parallel filesystems"

    def rows(self, view: HostView) -> Rows:
        return shared_fs_rows(view.sample, view.palette)


class DisksSection(TableSection):
    key = "disks"
    title = "Disks"
    columns = (("Disk", None), ("Read", 8), ("Write", 8), ("r/s", 6), ("w/s", 6))
    empty = "no disks"

    def rows(self, view: HostView) -> Rows:
        return disk_rows(view.sample)


class NicsSection(TableSection):
    key = "nics"
    title = "Network"
    columns = (
        ("NIC", None),
        ("State", 7),
        ("Speed", 5),
        ("Rx", 8),
        ("Tx", 8),
        ("Err rx/tx", 13),
        ("Drop rx/tx", 13),
    )
    empty = "no network interfaces"

    def rows(self, view: HostView) -> Rows:
        return nic_rows(view.sample)


class IbSection(TableSection):
    key = "ib"
    title = "InfiniBand"
    columns = (
        ("Port", None),
        ("State", 6),
        ("Phys", 8),
        ("Rate", None),
        ("Rx", 8),
        ("Tx", 8),
        ("SymErr", 6),
        ("LinkDown", 8),
    )
    empty = "no InfiniBand ports"

    def rows(self, view: HostView) -> Rows:
        return ib_rows(view.sample, view.palette)
