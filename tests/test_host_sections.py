"""The host screen's sections are widgets any screen can place: mounted in a bare app with a
:class:`HostView`, each shows its rows or the reason there are none, with no host screen."""

from __future__ import annotations

from textual.app import App, ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import DataTable, Static

from aiconsole.history import History
from aiconsole.widgets.chart import Chart
from aiconsole.widgets.gpu_widgets import (
    GpuHealthSection,
    GpuHistorySection,
    GpusSection,
    ProcessSection,
    XidSection,
)
from aiconsole.widgets.history_section import HistorySection
from aiconsole.widgets.host_view import HostView
from aiconsole.widgets.host_widgets import (
    DisksSection,
    FilesystemSection,
    IbSection,
    NicsSection,
    NvmeSection,
    SchedulerLines,
    SharedFsSection,
)
from aiconsole.widgets.render import Palette
from aiconsole.widgets.table_section import TableSection
from tests.synthetic import fleet_store, seed_history

SECTIONS = (
    GpusSection,
    GpuHealthSection,
    GpuHistorySection,
    XidSection,
    ProcessSection,
    FilesystemSection,
    NvmeSection,
    SharedFsSection,
    DisksSection,
    NicsSection,
    IbSection,
)


class Bare(App[None]):
    """Not the console: only the sections, as another screen would place them."""

    def compose(self) -> ComposeResult:
        with VerticalScroll():
            yield SchedulerLines()
            for section in SECTIONS:
                yield section()
            yield HistorySection()


def view(name: str) -> HostView:
    store = fleet_store()
    history = History()
    seed_history(history, store)
    snapshot = store.snapshot()
    state = next(h for h in snapshot.hosts if h.name == name)
    assert state.sample is not None
    return HostView(
        name=name,
        snapshot=snapshot,
        state=state,
        sample=state.sample,
        palette=Palette({}),
        history=history,
        span_s=180.0,
    )


async def test_every_section_shows_a_host_outside_the_host_screen() -> None:
    app = Bare()
    host = view("gpu-node-05")
    async with app.run_test(size=(160, 50)) as pilot:
        for section in app.query(TableSection):
            section.show(host)
        app.query_one(SchedulerLines).show(host.name, host.snapshot, host.state)
        app.query_one(HistorySection).show(host, [180.0, 3600.0])
        await pilot.pause()
        assert app.query_one("#gpus-table", DataTable).row_count == 8
        assert app.query_one("#xids-table", DataTable).row_count == 2
        assert app.query_one("#processes-table", DataTable).row_count > 0
        assert app.query_one("#ib-table", DataTable).row_count > 0
        assert not app.query_one("#nvme-table", DataTable).display  # none: the reason instead
        assert "no NVMe" in str(app.query_one("#nvme-empty", Static).render())
        chart = app.query_one("#chart-gpu-util", Chart)
        assert chart.spec.title == "GPU 0 utilisation"
        assert sum(v == v for v in chart.series.values) == 180  # three minutes, no gap
