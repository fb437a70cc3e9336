"""Health rules over hand-built snapshots: each rule fires on its evidence, names the job it
hits, stays quiet on the look-alike that is fine, and hysteresis raises and clears on time."""

from __future__ import annotations

from dataclasses import replace

import msgspec

from aiconsole.health import Thresholds, TrackerState, exit_code, judge, observe, step
from aiconsole.model import (
    Filesystem,
    FleetSnapshot,
    Gpu,
    GpuProcess,
    GpuSection,
    HostState,
    IbPort,
    SlurmCluster,
    SlurmJob,
    SlurmNode,
    XidEvent,
)
from tests.synthetic import recorded_host_sample

NOW = 1_795_000_000.0


def gpu(index: int, **fields: object) -> Gpu:
    base: dict[str, object] = {
        "index": index,
        "name": "NVIDIA H100 80GB HBM3",
        "util_gpu_percent": 90.0,
        "pcie_link_gen": 5,
        "pcie_link_gen_max": 5,
        "pcie_link_width": 16,
        "pcie_link_width_max": 16,
        "nvlink_links_up": 18,
        "nvlink_links_total": 18,
        "ecc_uncorrected_volatile": 0,
    }
    base.update(fields)
    return Gpu(**base)  # type: ignore[arg-type]


def host(
    name: str = "gpu07",
    gpus: tuple[Gpu, ...] = (),
    xids: tuple[XidEvent, ...] = (),
    status: str = "ok",
    **sample_fields: object,
) -> HostState:
    sample = recorded_host_sample()
    sample = msgspec.structs.replace(
        sample,
        identity=msgspec.structs.replace(sample.identity, name=name, hostname=f"{name}.example"),
        gpu=GpuSection(status="ok", source="nvml", gpus=gpus, xid_events=xids),
        **sample_fields,
    )
    return HostState(name=name, status=status, received_at=NOW, age_s=0.5, sample=sample)  # type: ignore[arg-type]


def cluster(*jobs: SlurmJob, flags: tuple[str, ...] = ()) -> SlurmCluster:
    return SlurmCluster(
        name="prod",
        status="ok",
        nodes=(SlurmNode(name="gpu07", state="mixed", flags=flags, summary="mixed"),),
        jobs=jobs,
    )


JOB = SlurmJob(
    job_id="81234",
    name="llama-70b",
    user="alice",
    state="RUNNING",
    nodes=("gpu07",),
    gpu_indices={"gpu07": (3,)},
)


def snap(*hosts: HostState, clusters: tuple[SlurmCluster, ...] = ()) -> FleetSnapshot:
    return FleetSnapshot(generated_at=NOW, hosts=hosts, clusters=clusters)


def xid(number: int, index: int, age_s: float = 60.0) -> XidEvent:
    names = {79: "GPU has fallen off the bus", 13: "Graphics Engine Exception"}
    return XidEvent(
        xid=number, name=names.get(number, "?"), at=NOW - age_s, source="nvml", gpu_index=index
    )


def test_xid_79_is_critical_names_the_gpu_the_job_and_its_user() -> None:
    snapshot = snap(host(gpus=(gpu(3),), xids=(xid(79, 3),)), clusters=(cluster(JOB),))
    (finding,) = judge(snapshot)
    assert finding.rule == "gpu.xid_critical"
    assert finding.severity == "critical"
    assert finding.subject.host == "gpu07"
    assert finding.subject.kind == "gpu"
    assert finding.summary == "XID 79 (GPU has fallen off the bus) on GPU 3 (job 81234 alice)"
    assert [(w.id, w.user, w.name, w.cluster) for w in finding.workloads] == [
        ("81234", "alice", "llama-70b", "prod")
    ]
    assert finding.action == "drain"
    assert exit_code(snapshot, (finding,)) == 2


def test_the_join_matches_the_job_on_the_gpu_index_not_the_node() -> None:
    # The job holds GPU 3; an XID on GPU 5 hits nobody.
    snapshot = snap(host(gpus=(gpu(3), gpu(5)), xids=(xid(79, 5),)), clusters=(cluster(JOB),))
    (finding,) = judge(snapshot)
    assert finding.workloads == ()
    assert finding.summary.endswith("on GPU 5")


def test_an_application_xid_is_information_and_an_old_xid_is_nothing() -> None:
    snapshot = snap(host(gpus=(gpu(3),), xids=(xid(13, 3),)))
    (finding,) = judge(snapshot)
    assert finding.severity == "info"
    assert exit_code(snapshot, (finding,)) == 0
    old = snap(host(gpus=(gpu(3),), xids=(xid(79, 3, age_s=7 * 3600),)))
    assert judge(old) == ()
    assert judge(old, Thresholds(xid_window_s=8 * 3600))[0].severity == "critical"


def test_gpu_faults_each_fire_on_their_own_field() -> None:
    cases = {
        "gpu.lost": gpu(0, lost=True),
        "gpu.ecc_uncorrectable": gpu(0, ecc_uncorrected_volatile=2),
        "gpu.remap_failure": gpu(0, remap_failure=True, remap_pending=True),
        "gpu.remap_pending": gpu(0, remap_pending=True),
        "gpu.retired_pages_pending": gpu(0, retired_pages_pending=True),
        "gpu.nvlink_down": gpu(0, nvlink_links_up=16),
        "gpu.slowdown": gpu(0, clock_event_reasons=("hw_thermal_slowdown", "sw_power_cap")),
        "gpu.pcie_degraded": gpu(0, pcie_link_width=8),
    }
    for rule, faulty in cases.items():
        rules = [f.rule for f in judge(snap(host(gpus=(faulty,))))]
        assert rules == [rule], (rule, rules)
    assert judge(snap(host(gpus=(gpu(0),)))) == ()


def test_pcie_generation_below_max_counts_only_while_busy() -> None:
    # Idle GPUs drop their link generation on purpose to save power.
    idle = gpu(0, pcie_link_gen=1, util_gpu_percent=0.0)
    busy = gpu(0, pcie_link_gen=3, util_gpu_percent=95.0)
    assert judge(snap(host(gpus=(idle,)))) == ()
    (finding,) = judge(snap(host(gpus=(busy,))))
    assert finding.summary == "PCIe Gen3 x16, capable of Gen5 x16 on GPU 0"


def test_a_gpu_process_outside_every_job_on_a_slurm_node_is_an_orphan() -> None:
    process = GpuProcess(pid=4242, user="mallory", command="python mine.py")
    gpus = (gpu(2, processes=(process,)), gpu(3, processes=(process,)))
    (finding,) = judge(snap(host(gpus=gpus), clusters=(cluster(JOB),)))
    assert finding.rule == "gpu.orphan_process"
    assert finding.subject.name == "2"
    assert "4242" in finding.summary and "mallory" in finding.summary
    # Not a Slurm node: nobody can say the process is out of place.
    assert judge(snap(host(gpus=gpus))) == ()


def test_hysteresis_raises_after_n_bad_samples_and_clears_after_m_good_ones() -> None:
    thresholds = Thresholds(raise_after=3, clear_after=2)
    bad = snap(host(gpus=(gpu(0, ecc_uncorrected_volatile=1),)))
    good = snap(host(gpus=(gpu(0),)))
    state = TrackerState()
    raised = []
    for n, snapshot in enumerate([bad, bad, bad, good, bad, good, good, good]):
        observations, counters = observe(snapshot, thresholds, state.counters, NOW + n)
        state, findings = step(state, observations, counters, thresholds, NOW + n)
        raised.append(len(findings))
    assert raised == [0, 0, 1, 1, 1, 1, 0, 0]


def test_a_raised_finding_keeps_its_first_seen_time() -> None:
    thresholds = Thresholds(raise_after=2)
    bad = snap(host(gpus=(gpu(0, lost=True),)))
    state = TrackerState()
    for n in range(4):
        observations, counters = observe(bad, thresholds, state.counters, NOW + 10 * n)
        state, findings = step(state, observations, counters, thresholds, NOW + 10 * n)
    (finding,) = findings
    assert (finding.first_seen, finding.last_seen) == (NOW, NOW + 30)


def test_an_allocated_gpu_idle_for_the_threshold_is_waste_and_not_before() -> None:
    thresholds = Thresholds(idle_minutes=30)
    idle = snap(host(gpus=(gpu(3, util_gpu_percent=0.0),)), clusters=(cluster(JOB),))
    state = TrackerState()
    seen = {}
    for minute in (0, 10, 29, 30, 31):
        now = NOW + 60 * minute
        observations, counters = observe(idle, thresholds, state.counters, now)
        state, findings = step(state, observations, counters, thresholds, now)
        seen[minute] = [f.rule for f in findings]
    assert seen == {0: [], 10: [], 29: [], 30: ["gpu.idle_allocated"], 31: ["gpu.idle_allocated"]}
    # One-shot judgement has no history: an idle GPU is not judged there.
    assert judge(idle) == ()
    # Idle but allocated to nobody: not waste of a job.
    unallocated = snap(host(gpus=(gpu(3, util_gpu_percent=0.0),)))
    observations, _ = observe(unallocated, thresholds, {}, NOW)
    assert observations == []


def test_ib_errors_count_only_when_they_grow_and_a_reset_counter_is_not_growth() -> None:
    def port(symbol_errors: int, state: str = "ACTIVE") -> HostState:
        ib = IbPort(
            device="mlx5_0",
            port=1,
            state=state,
            phys_state="LinkUp",
            link_layer="InfiniBand",
            symbol_errors=symbol_errors,
            link_downed=0,
        )
        return host(ib_ports=(ib,))

    thresholds = Thresholds()
    first, counters = observe(snap(port(100)), thresholds, {}, NOW)
    assert first == []  # a month-old count is not a problem today
    grown, counters = observe(snap(port(105)), thresholds, counters, NOW + 1)
    assert [(o.rule, o.evidence["increase"]) for o in grown] == [("ib.symbol_errors_rising", "5")]
    reset, _ = observe(snap(port(0)), thresholds, counters, NOW + 2)
    assert reset == []
    down, _ = observe(snap(port(0, state="DOWN")), thresholds, {}, NOW)
    assert [o.rule for o in down] == ["ib.port_down"]


def test_a_filesystem_that_does_not_answer_is_critical_and_a_full_one_a_warning() -> None:
    hung = Filesystem(
        mount="/lustre",
        device="mgs@o2ib:/fs",
        fstype="lustre",
        unavailable={"size_bytes": "statvfs did not answer in 2.0 s"},
    )
    full = Filesystem(
        mount="/scratch",
        device="/dev/nvme0n1",
        fstype="xfs",
        size_bytes=1000,
        used_bytes=960,
        free_bytes=40,
    )
    roomy = Filesystem(
        mount="/home",
        device="/dev/nvme1n1",
        fstype="xfs",
        size_bytes=1000,
        used_bytes=940,
        free_bytes=60,
    )
    findings = judge(snap(host(filesystems=(hung, full, roomy))))
    assert [(f.rule, f.severity, f.subject.name) for f in findings] == [
        ("fs.not_answering", "critical", "/lustre"),
        ("fs.full", "warning", "/scratch"),
    ]


def test_unreachable_and_stale_hosts_and_a_silent_slurm_node() -> None:
    down = HostState(name="gpu09", status="unreachable", reason="connect timed out")
    stale = replace_state(host("gpu10"), status="stale", age_s=40.0)
    silent = cluster(JOB, flags=("NOT_RESPONDING",))
    findings = judge(snap(down, stale, clusters=(silent,)))
    # Worst first, then by subject.
    assert [(f.rule, f.severity, f.subject.key) for f in findings] == [
        ("host.unreachable", "critical", "gpu09/host"),
        ("slurm.node_not_responding", "critical", "prod/slurm_node/gpu07"),
        ("host.stale", "warning", "gpu10/host"),
    ]
    assert findings[0].summary == "unreachable: connect timed out"
    assert [w.id for w in findings[1].workloads] == ["81234"]
    assert exit_code(FleetSnapshot(generated_at=NOW), ()) == 3


def replace_state(state: HostState, **fields: object) -> HostState:
    return msgspec.structs.replace(state, **fields)


def test_thresholds_come_from_the_config_table_and_bad_values_are_refused() -> None:
    import pytest

    from aiconsole.health.thresholds import ThresholdError

    assert Thresholds.from_table({"raise_after": 2, "idle_minutes": 5.5}) == replace(
        Thresholds(), raise_after=2, idle_minutes=5.5
    )
    for bad in (
        {"nope": 1},
        {"raise_after": 0},
        {"raise_after": 1.5},
        {"idle_minutes": -1},
        {"idle_minutes": float("nan")},
        {"idle_minutes": True},
        {"xid_window_s": "1h"},
    ):
        with pytest.raises(ThresholdError):
            Thresholds.from_table(bad)
