"""The jobs screen: each Slurm cluster's nodes (state, reason, GPUs) and jobs (who holds
which GPUs), with the actions on the row under the cursor.

Every string here comes from Slurm, i.e. from any user of the cluster (``sbatch -J``): it
is cleaned once and shown as ``Text``, never parsed as markup. An action key acts on the
highlighted row of the focused table, and on nothing when that table is not focused.
"""

from __future__ import annotations

import time

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
from aiconsole.text import clean
from aiconsole.widgets.click_table import ClickTable
from aiconsole.widgets.render import Palette
from aiconsole.widgets.table_sync import Cell, Rows, TableSync

NODE_COLUMNS = (("Node", None), ("State", 10), ("GPUs", 5), ("CPUs", 7), ("Reason", None))
# Short, always-present columns first: at 80 columns Time and Restarts stay in view and
# the long ones (names, node lists) run off to the right, where the table scrolls.
JOB_COLUMNS = (
    ("Job", 9),
    ("User", None),
    ("State", 10),
    ("Time", 9),
    ("Restarts", 8),
    ("Name", None),
    ("Nodes", None),
    ("GPUs", None),
    ("Reason", None),
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
        # Short names, and Back and Sort (a click on a title sorts too) kept off the footer,
        # so the actions fit 80 columns; the help screen lists every key.
        Binding("escape", "app.pop_screen", "Back", show=False),
        Binding("s", "next_sort", "Sort", show=False),
        Binding("slash", "filter", "Filter", key_display="/"),
        Binding("d", "drain", "Drain"),
        Binding("u", "resume", "Resume"),
        Binding("r", "requeue", "Requeue"),
        Binding("h", "requeue_hold", "Req+hold"),
        Binding("l", "release", "Release"),
        Binding("o", "output", "Log"),
        Binding("k", "next_cluster", "Cluster"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.order = next(iter(JOB_ORDERS))
        self.filter_text = ""
        self._syncs: dict[str, TableSync] = {}
        self._cluster: SlurmCluster | None = None
        self.cluster_name: str | None = None
        """The cluster shown (``k`` moves to the next); the first one until chosen."""

    def compose(self) -> ComposeResult:
        yield Header()
        with VerticalScroll(id="jobs-body"):
            yield Static(id="clusters-line")
            yield Static(id="cluster-status")
            yield Static("Nodes", classes="section-title")
            yield self._table("nodes", NODE_COLUMNS)
            yield Static("Jobs", classes="section-title", id="jobs-title")
            yield self._table("jobs", JOB_COLUMNS)
        yield Input(placeholder="filter jobs: id, user, name, state, node", id="jobs-filter")
        yield Footer()

    def _table(self, key: str, columns: tuple[tuple[str, int | None], ...]) -> DataTable[Cell]:
        table = ClickTable(id=f"{key}-table")
        for column, width in columns:
            table.add_column(column, key=column, width=width)
        return table

    def on_mount(self) -> None:
        self.title = "Slurm"
        for key, columns in (("nodes", NODE_COLUMNS), ("jobs", JOB_COLUMNS)):
            self._syncs[key] = TableSync(
                self.query_one(f"#{key}-table", DataTable), [name for name, _ in columns]
            )
        # The node cursor is what the operator sees selected: give it the keys at once.
        self.query_one("#nodes-table", DataTable).focus()
        super().on_mount()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # A viewer (or --read-only) sees no action keys at all.
        if action in ACTING:
            return self.console.policy.can_act
        return True

    def render_snapshot(self, snapshot: FleetSnapshot) -> None:
        status = self.query_one("#cluster-status", Static)
        if not snapshot.clusters:
            status.update(
                Text("No Slurm cluster: start with --slurm HOST (or local), or [clusters].")
            )
            return
        names = [cluster.name for cluster in snapshot.clusters]
        if self.cluster_name not in names:
            self.cluster_name = names[0]
        cluster = snapshot.clusters[names.index(self.cluster_name)]
        self._cluster = cluster
        self.title = f"Slurm · {clean(cluster.name, 60)}"
        if len(names) > 1:
            self.title += f" ({names.index(cluster.name) + 1}/{len(names)}, k: next)"
        self.query_one("#clusters-line", Static).update(
            clusters_line(snapshot.clusters, cluster.name, self.palette, snapshot.generated_at)
        )
        status.update(status_line(cluster, self.palette))
        self._syncs["nodes"].apply(node_rows(cluster, self.palette))
        jobs = [job for job in cluster.jobs if job_matches(job, self.filter_text)]
        jobs.sort(key=JOB_ORDERS[self.order])
        title = f"Jobs (by {self.order}; s: sort, /: filter)"
        if self.filter_text:
            title += f"  filter: {clean(self.filter_text, 80)}"
        self.query_one("#jobs-title", Static).update(Text(title))
        self._syncs["jobs"].apply(job_rows(jobs))

    def _rerender(self) -> None:
        snapshot = self.console.fleet_snapshot
        if snapshot is not None:
            self.render_snapshot(snapshot)

    @on(DataTable.RowSelected, "#nodes-table")
    def node_chosen(self, event: DataTable.RowSelected) -> None:
        self.open_node(event.row_key.value)  # Enter or a click: the node's host

    @on(DataTable.RowSelected, "#jobs-table")
    def job_chosen(self, event: DataTable.RowSelected) -> None:
        cluster = self._cluster
        job = (
            next((j for j in cluster.jobs if job_label(j) == event.row_key.value), None)
            if cluster
            else None
        )
        if job is not None and job.nodes:
            self.open_node(job.nodes[0])  # where its batch script runs

    def action_next_cluster(self) -> None:
        snapshot = self.console.fleet_snapshot
        if snapshot is None or len(snapshot.clusters) < 2:
            self.notify("only one Slurm cluster is configured")
            return
        names = [cluster.name for cluster in snapshot.clusters]
        at = names.index(self.cluster_name) if self.cluster_name in names else -1
        self.cluster_name = names[(at + 1) % len(names)]
        self.render_snapshot(snapshot)

    def action_output(self) -> None:
        job = self._cursor_key("jobs")
        if job is not None and self._cluster is not None:
            self.console.open_job_log(self._cluster.name, job)

    def action_next_sort(self) -> None:
        self.query_one("#jobs-table", ClickTable).clear_sort()  # s: the screen's orders again
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
        """The highlighted row's key, if that table has focus (else nothing is selected)."""
        table = self.query_one(f"#{key}-table", DataTable)
        what = "node" if key == "nodes" else "job"
        if not table.has_focus or table.row_count == 0:
            self.notify(f"select a {what} row first (Tab moves between the tables)")
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


def status_line(cluster: SlurmCluster, palette: Palette, now: float | None = None) -> Text:
    line = Text(f"Slurm cluster {clean(cluster.name, 80)}: ")
    level = None if cluster.status == "ok" else "error" if cluster.status == "error" else "warning"
    line.append(cluster.status, style=palette.level(level) if level else "")
    if cluster.reason:
        line.append(f" ({clean(cluster.reason, 300)})")
    if cluster.status != "ok" and cluster.collected_at is not None:
        line.append(f", data from {(now or time.time()) - cluster.collected_at:.0f} s ago")
    line.append(f", {len(cluster.nodes)} nodes, {len(cluster.jobs)} jobs")
    return line


def clusters_line(
    clusters: tuple[SlurmCluster, ...], shown: str, palette: Palette, now: float
) -> Text:
    """Every cluster with its status and data age; the one shown is marked."""
    line = Text("Clusters: ")
    for number, cluster in enumerate(clusters):
        if number:
            line.append("  ·  ")
        name = clean(cluster.name, 60)
        line.append(
            f"▸{name}" if cluster.name == shown else name,
            style="bold" if cluster.name == shown else "",
        )
        level = (
            None if cluster.status == "ok" else "error" if cluster.status == "error" else "warning"
        )
        line.append(f" {cluster.status}", style=palette.level(level) if level else "")
        if cluster.collected_at is not None:
            line.append(f" {units.duration(max(0.0, now - cluster.collected_at))} old")
        else:
            line.append(" no data")
    return line


def _text(value: str | None, limit: int = 200) -> Text:
    return Text(clean(value, limit)) if value else Text(units.NA)


def node_rows(cluster: SlurmCluster, palette: Palette) -> Rows:
    rows: dict[str, tuple[Cell, ...]] = {}
    for node in cluster.nodes:
        level = NODE_LEVEL.get(node.summary.rstrip("*"))
        if node.summary.endswith("*"):
            level = "error"
        summary = clean(node.summary, 40)
        state = Text(summary, style=palette.level(level)) if level else Text(summary)
        rows[node.name] = (
            Text(clean(node.name, 80)),
            state,
            Text(f"{node.gpus_used or 0}/{node.gpus_total or 0}"),
            Text(f"{node.cpus_allocated or 0}/{node.cpus_total or 0}"),
            Text(_reason(node)),
        )
    return rows


def _reason(node: SlurmNode) -> str:
    if not node.reason:
        return ""
    who = f" [{node.reason_user or '?'}@{node.reason_time or '?'}]" if node.reason_user else ""
    return clean(f"{node.reason}{who}", 300)


def job_rows(jobs: list[SlurmJob]) -> Rows:
    return {
        job_label(job): (
            Text(clean(job_label(job), 40)),
            _text(job.user, 40),
            Text(clean(job.state, 20)),
            Text(units.duration(job.time_used_s) if job.time_used_s is not None else units.NA),
            Text(str(job.restarts) if job.restarts is not None else units.NA),
            _text(job.name, 40),
            Text(clean(",".join(job.nodes), 200) or units.NA),
            Text(
                clean(
                    " ".join(
                        f"{node}:{','.join(str(i) for i in indices)}"
                        for node, indices in sorted(job.gpu_indices.items())
                    )
                    or (f"{job.gpus_per_node}/node" if job.gpus_per_node else ""),
                    200,
                )
            ),
            Text(clean(job.reason or "", 80)),
        )
        for job in jobs
    }
