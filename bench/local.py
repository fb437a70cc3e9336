"""Local benchmarks: snapshot --json, the probe's CPU per sample, and screen refresh cost.

Run: .venv/bin/python bench/local.py   (prints a table; asserts nothing)

Targets (issue: walking skeleton): snapshot < 0.5 s; probe < 5 ms CPU per sample; fleet
refresh render < 50 ms at 1,024 hosts x 8 GPUs.
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from aiconsole import probe  # noqa: E402
from tests.fakenvml.build import build  # noqa: E402
from tests.synthetic import fleet_store  # noqa: E402

RUNS = 5
REFRESHES = 20


def child_run(args: list[str], env: dict[str, str] | None = None) -> tuple[float, float]:
    """Wall seconds and peak RSS (MiB) of one child process."""
    start = time.perf_counter()
    process = subprocess.Popen(args, stdout=subprocess.DEVNULL, env=env)
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{args} failed")
    return wall, usage.ru_maxrss / 1024


def compile_bytecode() -> None:
    """Write the package's bytecode first, as an install does: with PYTHONDONTWRITEBYTECODE
    set (as in some shells and CI images) every run would otherwise recompile the modules
    changed since the last write, and the figure would measure the compiler."""
    import compileall

    compileall.compile_dir(REPO / "aiconsole", quiet=1)


def bench_snapshot(env: dict[str, str], label: str) -> list[tuple[str, str]]:
    rows = []
    for window in ("0.25", "0"):
        runs = [
            child_run(
                [sys.executable, "-m", "aiconsole", "snapshot", "--json", "--window", window], env
            )
            for _ in range(RUNS)
        ]
        walls = [w for w, _ in runs]
        rows.append(
            (
                f"snapshot --json --window {window} ({label})",
                f"median {statistics.median(walls):.3f} s, min {min(walls):.3f} s, "
                f"peak RSS {max(r for _, r in runs):.1f} MiB",
            )
        )
    return rows


def probe_cpu_per_sample(samples: int = 200) -> float:
    sampler = probe.Sampler()
    sampler.sample()
    start = time.process_time()
    for _ in range(samples):
        sampler.sample()
    return (time.process_time() - start) / samples * 1000


def probe_cpu_with_gpus(env: dict[str, str], samples: int = 200) -> float:
    code = (
        "import time; from aiconsole import probe\n"
        "s = probe.Sampler(); s.sample()\n"
        f"t = time.process_time()\nfor _ in range({samples}): s.sample()\n"
        f"print((time.process_time() - t) / {samples} * 1000)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True, cwd=REPO
    ).stdout
    return float(out)


async def refresh_times(
    hosts: int, gpus: int, processes: int, open_host: bool
) -> tuple[list[float], list[float]]:
    """(CPU seconds, wall seconds) per refresh: hand the screen a snapshot in which every host
    has a new sample, let it update, and render the frame a terminal would get.

    CPU time is the work; wall time also includes waiting for Textual's frame timer.
    """
    from aiconsole.app import ConsoleApp
    from aiconsole.fleet import Fleet

    stores = [fleet_store(hosts, gpus, processes, seed=seed, with_faults=False) for seed in (1, 2)]
    snapshots = [store.snapshot() for store in stores]
    app = ConsoleApp(Fleet(stores[0]), collect=False)
    cpu_times: list[float] = []
    wall_times: list[float] = []
    async with app.run_test(size=(160, 50)) as pilot:
        await pilot.pause()
        if open_host:
            app.open_host(snapshots[0].hosts[0].name)
            await pilot.pause()
            await pilot.pause()
        for n in range(REFRESHES + 2):
            start_cpu, start_wall = time.process_time(), time.perf_counter()
            app.fleet_snapshot = snapshots[n % 2]
            await pilot.pause()
            app.screen._compositor.render_update(full=True)  # the frame a terminal would get
            if n >= 2:  # the first two warm caches
                cpu_times.append(time.process_time() - start_cpu)
                wall_times.append(time.perf_counter() - start_wall)
    return cpu_times, wall_times


def describe(times: tuple[list[float], list[float]]) -> str:
    cpu, wall = times
    return (
        f"CPU median {statistics.median(cpu) * 1000:.1f} ms, max {max(cpu) * 1000:.1f} ms; "
        f"wall median {statistics.median(wall) * 1000:.1f} ms (n={len(cpu)})"
    )


def main() -> None:
    rows: list[tuple[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        lib = build(Path(tmp) / "lib")
        config = Path(tmp) / "nvml.conf"
        lines = ["device_count=8"]
        for index in range(8):
            lines += [
                f"gpu{index}.name=NVIDIA H100 80GB HBM3",
                f"gpu{index}.util_gpu=50",
                f"gpu{index}.util_memory=20",
                f"gpu{index}.memory_total=85899345920",
                f"gpu{index}.memory_used=1073741824",
                f"gpu{index}.temperature=60",
                f"gpu{index}.power_usage=300000",
                f"gpu{index}.power_limit=700000",
                f"gpu{index}.sm_clock=1980",
                f"gpu{index}.uuid=GPU-{index}",
                f"gpu{index}.bus_id=0000:{index:02x}:00.0",
                f"gpu{index}.processes={os.getpid()}:1073741824",
            ]
        config.write_text("\n".join(lines) + "\n")
        gpu_env = dict(os.environ, LD_LIBRARY_PATH=str(lib), FAKE_NVML_CONFIG=str(config))
        plain_env = {k: v for k, v in os.environ.items() if k != "LD_LIBRARY_PATH"}
        compile_bytecode()
        rows += bench_snapshot(plain_env, "no GPU")
        rows += bench_snapshot(gpu_env, "8 stand-in GPUs")
        rows.append(
            ("probe CPU per sample (this host, no GPU)", f"{probe_cpu_per_sample():.2f} ms")
        )
        rows.append(
            ("probe CPU per sample (8 stand-in GPUs)", f"{probe_cpu_with_gpus(gpu_env):.2f} ms")
        )
    rows.append(
        (
            "fleet screen refresh, 1,024 hosts x 8 GPUs",
            describe(asyncio.run(refresh_times(1024, 8, 2, open_host=False))),
        )
    )
    rows.append(
        (
            "host screen refresh, 8 GPUs x 50 processes",
            describe(asyncio.run(refresh_times(4, 8, 50, open_host=True))),
        )
    )
    width = max(len(name) for name, _ in rows)
    print(f"{'benchmark':<{width}}  result")
    for name, value in rows:
        print(f"{name:<{width}}  {value}")
    print(json.dumps({"cpus": os.cpu_count(), "python": sys.version.split()[0]}))


if __name__ == "__main__":
    main()
