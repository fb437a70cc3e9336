"""Per-host summaries: every field filled in, the figures right, and the fleet table's kept
entries following a host whose sample, reason or findings changed."""

from __future__ import annotations

import gc

import msgspec
import pytest

from aiconsole.model import FleetSnapshot, HostState
from aiconsole.screens.fleet import COLUMNS, fleet_cells, sizing_cells
from aiconsole.screens.fleet_rows import RowCache
from aiconsole.summary import HostSummary, summarize
from tests.synthetic import fleet_store

FIELDS = [f.name for f in msgspec.structs.fields(HostSummary)]


def test_a_summary_names_each_figure_and_cannot_be_changed() -> None:
    """Built positionally (the fast way): each figure must land in the field of its name."""
    states = fleet_store(hosts=12).snapshot().hosts
    assert {s.status for s in states} == {"ok", "stale", "unreachable"}
    for state in states:
        summary = summarize(state, (3, "critical"))
        assert (summary.name, summary.status, summary.reason) == (
            state.name,
            state.status,
            state.reason,
        )
        assert (summary.age_s, summary.findings, summary.worst_finding) == (
            state.age_s,
            3,
            "critical",
        )
        built = HostSummary(**{name: getattr(summary, name) for name in FIELDS})
        assert summary == built and hash(summary) == hash(built)
        assert not gc.is_tracked(summary)
        with pytest.raises(AttributeError):
            summary.name = "other"  # type: ignore[misc]
    sampled = summarize(next(s for s in states if s.sample is not None))
    assert sampled.findings == 0 and sampled.worst_finding is None
    assert sampled.cpu_percent is not None and sampled.memory_total_bytes is not None


def test_gpu_figures_leave_out_lost_gpus() -> None:
    states = {s.name: s for s in fleet_store(hosts=12).snapshot().hosts}
    with_lost = states["gpu-node-05"]  # the synthetic fleet's fifth host lost GPU 3
    assert with_lost.sample is not None
    live = [g for g in with_lost.sample.gpu.gpus if not g.lost]
    assert len(live) == 7
    summary = summarize(with_lost)
    assert summary.gpu_count == 8
    utils = [g.util_gpu_percent or 0.0 for g in live]
    assert summary.gpu_util_mean == pytest.approx(sum(utils) / len(utils))
    assert summary.gpu_temp_max == max(g.temperature_c or 0.0 for g in live)
    assert summary.gpu_memory_used_bytes == sum(g.memory_used_bytes or 0 for g in live)
    assert summary.gpu_memory_total_bytes == 7 * 80 * 1024**3
    assert summary.gpu_power_w == pytest.approx(sum(g.power_draw_w or 0.0 for g in live))
    no_driver = summarize(states["gpu-node-06"])
    assert no_driver.gpu_count == 0 and no_driver.gpu_util_mean is None
    never_sampled = summarize(states["gpu-node-03"])
    assert never_sampled.gpu_count is None and never_sampled.cpu_percent is None


def _with(snapshot: FleetSnapshot, index: int, **changes: object) -> FleetSnapshot:
    hosts = list(snapshot.hosts)
    hosts[index] = msgspec.structs.replace(hosts[index], **changes)
    return msgspec.structs.replace(snapshot, hosts=tuple(hosts))


REASON = [c.key for c in COLUMNS].index("reason")


def test_kept_entries_follow_new_samples_reasons_and_findings() -> None:
    first = fleet_store(hosts=6, with_faults=False).snapshot()
    host: HostState = first.hosts[2]
    assert host.sample is not None
    cache = RowCache(fleet_cells, sizing_cells, [c.key for c in COLUMNS].index("age"))

    cache.summaries(first, {host.name: (2, "warning")}, current_ages=False)
    (row,) = cache.rows([summarize(host)])
    assert cache.drawn(row)[2] == ("2", "warning")

    # A new sample and no findings left: the summary says none, the row is the same object
    # (what it is sized by did not change) and is drawn with the new figures.
    hotter = msgspec.structs.replace(
        host.sample.gpu.gpus[0], temperature_c=99.0, util_gpu_percent=100.0
    )
    gpu = msgspec.structs.replace(host.sample.gpu, gpus=(hotter, *host.sample.gpu.gpus[1:]))
    later = _with(first, 2, sample=msgspec.structs.replace(host.sample, gpu=gpu))
    (summary,) = [s for s in cache.summaries(later, {}, current_ages=False) if s.name == host.name]
    assert (summary.findings, summary.worst_finding, summary.gpu_temp_max) == (0, None, 99.0)
    (again,) = cache.rows([summary])
    assert again is row
    assert cache.drawn(again)[2] == ("", "")
    assert cache.drawn(again)[[c.key for c in COLUMNS].index("temp")][0] == "99C"

    # A new reason: a new row, sized by it.
    stale = _with(later, 2, status="stale", reason="no sample within 5 s")
    (summary,) = [s for s in cache.summaries(stale, {}, current_ages=False) if s.name == host.name]
    (moved,) = cache.rows([summary])
    assert moved is not row
    assert moved.cells[REASON] == ("no sample within 5 s", "dim")


def test_snapshot_instances_are_left_out_of_the_cyclic_collector() -> None:
    """A 10,000-host fleet's instances, tracked, made every full collection a pause of the
    TUI; immutable trees cannot form cycles, so they are not tracked at all."""
    snapshot = fleet_store(hosts=3, with_faults=False).snapshot()
    state = snapshot.hosts[0]
    assert state.sample is not None and state.sample.gpu.gpus
    for instance in (snapshot, state, state.sample, state.sample.gpu, state.sample.gpu.gpus[0]):
        assert not gc.is_tracked(instance), type(instance).__name__
