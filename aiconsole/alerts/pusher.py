"""The background sender: diff findings, re-send active ones, resolve cleared ones.

``offer()`` is what the console calls on each refresh: it never blocks and never raises. The
sender task owns the network: one POST at a time per receiver, a deadline per request, and
retries with backoff that give up once a newer batch is waiting (it supersedes the old one).
"""

from __future__ import annotations

import asyncio
import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field

from aiconsole.alerts.payload import alertmanager_alert, webhook_document
from aiconsole.health.silences import muted
from aiconsole.model import Finding

RESEND_S = 60.0
"""Active alerts are re-sent this often (Alertmanager's resolve_timeout is 5 min by default)."""
ENDS_AFTER_S = 4 * RESEND_S
"""An active alert's endsAt: resolves by itself if four re-sends in a row are missed."""
REQUEST_TIMEOUT_S = 5.0
QUEUE = 8


@dataclass
class Delivery:
    """What the last attempt to a receiver did, for the status line and the tests."""

    sent: int = 0
    failed: int = 0
    dropped: int = 0
    last_error: str | None = None


def _post(url: str, body: bytes) -> None:
    request = urllib.request.Request(
        url, data=body, method="POST", headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=REQUEST_TIMEOUT_S) as response:
        response.read()


@dataclass
class AlertPusher:
    alertmanager: str | None = None
    """Base URL, e.g. ``http://127.0.0.1:9093``."""
    webhook: str | None = None
    clock: Callable[[], float] = time.time
    post: Callable[[str, bytes], None] = _post
    delivery: Delivery = field(default_factory=Delivery)
    _queue: asyncio.Queue[tuple[tuple[Finding, ...], float]] | None = None
    _active: dict[str, Finding] = field(default_factory=dict)
    _last_sent: float = 0.0
    _task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._queue = asyncio.Queue(maxsize=QUEUE)
        self._task = asyncio.get_running_loop().create_task(self._run(), name="alerts")

    def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()

    def offer(self, findings: tuple[Finding, ...]) -> None:
        """Hand over the current findings; drops the oldest batch if the sender is behind."""
        if self._queue is None:
            return
        if self._queue.full():
            self._queue.get_nowait()
            self.delivery.dropped += 1
        self._queue.put_nowait((findings, self.clock()))

    async def _run(self) -> None:
        assert self._queue is not None
        while True:
            findings, now = await self._queue.get()
            await self.send(findings, now)

    async def send(self, findings: tuple[Finding, ...], now: float) -> None:
        """Send what changed (and everything active once per resend period)."""
        current = {_key(f): f for f in findings if f.severity != "info" and not muted(f)}
        resolved = tuple(f for key, f in self._active.items() if key not in current)
        new = [f for key, f in current.items() if key not in self._active]
        due = now - self._last_sent >= RESEND_S
        if not (new or resolved or due) or not (current or resolved):
            self._active = current
            return
        bodies: list[tuple[str, bytes]] = []
        if self.alertmanager:
            alerts = [alertmanager_alert(f, now + ENDS_AFTER_S) for f in current.values()]
            alerts += [alertmanager_alert(f, now) for f in resolved]
            url = self.alertmanager.rstrip("/") + "/api/v2/alerts"
            bodies.append((url, json.dumps(alerts).encode()))
        if self.webhook:
            bodies.append((self.webhook, webhook_document(tuple(current.values()), resolved)))
        ok = True
        for url, body in bodies:
            ok &= await self._deliver(url, body)
        if ok:
            self._active = current
            self._last_sent = now

    async def _deliver(self, url: str, body: bytes) -> bool:
        delay = 0.5
        for _attempt in range(4):
            try:
                await asyncio.to_thread(self.post, url, body)
            except (OSError, urllib.error.URLError, ValueError) as error:
                self.delivery.failed += 1
                self.delivery.last_error = f"{url}: {error}"[:300]
                if self._queue is not None and not self._queue.empty():
                    return False  # a newer batch is waiting: it carries the whole state
                await asyncio.sleep(delay)
                delay *= 2
                continue
            self.delivery.sent += 1
            self.delivery.last_error = None
            return True
        return False


def _key(finding: Finding) -> str:
    return f"{finding.rule}@{finding.subject.key}"
