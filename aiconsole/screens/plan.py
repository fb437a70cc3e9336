"""The confirmation modal: shows an action's plan, runs it only on an explicit yes, and shows
the verification's progress and the outcome (the same machinery as the CLI's)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Static

from aiconsole.actions.plan import Outcome, Plan

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
            yield Static(self._title, classes="modal-title")
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
        self.outcome: Outcome | None = None

    def compose(self) -> ComposeResult:
        with Vertical(id="plan-box", classes="modal-box"):
            yield Static(f"Confirm {self.plan.action}", classes="modal-title")
            with VerticalScroll(id="plan-scroll"):
                yield Static(self.plan.describe(), id="plan-text", markup=False)
                yield Static("", id="plan-progress", markup=False)
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
        progress = self.query_one("#plan-progress", Static)
        progress.update(f"{progress.content}\n{line}".strip())

    @work(exclusive=True)
    async def _carry_out(self) -> None:
        try:
            outcome = await self._execute(self.plan, self._progress)
        except Exception as error:  # refused or failed: say so in the modal
            self._progress(f"not done: {error}")
        else:
            self.outcome = outcome
            verdict = "done and verified" if outcome.ok else "NOT verified"
            self._progress(
                f"{verdict}: " + ", ".join(f"{r.target}={r.state}" for r in outcome.results)
            )
            if outcome.error:
                self._progress(f"failed: {outcome.error}")
        finally:
            self._acting = False
