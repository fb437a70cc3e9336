"""The jobs screen: each Slurm cluster's nodes (state, reason, GPUs) and jobs (who holds
which GPUs), with the actions on the row under the cursor."""

from __future__ import annotations

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.widgets import DataTable, Footer, Header, Input, Static

from aiconsole import units
from aiconsole.actions.slurm import job_label
from aiconsole.model import FleetSnapshot, SlurmCluster, SlurmJob, SlurmNode
from aiconsole.screens.base import LiveScreen
from aiconsole.widgets.render import Palette
from aiconsole.widgets.table_sync import Cell, Rows, TableSync

NODE_COLUMNS = (("Node", None), ("State", 10), ("GPUs", 5), ("CPUs", 5), ("Reason", None))
JOB_COLUMNS = (
    ("Job", 9),
    ("User", None),
    ("Name", None),
    ("State", 10),
    ("Reason", None),
    ("Nodes", None),
    ("GPUs", None),
    ("Time", 9),
    ("Req", 3),
)
JOB_ORDERS = {
    "job id": lambda job: (len(job.job_id), job.job_id),
    "user": lambda job: (job.user or "", job.job_id),
    "state": lambda job: (job.state, job.job_id),
    "time used": lambda job: -(job.time_used_s or 0),
}
NODE_LEVEL = {"drained": "error", "draining": "warning", "down": "error"}
ACTING = ("drain", "resume", "requeue", "requeue_hold", "release")


class JobsScreen(LiveScreen):
    BINDINGS = [
        Binding("escape", "app.pop_screen", "Back"),
        Binding("s", "next_sort", "Sort jobs"),
        Binding("slash", "filter", "Filter", key_display="/"),
        Binding("d", "drain", "Drain node"),
        Binding("u", "resume", "Resume node"),
        Binding("r", "requeue", "Requeue job"),
        Binding("h", "requeue_hold", "Requeue+hold"),
        Binding("l", "release", "Release job"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.order = next(iter(JOB_ORDERS))
        self.filter_text = ""
        self._syncs: dict[str, TableSync] = {}
        self._cluster: SlurmCluster | None = None

    def compose(self) -> ComposeResult:
        yield Header()
        with VerticalScroll(id="jobs-body"):
            yield Static(id="cluster-status")
            yield Static("Nodes", classes="section-title")
            yield self._table("nodes", NODE_COLUMNS)
            yield Static("Jobs", classes="section-title", id="jobs-title")
            yield self._table("jobs", JOB_COLUMNS)
        yield Input(placeholder="filter jobs: id, user, name, state, node", id="jobs-filter")
        yield Footer()

    def _table(self, key: str, columns: tuple[tuple[str, int | None], ...]) -> DataTable[Cell]:
        table: DataTable[Cell] = DataTable(id=f"{key}-table", cursor_type="row", zebra_stripes=True)
        for column, width in columns:
            table.add_column(column, key=column, width=width)
        return table

    def on_mount(self) -> None:
        self.title = "Slurm"
        for key, columns in (("nodes", NODE_COLUMNS), ("jobs", JOB_COLUMNS)):
            self._syncs[key] = TableSync(
                self.query_one(f"#{key}-table", DataTable), [name for name, _ in columns]
            )
        super().on_mount()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # A viewer (or --read-only) sees no action keys at all.
        if action in ACTING:
            return self.console.policy.can_act
        return True

    def render_snapshot(self, snapshot: FleetSnapshot) -> None:
        status = self.query_one("#cluster-status", Static)
        if not snapshot.clusters:
            status.update("No Slurm cluster: start with --slurm HOST (or local), or [clusters].")
            return
        cluster = snapshot.clusters[0]
        self._cluster = cluster
        line = f"Slurm cluster {cluster.name}: {cluster.status}"
        if cluster.reason:
            line += f" ({cluster.reason})"
        line += f", {len(cluster.nodes)} nodes, {len(cluster.jobs)} jobs"
        status.update(line)
        self._syncs["nodes"].apply(node_rows(cluster, self.palette))
        jobs = [job for job in cluster.jobs if job_matches(job, self.filter_text)]
        jobs.sort(key=JOB_ORDERS[self.order])
        title = f"Jobs (by {self.order}; s: sort, /: filter)"
        if self.filter_text:
            title += f"  filter: {self.filter_text}"
        self.query_one("#jobs-title", Static).update(title)
        self._syncs["jobs"].apply(job_rows(jobs))

    def _rerender(self) -> None:
        snapshot = self.console.fleet_snapshot
        if snapshot is not None:
            self.render_snapshot(snapshot)

    def action_next_sort(self) -> None:
        orders = list(JOB_ORDERS)
        self.order = orders[(orders.index(self.order) + 1) % len(orders)]
        self._rerender()

    def action_filter(self) -> None:
        box = self.query_one("#jobs-filter", Input)
        box.add_class("open")
        box.focus()

    @on(Input.Submitted, "#jobs-filter")
    def filter_submitted(self, event: Input.Submitted) -> None:
        self.filter_text = event.value.strip()
        event.input.remove_class("open")
        self.query_one("#jobs-table", DataTable).focus()
        self._rerender()

    def _cursor_key(self, key: str) -> str | None:
        table = self.query_one(f"#{key}-table", DataTable)
        if table.row_count == 0:
            return None
        row_key, _ = table.coordinate_to_cell_key(table.cursor_coordinate)
        return row_key.value

    def action_drain(self) -> None:
        node = self._cursor_key("nodes")
        if node is not None and self._cluster is not None:
            self.console.start_drain(self._cluster.name, node)

    def action_resume(self) -> None:
        node = self._cursor_key("nodes")
        if node is not None and self._cluster is not None:
            self.console.start_action(self._cluster.name, "resume", [node])

    def _job_action(self, action: str) -> None:
        job = self._cursor_key("jobs")
        if job is not None and self._cluster is not None:
            self.console.start_action(self._cluster.name, action, [job])

    def action_requeue(self) -> None:
        self._job_action("requeue")

    def action_requeue_hold(self) -> None:
        self._job_action("requeue-hold")

    def action_release(self) -> None:
        self._job_action("release")


def job_matches(job: SlurmJob, text: str) -> bool:
    if not text:
        return True
    words = [job_label(job), job.job_id, job.user or "", job.name or "", job.state, *job.nodes]
    return any(text.lower() in word.lower() for word in words)


def node_rows(cluster: SlurmCluster, palette: Palette) -> Rows:
    rows: dict[str, tuple[Cell, ...]] = {}
    for node in cluster.nodes:
        level = NODE_LEVEL.get(node.summary.rstrip("*"))
        if node.summary.endswith("*"):
            level = "error"
        state: Cell = Text(node.summary, style=palette.level(level)) if level else node.summary
        rows[node.name] = (
            node.name,
            state,
            f"{node.gpus_used or 0}/{node.gpus_total or 0}",
            f"{node.cpus_allocated or 0}/{node.cpus_total or 0}",
            _reason(node),
        )
    return rows


def _reason(node: SlurmNode) -> str:
    if not node.reason:
        return ""
    who = f" [{node.reason_user or '?'}@{node.reason_time or '?'}]" if node.reason_user else ""
    return f"{node.reason}{who}"


def job_rows(jobs: list[SlurmJob]) -> Rows:
    return {
        job_label(job): (
            job_label(job),
            job.user or units.NA,
            (job.name or units.NA)[:40],
            job.state,
            job.reason or "",
            ",".join(job.nodes) or units.NA,
            " ".join(
                f"{node}:{','.join(str(i) for i in indices)}"
                for node, indices in sorted(job.gpu_indices.items())
            )
            or (f"{job.gpus_per_node}/node" if job.gpus_per_node else ""),
            units.duration(job.time_used_s) if job.time_used_s is not None else units.NA,
            str(job.restarts) if job.restarts is not None else units.NA,
        )
        for job in jobs
    }
