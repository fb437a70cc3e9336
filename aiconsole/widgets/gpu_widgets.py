"""The host sections about GPUs, as widgets any screen can place: the GPUs, their health,
their recent history, XID events and the processes on them (rows from
:mod:`aiconsole.widgets.gpu_sections`)."""

from __future__ import annotations

from rich.text import Text

from aiconsole.widgets.click_table import ClickTable
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
from aiconsole.widgets.host_sections import gpu_owners
from aiconsole.widgets.host_view import HostView
from aiconsole.widgets.table_section import TableSection
from aiconsole.widgets.table_sync import Rows


class GpusSection(TableSection):
    key = "gpus"
    title = "GPUs"
    columns = (
        ("GPU", 3),
        ("Name", None),
        ("Util", 13),
        ("Memory", 13),
        ("Temp", 4),
        ("Power", 9),
        ("SM", 7),
        ("Slurm job", None),
    )

    def rows(self, view: HostView) -> Rows:
        owners = gpu_owners(view.name, view.snapshot)
        return gpu_rows(view.sample, view.palette, owners)

    def empty_reason(self, view: HostView) -> str:
        return gpu_empty_reason(view.sample)


class GpuHealthSection(TableSection):
    key = "gpu-health"
    title = "GPU health"
    columns = (
        ("GPU", 3),
        ("P", 3),
        ("SM MHz", 9),
        ("Mem MHz", 9),
        ("PCIe", 8),
        ("Links", 6),
        ("ECC c/u", 9),
        ("Remap c/u", 12),
        ("NVL rx/tx/s", 11),
        ("Clocks held by", None),
    )

    def rows(self, view: HostView) -> Rows:
        return gpu_health_rows(view.sample, view.palette)

    def empty_reason(self, view: HostView) -> str:
        return gpu_empty_reason(view.sample)


class GpuHistorySection(TableSection):
    """Every GPU's utilisation and power over the zoomed span as sparklines, one row each."""

    key = "gpu-history"
    title = "GPU history"
    columns = (("GPU", 3), ("Util %", SPARK_WIDTH + 5), ("Power W", SPARK_WIDTH + 10))
    empty = "no GPUs"

    def rows(self, view: HostView) -> Rows:
        return gpu_history_rows(view, view.palette)

    def title_text(self, view: HostView) -> Text:
        return Text(f"GPU history (last {span_words(view.span_s)}, newest right)")


def span_words(seconds: float) -> str:
    """``3 minutes``, ``1 hour``, ``90 minutes``."""
    if seconds >= 3600 and seconds % 3600 == 0:
        hours = int(seconds // 3600)
        return f"{hours} hour{'s' if hours > 1 else ''}"
    minutes = round(seconds / 60)
    return f"{minutes} minute{'s' if minutes != 1 else ''}"


class XidSection(TableSection):
    key = "xids"
    title = "XID events"
    columns = (
        ("When", 19),
        ("GPU", 5),
        ("XID", 4),
        ("Meaning", None),
        ("Seen by", 10),
        ("Detail", None),
    )
    empty = "no XID events"

    def rows(self, view: HostView) -> Rows:
        return xid_rows(view.sample.gpu, view.palette)

    def title_text(self, view: HostView) -> Text:
        return xid_title(view.sample.gpu)


class ProcessSection(TableSection):
    """The processes on the GPUs, in the order :attr:`order` names (``o`` steps it)."""

    key = "processes"
    title = "GPU processes"
    columns = (
        ("GPU", 3),
        ("PID", 7),
        ("User", None),
        ("GPU mem", 7),
        ("CPU", 5),
        ("RSS", 6),
        ("GPU %", 5),
        ("Job / pod", None),
        ("Command", None),
    )
    empty = "no processes on the GPUs"

    def __init__(self) -> None:
        super().__init__()
        self.order = next(iter(PROCESS_ORDERS))

    def next_order(self) -> None:
        orders = list(PROCESS_ORDERS)
        self.order = orders[(orders.index(self.order) + 1) % len(orders)]
        self.query_one(ClickTable).clear_sort()  # o: its own orders again, not a title's

    def rows(self, view: HostView) -> Rows:
        return process_rows(view.sample, self.order)

    def title_text(self, view: HostView) -> Text:
        return Text(f"GPU processes (by {self.order}; o: order)")
