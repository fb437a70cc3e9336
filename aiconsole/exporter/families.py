"""The custom collector: metric families built from one fleet snapshot, on demand.

Nothing here keeps per-metric objects in sync with the fleet: each scrape (or each new
snapshot, when output is cached) turns the snapshot it is handed into fresh families, in a
private registry, so a host that left the fleet simply stops appearing.

Values the console does not know are left out (no series), never published as ``0``.
Names follow the Prometheus rules: base units (seconds, bytes, ratios), ``_total`` on
counters, ``_info`` for label-only series; GPU fields that dcgm-exporter also publishes keep
its names (:mod:`aiconsole.exporter.dcgm`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, InfoMetricFamily
from prometheus_client.registry import Collector

from aiconsole.exporter import dcgm, hosts
from aiconsole.exporter.findings import finding_families
from aiconsole.exporter.kube import kubernetes_families
from aiconsole.model import FleetSnapshot

Metric = GaugeMetricFamily | CounterMetricFamily | InfoMetricFamily


class SnapshotCollector(Collector):
    """Yields the families of whatever snapshot ``current()`` returns; never collects itself."""

    def __init__(self, current: Callable[[], FleetSnapshot | None]) -> None:
        self._current = current

    def collect(self) -> Iterator[Metric]:
        snapshot = self._current()
        if snapshot is None:
            return
        yield from families(snapshot)


def families(snapshot: FleetSnapshot) -> Iterator[Metric]:
    yield from gpu_families(snapshot)
    yield from hosts.host_families(snapshot)
    yield from hosts.cluster_families(snapshot)
    yield from kubernetes_families(snapshot)
    yield from finding_families(snapshot)


def gpu_families(snapshot: FleetSnapshot) -> Iterator[Metric]:
    gauges = [
        GaugeMetricFamily(field.name, field.help, labels=dcgm.GPU_LABELS) for field in dcgm.FIELDS
    ]
    getters = [field.value for field in dcgm.FIELDS]
    xid = GaugeMetricFamily(dcgm.XID_ERRORS, dcgm.XID_HELP, labels=dcgm.GPU_LABELS)
    lost = GaugeMetricFamily(
        "aiconsole_gpu_lost",
        "1 when the driver reports the GPU as fallen off the bus.",
        labels=dcgm.GPU_LABELS,
    )
    nvlink_up = GaugeMetricFamily(
        "aiconsole_gpu_nvlink_links_up", "NVLink links up.", labels=dcgm.GPU_LABELS
    )
    nvlink_total = GaugeMetricFamily(
        "aiconsole_gpu_nvlink_links", "NVLink links the GPU has.", labels=dcgm.GPU_LABELS
    )
    for state in snapshot.hosts:
        sample = state.sample
        if sample is None:
            continue
        section = sample.gpu
        last_xid: dict[int, int] = {}
        for event in section.xid_events:  # oldest first: the last one wins
            if event.gpu_index is not None:
                last_xid[event.gpu_index] = event.xid
        xid_watched = "xid_live" not in section.unavailable
        for gpu in section.gpus:
            labels = dcgm.gpu_labels(state.name, gpu)
            lost.add_metric(labels, 1.0 if gpu.lost else 0.0)
            for gauge, value_of in zip(gauges, getters, strict=True):
                value = value_of(gpu)
                if value is not None:
                    gauge.add_metric(labels, value)
            if gpu.index in last_xid:
                xid.add_metric(labels, float(last_xid[gpu.index]))
            elif xid_watched:
                xid.add_metric(labels, 0.0)  # as DCGM: 0 until the first XID
            if gpu.nvlink_links_up is not None:
                nvlink_up.add_metric(labels, float(gpu.nvlink_links_up))
            if gpu.nvlink_links_total is not None:
                nvlink_total.add_metric(labels, float(gpu.nvlink_links_total))
    yield from gauges
    yield xid
    yield lost
    yield nvlink_up
    yield nvlink_total
