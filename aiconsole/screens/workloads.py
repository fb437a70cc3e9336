"""The workloads screen: a Kubernetes cluster's nodes (state, GPUs, why cordoned) and the pods
on the node under the cursor, with cordon, uncordon, drain and restart on the rows.

Actions go through the shared path: the plan is read and made in a worker
(:func:`aiconsole.actions.kubernetes_session.prepare`), shown in the plan modal, and carried
out only on an explicit yes. The watch keeps the tables current afterwards.
"""

from __future__ import annotations

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.widgets import DataTable, Footer, Header, Static

from aiconsole import units
from aiconsole.kubernetes.drain import gpus_text
from aiconsole.model import FleetSnapshot, KubeCluster, KubePod
from aiconsole.screens.base import LiveScreen
from aiconsole.widgets.click_table import ClickTable
from aiconsole.widgets.render import Palette
from aiconsole.widgets.table_sync import Cell, Rows, TableSync

# Short columns first, so at 80 columns a node's state and reason, and a pod's restarts and
# age, stay in view; the long ones (product, owner) run off to the right, where it scrolls.
NODE_COLUMNS = (
    ("Node", None),
    ("State", None),
    ("GPUs", 7),
    ("Reason", None),
    ("Product", None),
)
POD_COLUMNS = (
    ("Pod", None),
    ("Phase", 10),
    ("Restarts", 8),
    ("Age", 8),
    ("GPUs", None),
    ("Why pending", None),
    ("Owner", None),
)
ACTING = ("cordon", "uncordon", "drain", "restart")


class WorkloadsScreen(LiveScreen):
    CSS_PATH = "workloads.tcss"
    BINDINGS = [
        Binding("escape", "app.pop_screen", "Back"),
        # Short names: the footer fits 80 columns (the help screen has them all).
        Binding("k", "next_cluster", "Cluster"),
        Binding("c", "cordon", "Cordon"),
        Binding("u", "uncordon", "Uncordon"),
        Binding("d", "drain", "Drain"),
        Binding("r", "restart", "Restart pod"),
        Binding("o", "output", "Pod log"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.cluster_name: str | None = None
        self._cluster: KubeCluster | None = None
        self._syncs: dict[str, TableSync] = {}
        self._node: str | None = None

    def compose(self) -> ComposeResult:
        yield Header()
        with VerticalScroll(id="workloads-body"):
            yield Static(id="kube-status")
            yield Static("Nodes", classes="section-title")
            yield self._table("kube-nodes", NODE_COLUMNS)
            yield Static("Pods", classes="section-title", id="kube-pods-title")
            yield self._table("kube-pods", POD_COLUMNS)
        yield Footer()

    def _table(self, key: str, columns: tuple[tuple[str, int | None], ...]) -> DataTable[Cell]:
        table = ClickTable(id=key)
        for column, width in columns:
            table.add_column(column, key=column, width=width)
        return table

    def on_mount(self) -> None:
        self.title = "Kubernetes"
        for key, columns in (("kube-nodes", NODE_COLUMNS), ("kube-pods", POD_COLUMNS)):
            self._syncs[key] = TableSync(
                self.query_one(f"#{key}", DataTable), [name for name, _ in columns]
            )
        self.query_one("#kube-nodes", DataTable).focus()  # arrows move along the nodes
        super().on_mount()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ACTING:
            return self.console.policy.can_act  # a viewer sees no action keys
        return True

    def render_snapshot(self, snapshot: FleetSnapshot) -> None:
        status = self.query_one("#kube-status", Static)
        clusters = {cluster.name: cluster for cluster in snapshot.kubernetes}
        if not clusters:
            status.update(
                Text("No Kubernetes cluster: start with --context NAME, or [kubernetes].")
            )
            return
        if self.cluster_name not in clusters:
            self.cluster_name = next(iter(clusters))
        cluster = clusters[self.cluster_name]
        self._cluster = cluster
        line = f"Kubernetes {cluster.name}: {cluster.status}"
        if cluster.reason:
            line += f" ({cluster.reason})"
        line += f", {len(cluster.nodes)} nodes, {len(cluster.pods)} pods"
        if len(clusters) > 1:
            line += f"  (k: next of {len(clusters)} clusters)"
        status.update(Text(line))
        self._syncs["kube-nodes"].apply(node_rows(cluster, self.palette))
        if self._node is None and cluster.nodes:
            self._node = cluster.nodes[0].name
        self._render_pods()

    def _render_pods(self) -> None:
        cluster, node = self._cluster, self._node
        if cluster is None:
            return
        pods = [pod for pod in cluster.pods if pod.node == node]
        self.query_one("#kube-pods-title", Static).update(
            Text(f"Pods on {node or 'no node'} ({len(pods)})")
        )
        now = self.console.fleet_snapshot.generated_at if self.console.fleet_snapshot else None
        self._syncs["kube-pods"].apply(pod_rows(pods, now))

    @on(DataTable.RowHighlighted, "#kube-nodes")
    def node_highlighted(self, event: DataTable.RowHighlighted) -> None:
        self._node = event.row_key.value
        self._render_pods()

    @on(DataTable.RowSelected, "#kube-nodes")
    def node_chosen(self, event: DataTable.RowSelected) -> None:
        self.open_node(event.row_key.value)  # Enter or a click: the node's host

    @on(DataTable.RowSelected, "#kube-pods")
    def pod_chosen(self, event: DataTable.RowSelected) -> None:
        cluster = self._cluster
        key = event.row_key.value
        pod = (
            next((p for p in cluster.pods if f"{p.namespace}/{p.name}" == key), None)
            if cluster
            else None
        )
        if pod is not None:
            self.open_node(pod.node)  # the host it runs on

    def _cursor_key(self, key: str) -> str | None:
        table = self.query_one(f"#{key}", DataTable)
        if table.row_count == 0:
            return None
        row_key, _ = table.coordinate_to_cell_key(table.cursor_coordinate)
        return row_key.value

    def action_next_cluster(self) -> None:
        snapshot = self.console.fleet_snapshot
        if snapshot is None or not snapshot.kubernetes:
            return
        names = [cluster.name for cluster in snapshot.kubernetes]
        at = names.index(self.cluster_name) if self.cluster_name in names else -1
        self.cluster_name = names[(at + 1) % len(names)]
        self._node = None
        self.render_snapshot(snapshot)

    def action_cordon(self) -> None:
        self._node_action("cordon")

    def action_uncordon(self) -> None:
        self._node_action("uncordon")

    def action_drain(self) -> None:
        self._node_action("drain")

    def action_restart(self) -> None:
        pod = self._cursor_key("kube-pods")
        if pod is not None:
            self._plan("restart", [pod])

    def action_output(self) -> None:
        pod = self._cursor_key("kube-pods")
        if pod is None or self.cluster_name is None:
            self.notify("no pod on this node: move to a node with pods first")
            return
        namespace, _, name = pod.partition("/")
        self.console.open_pod_log(self.cluster_name, namespace, name)

    def _node_action(self, action: str) -> None:
        node = self._cursor_key("kube-nodes")
        if node is not None:
            self._plan(action, [node])

    @work(exclusive=True, group="kube-plan", exit_on_error=False)
    async def _plan(self, action: str, targets: list[str]) -> None:
        """Read the cluster and make the plan off the UI thread, then show it for a yes."""
        from aiconsole.actions.kubernetes_session import KubeTarget, prepare
        from aiconsole.kubernetes.api import ApiError, KubeUnavailable
        from aiconsole.kubernetes.names import InvalidName
        from aiconsole.screens.plan import PlanScreen

        console = self.console
        if not console.policy.can_act or self.cluster_name is None:
            self.notify("this console cannot act (viewer role or --read-only)", severity="error")
            return
        collector = next((c for c in console.fleet.kube if c.name == self.cluster_name), None)
        if collector is None:
            return
        target = KubeTarget(collector.name, collector.kubeconfig, collector.timeout)
        try:
            plan, execute = await prepare(target, action, targets, console.policy, console.audit)
        except (ApiError, KubeUnavailable, InvalidName) as error:
            self.notify(str(error), severity="error")
            return
        await console.push_screen(PlanScreen(plan, execute))


def node_rows(cluster: KubeCluster, palette: Palette) -> Rows:
    rows: dict[str, tuple[Cell, ...]] = {}
    for node in cluster.nodes:
        level = "error" if node.ready is not True else ("warning" if node.unschedulable else None)
        state: Cell = Text(node.summary, style=palette.level(level)) if level else node.summary
        gpus = f"{node.gpus_used}/{node.gpus_total}" if node.gpu_allocatable else ""
        rows[node.name] = (node.name, state, gpus, node.reason or "", node.gpu_product or "")
    return rows


def pod_rows(pods: list[KubePod], now: float | None) -> Rows:
    return {
        f"{pod.namespace}/{pod.name}": (
            f"{pod.namespace}/{pod.name}",
            pod.phase,
            str(pod.restarts),
            units.duration(now - pod.created_at)
            if now is not None and pod.created_at is not None
            else units.NA,
            gpus_text(pod) if pod.gpus else "",
            pod.pending_reason or "",
            f"{pod.owner_kind} {pod.owner_name}" if pod.owner_kind else "bare",
        )
        for pod in pods
    }
