"""The host screen: one machine in full (GPUs and their processes, CPU, memory, disks, NVMe
health, shared filesystems, links).

The rows and lines come from :mod:`aiconsole.widgets.gpu_sections` and
:mod:`aiconsole.widgets.host_sections`; this module lays them out and keeps them current.
"""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.widgets import DataTable, Footer, Header, Static

from aiconsole.kubernetes.hosts import kube_line
from aiconsole.model import FleetSnapshot
from aiconsole.screens.base import LiveScreen
from aiconsole.widgets.click_table import ClickTable
from aiconsole.widgets.finding_lines import findings_text
from aiconsole.widgets.gpu_sections import (
    PROCESS_ORDERS,
    SPARK_WIDTH,
    gpu_empty_reason,
    gpu_health_rows,
    gpu_history_rows,
    gpu_rows,
    process_rows,
    xid_rows,
    xid_title,
)
from aiconsole.widgets.host_sections import (
    disk_rows,
    filesystem_rows,
    gpu_owners,
    ib_rows,
    identity_line,
    nic_rows,
    resources_text,
    slurm_line,
)
from aiconsole.widgets.storage_sections import (
    nvme_empty_reason,
    nvme_rows,
    shared_fs_rows,
)
from aiconsole.widgets.table_sync import Rows, TableSync

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
            ("GPU %", 5),
            ("Job / pod", None),
            ("Command", None),
        ),
    ),
    "filesystems": (
        "Filesystems",
        (("Mount", None), ("Type", None), ("Size", 6), ("Used", 6), ("Free", 6), ("Use", 11)),
    ),
    "nvme": (
        "NVMe drives",
        (
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
        ),
    ),
    "shared-fs": (
        "Shared filesystems",
        (
            ("Mount", None),
            ("Kind", 6),
            ("Server", None),
            ("State", None),
            ("statvfs", 8),
            ("RTT", 8),
            ("Retrans/s", 9),
            ("Read", 8),
            ("Write", 8),
        ),
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
            yield Static(id="host-findings")
            yield Static(id="host-resources")
            for key, (title, columns) in SECTIONS.items():
                yield Static(title, classes="section-title", id=f"{key}-title")
                yield Static(id=f"{key}-empty", classes="section-empty")
                table = ClickTable(id=f"{key}-table")  # a click on a title sorts
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
            identity.update(Text(f"{self.host_name}: no longer in the inventory"))
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
        findings = self.query_one("#host-findings", Static)
        findings_line = findings_text(self.host_name, snapshot.findings, palette)
        findings.update(findings_line)
        findings.display = bool(findings_line.plain)
        sample = state.sample
        if sample is None:
            self.query_one("#host-resources", Static).update(Text("waiting for the first sample…"))
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
            Text(f"GPU processes (by {self.process_order}; o: order)")
        )
        self._show(
            "processes", process_rows(sample, self.process_order), "no processes on the GPUs"
        )
        self._show("filesystems", filesystem_rows(sample, palette), "no filesystems")
        self._show("nvme", nvme_rows(sample, palette), nvme_empty_reason(sample))
        self._show(
            "shared-fs", shared_fs_rows(sample, palette), "no network or parallel filesystems"
        )
        self._show("disks", disk_rows(sample), "no disks")
        self._show("nics", nic_rows(sample), "no network interfaces")
        self._show("ib", ib_rows(sample, palette), "no InfiniBand ports")

    def action_next_process_order(self) -> None:
        self.query_one("#processes-table", ClickTable).clear_sort()  # o: its own orders again
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
            empty.update(Text(empty_reason))
