"""The Textual application: owns the collectors' tasks and publishes snapshots to screens."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Callable, Coroutine, Iterable
from typing import Any, Protocol

from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.reactive import reactive
from textual.screen import Screen
from textual.theme import Theme

from aiconsole.actions import slurm as slurm_actions
from aiconsole.actions.audit import AuditLog
from aiconsole.actions.diagnose import DiagnosisRun, plan_diagnose
from aiconsole.actions.execute import carry_out
from aiconsole.actions.incidents import IncidentRecorder, WatchedMutes
from aiconsole.actions.plan import Outcome, Plan
from aiconsole.actions.policy import Policy
from aiconsole.collectors.slurm import SlurmCollector
from aiconsole.fleet import Fleet
from aiconsole.history import DEFAULT_WINDOW_S, History
from aiconsole.model import FleetSnapshot
from aiconsole.recording.live import LiveRecording
from aiconsole.screens.fleet import FleetScreen
from aiconsole.screens.health import HealthScreen
from aiconsole.screens.help import HelpScreen
from aiconsole.screens.host import HostScreen
from aiconsole.screens.jobs import JobsScreen
from aiconsole.screens.logs import LogScreen
from aiconsole.screens.plan import PlanScreen, ReasonScreen
from aiconsole.screens.rebalance import RebalanceScreen
from aiconsole.screens.workloads import WorkloadsScreen
from aiconsole.slurm.commands import InvalidArgument
from aiconsole.slurm.runner import runner_for
from aiconsole.themes import ThemeKeeper

LOG_VIEW_TAIL = 200
"""Lines of a job's or pod's output a log view shows at once, before following new ones."""


class Source(Protocol):
    """Anything the console polls in a task of its own (collectors, clusters, feeds)."""

    @property
    def name(self) -> str: ...

    def run(self) -> Coroutine[Any, Any, None]: ...


class ConsoleApp(App[None]):
    CSS_PATH = "screens/console.tcss"
    TITLE = "aiconsole"
    HELP_SECTION = "Everywhere"
    BINDINGS = [
        Binding("q", "quit", "Quit", show=False),
        # Operators coming from k9s, htop and nvitop quit with Ctrl+C.
        Binding("ctrl+c", "quit", "Quit", show=False, priority=True),
        Binding("question_mark", "help", "Help", key_display="?"),
        # q, j, f and w work everywhere but are shown in the fleet screen's footer only (it
        # lists them itself): at 80 columns a footer has room for a screen's own keys.
        Binding("j", "jobs", "Slurm jobs", show=False),
        Binding("f", "health", "Findings", show=False),
        Binding("w", "workloads", "Kubernetes", show=False),
        Binding("b", "rebalance", "Rebalance", show=False),
        Binding("R", "toggle_recording", "Record", show=False),
    ]

    fleet_snapshot: reactive[FleetSnapshot | None] = reactive(None, always_update=True)
    """The latest fleet snapshot; screens watch it. Replaced, never mutated."""

    def __init__(
        self,
        fleet: Fleet,
        *,
        refresh_interval: float = 1.0,
        collect: bool = True,
        policy: Policy | None = None,
        audit: AuditLog | None = None,
        history_window: float = DEFAULT_WINDOW_S,
    ) -> None:
        """``collect=False`` shows whatever the store holds without polling (tests, pictures)."""
        super().__init__()
        self._start_theme: str | None = None
        self._theme_keeper: ThemeKeeper | None = None
        self.fleet = fleet
        self.refresh_interval = refresh_interval
        self._collect = collect
        self.policy = policy or Policy()
        self.audit = audit or AuditLog()
        self.incidents = IncidentRecorder(self.audit)
        self.gpu_history = History(window_s=history_window, interval_s=refresh_interval)
        """Every host's and GPU's recent past: the host screen's charts and sparklines."""
        self.live_recording = LiveRecording(interval=refresh_interval, groups=fleet.group_of)
        """``R`` records what this console publishes (aiconsole/recording/)."""

    def on_mount(self) -> None:
        if self._start_theme is not None:
            self.theme = self._start_theme
        self.theme_changed_signal.subscribe(self, self._keep_theme)
        self.push_screen(FleetScreen())
        if self._collect:
            # Each source in its own task: a slow one delays only itself.
            sources: list[tuple[Source, str, str]] = [
                *((c, "collect", "collector for") for c in self.fleet.collectors),
                *((c, "slurm", "Slurm collector for") for c in self.fleet.clusters),
                *((c, "kubernetes", "Kubernetes watch of context") for c in self.fleet.kube),
                *((c, "feed", "fleet source") for c in self.fleet.feeds),
            ]
            for source, kind, what in sources:
                self.run_worker(
                    source.run(),
                    name=f"{kind} {source.name}",
                    group="collectors",
                    exit_on_error=False,
                    description=f"{what} {source.name}",
                )
        self.fleet.health.mutes = WatchedMutes(self.audit)
        if self.fleet.alerts is not None:
            self.fleet.alerts.start()
        self.publish_snapshot()
        self.set_interval(self.refresh_interval, self.publish_snapshot, name="refresh")

    async def on_unmount(self) -> None:
        self.live_recording.stop()  # a recording running at quit is closed, not cut short
        # Kubernetes connections belong to this loop: close them before it ends.
        await self.fleet.aclose_kube()

    def use_theme(self, theme: str, keeper: ThemeKeeper | None = None) -> None:
        """Start with ``theme``; with ``keeper``, a theme chosen in the command palette is
        kept for the next start. Call before the app runs."""
        self._start_theme = theme
        self._theme_keeper = keeper

    def _keep_theme(self, theme: Theme) -> None:
        # The signal also announces the start theme: only a change from it is a choice.
        if theme.name == self._start_theme:
            return
        self._start_theme = theme.name
        if self._theme_keeper is not None:
            problem = self._theme_keeper.keep(theme.name)
            if problem is not None:
                self.notify(problem, severity="warning", markup=False)

    def publish_snapshot(self) -> None:
        """Hand the screens the store's current state (data ages move even without new data)."""
        snapshot = self.fleet.live_snapshot()
        self.gpu_history.record(snapshot)
        self.incidents.record(snapshot.findings)
        problem = self.live_recording.add(snapshot)
        if problem is not None:
            self.notify(problem, severity="error", markup=False)
        self.fleet_snapshot = snapshot

    def action_toggle_recording(self) -> None:
        self.notify(self.live_recording.toggle(self.audit.path), markup=False)

    def open_host(self, name: str) -> None:
        for feed in self.fleet.feeds:
            feed.focus(name)  # whole-fleet sources fetch an opened host's detail
        if self.fleet.live_detail is not None:
            self.fleet.live_detail.open(name)  # and stream it over SSH where it can
        self.push_screen(HostScreen(name))

    def action_health(self) -> None:
        if not isinstance(self.screen, HealthScreen):
            self.push_screen(HealthScreen())

    def action_workloads(self) -> None:
        if not isinstance(self.screen, WorkloadsScreen):
            self.push_screen(WorkloadsScreen())

    def action_rebalance(self) -> None:
        if not isinstance(self.screen, RebalanceScreen):
            self.push_screen(RebalanceScreen())

    def action_jobs(self) -> None:
        if not isinstance(self.screen, JobsScreen):
            self.push_screen(JobsScreen())

    def open_job_log(self, cluster: str, job_id: str) -> None:
        """Follow a job's output file in a log view, over the cluster's own connection."""
        collector = next((c for c in self.fleet.clusters if c.name == cluster), None)
        if collector is None:  # a replayed recording has no connection to read through
            self.notify(f"no live connection to cluster {cluster}", markup=False)
            return
        from aiconsole.logs.slurm_job import job_lines

        def lines(say: Callable[[str], None]) -> AsyncIterator[str]:
            return job_lines(
                collector.runner,
                job_id,
                cluster=cluster,
                count=LOG_VIEW_TAIL,
                follow=True,
                say=say,
                timeout=collector.timeout,
                ssh_config=self.fleet.ssh_config,
            )

        self.push_screen(LogScreen(f"{cluster} job {job_id}", lines))

    def open_pod_log(self, context: str, namespace: str, pod: str) -> None:
        """Follow a pod's log (its default container) in a log view."""
        collector = next((c for c in self.fleet.kube if c.name == context), None)
        if collector is None:
            self.notify(f"no live connection to context {context}", markup=False)
            return
        from aiconsole.logs.pod import follow_pod

        def lines(say: Callable[[str], None]) -> AsyncIterator[str]:
            return follow_pod(
                collector.name,
                collector.kubeconfig,
                collector.timeout,
                namespace,
                pod,
                container=None,
                count=LOG_VIEW_TAIL,
                follow=True,
                say=say,
            )

        self.push_screen(LogScreen(f"{context} pod {namespace}/{pod}", lines))

    # -- actions: the same plan -> confirm -> execute -> verify -> audit as the CLI ----------

    def start_drain(
        self, cluster: str, node: str, reason: str = "", incident: str | None = None
    ) -> None:
        """Ask why (``reason`` pre-fills the answer, e.g. from a finding), then plan."""

        def with_reason(answer: str | None) -> None:
            if answer:
                self.start_action(cluster, "drain", [node], answer, incident)

        self.push_screen(ReasonScreen(f"Drain {node}: why?", reason), with_reason)

    def start_action(
        self,
        cluster: str,
        action: str,
        targets: list[str],
        reason: str | None = None,
        incident: str | None = None,
    ) -> None:
        if not self.policy.can_act:
            self.notify("this console cannot act (viewer role or --read-only)", severity="error")
            return
        state = self.fleet.store.cluster(cluster)
        collector = next((c for c in self.fleet.clusters if c.name == cluster), None)
        if state is None or collector is None:
            return
        try:
            plan = slurm_actions.plan_action(state, action, targets, self.policy, reason)
            plan = dataclasses.replace(plan, incident=incident)
        except InvalidArgument as error:
            # The message quotes what was typed or read from Slurm: text, not markup.
            self.notify(str(error), severity="error", markup=False)
            return

        self.push_screen(PlanScreen(plan, self.on_slurm(collector)))

    def on_slurm(
        self, collector: SlurmCollector, verifier: slurm_actions.VerifierFactory | None = None
    ) -> Callable[[Plan, Callable[[str], None]], Coroutine[Any, Any, Outcome]]:
        """How the plan modal carries a confirmed plan out on ``collector``'s cluster."""

        async def execute(plan: Plan, progress: Callable[[str], None]) -> Outcome:
            outcome = await slurm_actions.carry_out_on_slurm(
                plan,
                collector.runner,
                collector.timeout,
                policy=self.policy,
                audit=self.audit,
                progress=progress,
                verifier=verifier,
            )
            await collector.poll_once()  # show the new state now, not at the next poll
            self.publish_snapshot()
            return outcome

        return execute

    def start_diagnose(
        self, host: str, incident: str | None = None, node: tuple[str, str] | None = None
    ) -> None:
        """Plan the configured diagnosis on ``host``; once confirmed it runs over SSH (or
        here, for ``local``), audited; if it passes and ``node`` (cluster, Slurm node) is
        known, the resume plan follows."""
        if not self.policy.can_act:
            self.notify("this console cannot act (viewer role or --read-only)", severity="error")
            return
        plan = dataclasses.replace(
            plan_diagnose(host, self.fleet.diagnose, reason="from the health screen"),
            incident=incident,
        )
        runner = runner_for(host, self.fleet.ssh_config)
        run = DiagnosisRun(runner, timeout=900.0)

        async def execute(plan: Plan, progress: Callable[[str], None]) -> Outcome:
            try:
                return await carry_out(
                    plan,
                    policy=self.policy,
                    audit=self.audit,
                    run=run.run,
                    verifier=run,
                    progress=progress,
                    verify_timeout=0.0,
                )
            finally:
                runner.close()

        def then(outcome: Outcome | None) -> None:
            if outcome is not None and outcome.ok and node is not None:
                self.start_action(node[0], "resume", [node[1]], incident=incident)

        self.push_screen(PlanScreen(plan, execute), then)

    def get_system_commands(self, screen: Screen[object]) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        yield SystemCommand("Slurm jobs", "Nodes and jobs of the Slurm cluster", self.action_jobs)
        yield SystemCommand("Findings", "Health findings, worst first", self.action_health)
        yield SystemCommand(
            "Rebalance",
            "Plan a rebalance (idle, defrag, hot) and carry it out",
            self.action_rebalance,
        )
        yield SystemCommand(
            "Kubernetes", "Nodes, pods and their GPUs of each context", self.action_workloads
        )
        if isinstance(screen, JobsScreen):
            yield SystemCommand(
                "Job output", "Follow the output of the job under the cursor", screen.action_output
            )
            yield SystemCommand(
                "Next Slurm cluster", "Show the next configured cluster", screen.action_next_cluster
            )
        if isinstance(screen, JobsScreen) and self.policy.can_act:
            for name, help_text, action in (
                ("Drain node", "Drain the node under the cursor", screen.action_drain),
                ("Resume node", "Resume the node under the cursor", screen.action_resume),
                ("Requeue job", "Requeue the job under the cursor", screen.action_requeue),
                ("Requeue and hold job", "Requeue, held", screen.action_requeue_hold),
                ("Release job", "Release the held job under the cursor", screen.action_release),
            ):
                yield SystemCommand(name, help_text, action)

    def action_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen())
