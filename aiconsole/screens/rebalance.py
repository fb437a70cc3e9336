"""The rebalance screen: the plan of the chosen policy for a Slurm cluster, recomputed from
each refresh (before/after per node, moves, refusals, figure of merit), carried out through
the confirmation modal like every other action.

The idle policy judges GPUs with the console's own health rules and history (an idle GPU is
one the running console has seen idle for ``[health] idle_minutes``). The plan quotes Slurm
(job names, users, reasons): it is cleaned and shown as ``Text``.

Kubernetes: :data:`KUBE_PLANNER` is the hook through which rebalance plans for the watched
Kubernetes contexts join this screen; it is empty in a build without them.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.widgets import Footer, Header, Static

from aiconsole.actions.plan import Outcome, Plan
from aiconsole.actions.policy import Policy
from aiconsole.actions.rebalance import Caps, plan_rebalance, verifier_for
from aiconsole.model import FleetSnapshot
from aiconsole.rebalance.hot import node_heat
from aiconsole.rebalance.moves import Result
from aiconsole.rebalance.policies import POLICIES, Choice, plan_policy
from aiconsole.screens.base import LiveScreen
from aiconsole.screens.plan import PlanScreen
from aiconsole.screens.rebalance_kube import kube_plans
from aiconsole.text import clean

Execute = Callable[[Plan, Callable[[str], None]], Awaitable[Outcome]]


@dataclass(frozen=True)
class ScopePlan:
    """One cluster's (or context's) plan under the chosen policy, ready for the modal."""

    scope: str
    plan: Plan
    result: Result
    execute: Execute | None = None
    """How to carry the plan out; None: on the Slurm cluster of this name (the console's
    collector for it runs the commands and re-reads)."""


KubePlanner = Callable[[FleetSnapshot, Choice, Policy], list[ScopePlan]]
KUBE_PLANNER: KubePlanner | None = None
"""Plans for the Kubernetes contexts in the snapshot, each with its own ``execute`` (set where
Kubernetes rebalancing is built in); the screen lists them after the Slurm clusters."""


def slurm_plans(snapshot: FleetSnapshot, choice: Choice, policy: Policy) -> list[ScopePlan]:
    """The plan for each Slurm cluster that could be read, as of ``snapshot``."""
    plans = []
    caps = Caps(choice.max_moves, choice.max_per_node, choice.max_per_user)
    for cluster in snapshot.clusters:
        if cluster.status not in ("ok", "stale"):
            continue
        result = plan_policy(choice, snapshot, cluster, time.time())
        plan = plan_rebalance(result, cluster, policy, caps, node_heat(snapshot, cluster))
        plans.append(ScopePlan(cluster.name, plan, result))
    return plans


def all_plans(snapshot: FleetSnapshot, choice: Choice, policy: Policy) -> list[ScopePlan]:
    plans = slurm_plans(snapshot, choice, policy)
    if KUBE_PLANNER is not None:
        plans += KUBE_PLANNER(snapshot, choice, policy)
    return plans


def plans_text(plans: list[ScopePlan], choice: Choice, can_act: bool) -> Text:
    lines = [f"policy: {choice.policy}   (p: next policy, x: carry out the first plan)"]
    if not can_act:
        lines.append("this console cannot act (viewer role or --read-only): plans only")
    if not plans:
        lines.append(
            "nothing to plan for yet: no Slurm cluster or Kubernetes context read "
            "(give --slurm HOST, [clusters] or --context)"
        )
    for scope in plans:
        lines.append("")
        lines.extend(clean(line, 1000) for line in scope.plan.describe().splitlines())
    return Text("\n".join(lines))


class RebalanceScreen(LiveScreen):
    BINDINGS = [
        Binding("escape", "app.pop_screen", "Back"),
        Binding("p", "next_policy", "Policy"),
        Binding("x", "execute", "Carry out"),
    ]

    def __init__(self, choice: Choice | None = None) -> None:
        super().__init__()
        self.choice = choice or Choice()
        self.plans: list[ScopePlan] = []

    def compose(self) -> ComposeResult:
        yield Header()
        with VerticalScroll(id="rebalance-scroll"):
            yield Static(Text("planning..."), id="rebalance-plan")
        yield Footer()

    def render_snapshot(self, snapshot: FleetSnapshot) -> None:
        policy = self.console.policy
        self.plans = all_plans(snapshot, self.choice, policy)
        self.plans += kube_plans(self.console, snapshot, self.choice, policy)
        text = plans_text(self.plans, self.choice, policy.can_act)
        self.query_one("#rebalance-plan", Static).update(text)

    def action_next_policy(self) -> None:
        following = POLICIES[(POLICIES.index(self.choice.policy) + 1) % len(POLICIES)]
        self.choice = replace(self.choice, policy=following)
        if self.console.fleet_snapshot is not None:
            self.render_snapshot(self.console.fleet_snapshot)

    def action_execute(self) -> None:
        app = self.console
        if not app.policy.can_act:
            app.notify("this console cannot act (viewer role or --read-only)", severity="error")
            return
        scope = next((s for s in self.plans if s.plan.command), None)
        if scope is None:
            app.notify("nothing to carry out: the plans only list", markup=False)
            return
        if scope.execute is not None:
            app.push_screen(PlanScreen(scope.plan, scope.execute))
            return
        collector = next((c for c in app.fleet.clusters if c.name == scope.scope), None)
        if collector is None:
            app.notify(f"{scope.scope}: not a Slurm cluster of this console", markup=False)
            return
        app.push_screen(PlanScreen(scope.plan, app.on_slurm(collector, verifier_for(scope.result))))
