"""The GPUs in trouble across the fleet, so the per-GPU health rules judge every host.

The fleet queries bring per-host figures (:data:`aiconsole.prometheus.queries.GPU_FIELDS`),
not GPUs, and a host's GPUs come only with its drill-down. An XID or an ECC fault on one of
80,000 GPUs must not wait for someone to open its host, so one more query asks the server
for the GPUs whose fault series are not zero, and only those: a healthy fleet's answer is
empty, whatever its size. Each such GPU enters its host's sample (``gpu.gpus``; the host's
figures stay in ``gpu.totals``), its last XID as an XID event, and the same rules that judge
a probe's GPUs judge it.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Iterable

import msgspec

from aiconsole.model import Gpu, HostSample, XidEvent
from aiconsole.probe import xid_name
from aiconsole.prometheus.client import PrometheusClient, PrometheusUnavailable, Series
from aiconsole.prometheus.detail import gpus_of
from aiconsole.prometheus.fleet import host_key

FAULTS = (
    "DCGM_FI_DEV_XID_ERRORS",
    "DCGM_FI_DEV_ECC_DBE_VOL_TOTAL",
    "DCGM_FI_DEV_ROW_REMAP_FAILURE",
    "DCGM_FI_DEV_ROW_REMAP_PENDING",
    "DCGM_FI_DEV_RETIRED_PENDING",
)
"""dcgm-exporter's fault series, each zero on a healthy GPU (the XID one is the last XID)."""
TROUBLE = " or ".join(f"{metric} != 0" for metric in FAULTS)
TROUBLE_EVERY_S = 30.0
"""How often the fleet is asked. Each ask has the server read every GPU's fault series: at
10,000 hosts x 8 GPUs, 1.3 s for five series per GPU (2 cores), as much as a fleet refresh."""

Trouble = tuple[tuple[Gpu, ...], tuple[XidEvent, ...]]


def trouble_by_host(series: Iterable[Series]) -> dict[str, Trouble]:
    """The answer to :data:`TROUBLE`, per host name: its GPUs in trouble and their XIDs."""
    grouped: dict[str, list[Series]] = {}
    for s in series:
        key = host_key(
            s.labels.get("hostname", ""), s.labels.get("Hostname", ""), s.labels.get("instance", "")
        )
        if key is not None:
            grouped.setdefault(key.name, []).append(s)
    found: dict[str, Trouble] = {}
    for name, host_series in grouped.items():
        gpus, xids = gpus_of(host_series)
        events = tuple(
            XidEvent(xid=xid, name=xid_name(xid), source="dcgm-exporter", gpu_index=index)
            for index, xid in sorted(xids.items())
            if xid
        )
        found[name] = (gpus, events)
    return found


def with_trouble(sample: HostSample, trouble: Trouble | None) -> HostSample:
    """``sample`` with its host's GPUs in trouble, if any."""
    if trouble is None:
        return sample
    gpus, events = trouble
    section = msgspec.structs.replace(sample.gpu, gpus=gpus, xid_events=events)
    return msgspec.structs.replace(sample, gpu=section)


class TroubleWatch:
    """Asks :data:`TROUBLE` every :data:`TROUBLE_EVERY_S`, between refreshes: started after
    a refresh has written the fleet and taken in by a later one, so it never competes with
    the fleet's own queries for the server. A one-shot snapshot asks it alongside instead."""

    def __init__(self, client: PrometheusClient, every_s: float = TROUBLE_EVERY_S) -> None:
        self._client = client
        self.every_s = every_s
        self.by_host: dict[str, Trouble] = {}
        """Host name -> its GPUs in trouble, as of the last answer."""
        self._task: asyncio.Future[list[Series]] | None = None
        self._asked_at = -every_s

    def take_answer(self) -> None:
        """The last question's answer, if it is back; a failed one keeps the last word."""
        task = self._task
        if task is None or not task.done():
            return
        self._task = None
        if task.cancelled():
            return
        error = task.exception()
        if error is None:
            self.by_host = trouble_by_host(task.result())
        elif not isinstance(error, PrometheusUnavailable):
            raise error

    def ask_if_due(self) -> None:
        now = time.monotonic()
        if self._task is None and now - self._asked_at >= self.every_s:
            self._asked_at = now
            self._task = asyncio.ensure_future(self._client.query(TROUBLE))

    async def ask_now(self) -> None:
        # On failure the fleet is still worth showing: its GPUs' trouble stays unknown.
        with contextlib.suppress(PrometheusUnavailable):
            self.by_host = trouble_by_host(await self._client.query(TROUBLE))

    def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            self._task = None
