"""The confirmation modal: shows an action's plan, runs it only on an explicit yes, and shows
the verification's progress and the outcome (the same machinery as the CLI's).

The plan quotes Slurm (job names, reasons): each line is cleaned and shown as ``Text``. A
plan made from a reading that is not fresh (a ``stale`` cluster) says so first, and the
first yes only asks again.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Static

from aiconsole.actions.plan import Outcome, Plan
from aiconsole.text import clean

Execute = Callable[[Plan, Callable[[str], None]], Awaitable[Outcome]]


class ReasonScreen(ModalScreen[str | None]):
    """Asks why (a drain needs a reason; it is what the next person on call reads)."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, title: str, initial: str = "") -> None:
        super().__init__()
        self._title = title
        self._initial = initial
        """Filled in from a finding, editable before it is used."""

    def compose(self) -> ComposeResult:
        with Vertical(id="reason-box", classes="modal-box"):
            yield Static(Text(clean(self._title, 200)), classes="modal-title")
            yield Input(
                value=self._initial, placeholder="reason, e.g. xid 79 on GPU 3", id="reason-input"
            )
            yield Static("Enter to continue, Escape to cancel", classes="modal-hint")

    @on(Input.Submitted)
    def submitted(self, event: Input.Submitted) -> None:
        if event.value.strip():
            self.dismiss(event.value.strip())

    def action_cancel(self) -> None:
        self.dismiss(None)


class PlanScreen(ModalScreen[Outcome | None]):
    BINDINGS = [
        Binding("escape", "cancel", "Cancel"),
        Binding("y", "confirm", "Confirm", show=False),
        Binding("n", "cancel", "Cancel", show=False),
    ]

    def __init__(self, plan: Plan, execute: Execute) -> None:
        super().__init__()
        self.plan = plan
        self._execute = execute
        self._acting = False
        self._cautioned = False
        self._lines: list[str] = []
        self.outcome: Outcome | None = None

    def compose(self) -> ComposeResult:
        with Vertical(id="plan-box", classes="modal-box"):
            yield Static(Text(f"Confirm {self.plan.action}"), classes="modal-title")
            with VerticalScroll(id="plan-scroll"):
                yield Static(plan_text(self.plan), id="plan-text")
                yield Static(Text(""), id="plan-progress")
            with Horizontal(id="plan-buttons"):
                yield Button(
                    f"{self.plan.action} (y)",
                    id="plan-confirm",
                    variant="error",
                    disabled=not self.plan.allowed,
                )
                yield Button("Cancel (n)", id="plan-cancel")

    @on(Button.Pressed, "#plan-confirm")
    def action_confirm(self) -> None:
        if self._acting or self.outcome is not None or not self.plan.allowed:
            return
        if self.plan.caution and not self._cautioned:
            self._cautioned = True
            self._progress(
                "This plan rests on data that may be old (see CAUTION above). "
                f"Press y again to {self.plan.action} anyway, n to cancel."
            )
            return
        self._acting = True
        self.query_one("#plan-confirm", Button).disabled = True
        self.query_one("#plan-cancel", Button).label = "Close"
        self._carry_out()

    @on(Button.Pressed, "#plan-cancel")
    def action_cancel(self) -> None:
        if self._acting:
            return  # the command is out: wait for the outcome (it is audited either way)
        self.dismiss(self.outcome)

    def _progress(self, line: str) -> None:
        self._lines.append(clean(line, 1000))
        self.query_one("#plan-progress", Static).update(Text("\n".join(self._lines)))

    @work(exclusive=True)
    async def _carry_out(self) -> None:
        try:
            outcome = await self._execute(self.plan, self._progress)
        except Exception as error:  # refused or failed: say so in the modal
            self._progress(f"not done: {error}")
        else:
            self.outcome = outcome
            verdict = {
                "verified": "done and verified",
                "unknown": "outcome UNKNOWN (no answer; Slurm may still apply it)",
            }.get(outcome.status, "NOT verified")
            self._progress(
                f"{verdict}: " + ", ".join(f"{r.target}={r.state}" for r in outcome.results)
            )
            if outcome.error:
                self._progress(f"failed: {outcome.error}")
        finally:
            self._acting = False


def plan_text(plan: Plan) -> Text:
    """The plan as the CLI prints it, each line cleaned (it quotes names users chose)."""
    return Text("\n".join(clean(line, 1000) for line in plan.describe().splitlines()))
