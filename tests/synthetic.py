"""Deterministic fleets for screen tests, pictures and render benchmarks.

The host part of every sample is the recorded GPU node (tests/fixtures/gpuhost) read by the
real probe sampler; GPUs, processes and states are generated from the model types with a
seeded random source, so the same arguments always give the same fleet.
"""

from __future__ import annotations

import math
import random
import shutil
import tempfile
from functools import cache
from pathlib import Path

import msgspec

from aiconsole import probe
from aiconsole.collectors.base import decode_sample
from aiconsole.history import RECENT_POINTS, History
from aiconsole.model import (
    Gpu,
    GpuProcess,
    GpuSection,
    HostSample,
    HostState,
    NvLinkLink,
    XidEvent,
)
from aiconsole.store import FleetStore

FIXTURES = Path(__file__).parent / "fixtures"
NOW = 1_795_000_000.0
"""Fixed console clock, so data ages (and pictures) never change."""

COMMANDS = (
    "python train.py --config configs/llama-70b.yaml --nodes 16",
    "torchrun --nproc-per-node 8 finetune.py --lr 2e-5",
    "/opt/conda/bin/python -m vllm.entrypoints.openai.api_server --tp 8",
    "nccl-tests/build/all_reduce_perf -b 8 -e 8G -f 2 -g 1",
)
USERS = ("alice", "bob", "carol", "dmitri", "erin")


class _NoGpus:
    def read(self) -> dict[str, object]:
        return {"status": "no_driver", "source": "none", "reason": "recorded host", "gpus": []}


@cache
def recorded_host_sample() -> HostSample:
    """Second sample of the recorded GPU node (so every rate is filled in)."""

    class Statvfs:
        f_frsize, f_blocks, f_bfree, f_bavail = 4096, 250_000_000, 90_000_000, 80_000_000

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "root"
        shutil.copytree(FIXTURES / "gpuhost/t0", root)
        clock = [0.0]
        sampler = probe.Sampler(
            root=str(root),
            gpu_reader=_NoGpus(),
            statvfs=lambda _mount: Statvfs(),
            monotonic=lambda: clock[0],
            clock=lambda: NOW - 1.0,
        )
        sampler.sample()
        shutil.copytree(FIXTURES / "gpuhost/t1", root, dirs_exist_ok=True)
        clock[0] = 2.0
        raw = sampler.sample()
    raw["probe_cpu_s"] = 0.25
    raw["identity"]["python_version"] = "3.10.12"
    return decode_sample(raw)


def gpus(rng: random.Random, count: int, processes_per_gpu: int, lost: int | None) -> GpuSection:
    result = []
    for index in range(count):
        if index == lost:
            result.append(
                Gpu(
                    index=index,
                    name="NVIDIA H100 80GB HBM3",
                    lost=True,
                    unavailable={"handle": "GPU is lost"},
                )
            )
            continue
        total = 80 * 1024**3
        processes = tuple(
            GpuProcess(
                pid=10_000 + index * 100 + n,
                user=rng.choice(USERS),
                command=rng.choice(COMMANDS),
                gpu_memory_bytes=rng.randrange(1, 16) * 1024**3,
            )
            for n in range(processes_per_gpu)
        )
        result.append(
            Gpu(
                index=index,
                name="NVIDIA H100 80GB HBM3",
                uuid=f"GPU-{rng.getrandbits(32):08x}-0000-4000-8000-{index:012x}",
                bus_id=f"00000000:{0x18 + index * 0x10:02X}:00.0",
                util_gpu_percent=float(rng.choice((0, 3, 47, 88, 97, 100))),
                util_memory_percent=float(rng.randrange(0, 90)),
                memory_total_bytes=total,
                memory_used_bytes=rng.randrange(0, 80) * 1024**3,
                temperature_c=float(rng.randrange(31, 86)),
                power_draw_w=float(rng.randrange(70, 690)),
                power_limit_w=700.0,
                sm_clock_mhz=rng.choice((345, 1410, 1755, 1980)),
                # Depth fields from the index alone (no draws), so the values above stay put:
                # GPU 1 is power-capped, GPU 2 has corrected ECC errors and a pending remap,
                # GPU 3 has an NVLink down and a hardware slowdown.
                sm_clock_max_mhz=1980,
                memory_clock_mhz=2619,
                memory_clock_max_mhz=2619,
                performance_state=0,
                clock_event_reasons={1: ("sw_power_cap",), 3: ("hw_slowdown",)}.get(index, ()),
                energy_j=9.8e6 + index * 1e5,
                energy_session_j=3600.0,
                ecc_enabled=True,
                ecc_corrected_volatile=12 if index == 2 else 0,
                ecc_uncorrected_volatile=0,
                ecc_corrected_aggregate=40 if index == 2 else 0,
                ecc_uncorrected_aggregate=0,
                remapped_rows_correctable=1 if index == 2 else 0,
                remapped_rows_uncorrectable=0,
                remap_pending=index == 2,
                remap_failure=False,
                pcie_link_gen=5,
                pcie_link_gen_max=5,
                pcie_link_width=16,
                pcie_link_width_max=16,
                nvlink_links_up=17 if index == 3 else 18,
                nvlink_links_total=18,
                nvlink_links=_nvlink_links(index),
                mig_enabled=False,
                processes=tuple(
                    msgspec.structs.replace(p, cpu_percent=98.5, rss_bytes=6 * 1024**3)
                    for p in processes
                ),
            )
        )
    return GpuSection(status="ok", source="nvml", driver_version="550.54.15", gpus=tuple(result))


def _nvlink_links(index: int) -> tuple[NvLinkLink, ...]:
    """18 links, each carrying (index + 1) x 256 MiB/s in and half that out; GPU 3's last
    link is down."""
    links = []
    for link in range(18):
        up = not (index == 3 and link == 17)
        rate = (index + 1) * 256 * 1024**2 if up else None
        links.append(
            NvLinkLink(
                link=link,
                up=up,
                rx_bytes_per_s=None if rate is None else float(rate),
                tx_bytes_per_s=None if rate is None else rate / 2.0,
                unavailable={} if up else {"rx_bytes_per_s": "link is down"},
            )
        )
    return tuple(links)


def fleet_store(
    hosts: int = 6,
    gpus_per_host: int = 8,
    processes_per_gpu: int = 2,
    seed: int = 7,
    with_faults: bool = True,
) -> FleetStore:
    """A store holding ``hosts`` hosts; with faults, some are stale, unreachable or GPU-less."""
    rng = random.Random(seed)
    base = recorded_host_sample()
    store = FleetStore(clock=lambda: NOW)
    for n in range(hosts):
        name = f"gpu-node-{n + 1:02d}" if hosts < 100 else f"gpu{n + 1:04d}"
        identity = msgspec.structs.replace(base.identity, name=name, hostname=name)
        fault = n % 6 if with_faults else -1
        section = gpus(rng, gpus_per_host, processes_per_gpu, lost=3 if fault == 4 else None)
        if fault == 4 and gpus_per_host > 3:
            section = msgspec.structs.replace(section, xid_events=xid_events(section))
        if fault == 5:
            section = GpuSection(
                status="no_driver",
                source="none",
                reason="no NVIDIA driver (libnvidia-ml.so.1 not found)",
            )
        sample = msgspec.structs.replace(base, identity=identity, gpu=section)
        if fault == 2:
            store.put(
                HostState(
                    name=name, status="unreachable", reason="ssh: connect timed out after 5 s"
                )
            )
        elif fault == 3:
            store.put(
                HostState(
                    name=name,
                    status="stale",
                    reason="no sample within 5 s",
                    received_at=NOW - 42,
                    sample=sample,
                )
            )
        else:
            store.put(HostState(name=name, status="ok", received_at=NOW - 0.4, sample=sample))
    return store


def xid_events(section: GpuSection) -> tuple[XidEvent, ...]:
    """An hour-old contained ECC error from the kernel log, then GPU 3 falling off the bus."""
    second, lost = section.gpus[2], section.gpus[3]
    return (
        XidEvent(
            xid=94,
            name=probe.xid_name(94),
            at=NOW - 3600,
            source="kernel_log",
            gpu_index=2,
            bus_id=second.bus_id,
            uuid=second.uuid,
            detail="pid=48213, name=python, Ch 00000008, errorString CTX SWITCH TIMEOUT",
        ),
        XidEvent(
            xid=79,
            name=probe.xid_name(79),
            at=NOW - 30,
            source="nvml",
            gpu_index=3,
            bus_id=lost.bus_id,
            uuid=lost.uuid,
        ),
    )


def seed_history(history: History, store: FleetStore, seconds: int = RECENT_POINTS) -> None:
    """``seconds`` of made-up history per host and GPU (deterministic waves), one sample a
    second up to each host's latest, for the sparklines and charts."""
    snapshot = store.snapshot()
    for state in snapshot.hosts:
        sample = state.sample
        if sample is None or state.received_at is None:
            continue
        for t in range(seconds - 1):
            at = state.received_at - (seconds - 1 - t)
            history.add_sample(state.name, wave_sample(sample, t, seconds - 1 - t < 30), at)
    history.record(snapshot)  # each host's real sample is the newest point


def wave_sample(sample: HostSample, t: int, lost_tail: bool) -> HostSample:
    """``sample`` with its utilisation, power, memory and temperature on a wave at ``t``."""
    gpus = []
    for gpu in sample.gpu.gpus:
        phase = t / 9.0 + gpu.index
        if gpu.lost and lost_tail:
            gpus.append(gpu)
            continue
        gpus.append(
            msgspec.structs.replace(
                gpu,
                lost=False,
                util_gpu_percent=50 + 45 * math.sin(phase),
                power_draw_w=380 + 300 * math.sin(phase + 0.5),
                temperature_c=60 + 20 * math.sin(phase + 1.0),
                memory_used_bytes=int((40 + 30 * math.sin(phase / 3)) * 2**30),
            )
        )
    cpu = msgspec.structs.replace(sample.cpu, total_percent=50 + 40 * math.sin(t / 13.0))
    return msgspec.structs.replace(
        sample, cpu=cpu, gpu=msgspec.structs.replace(sample.gpu, gpus=tuple(gpus))
    )
