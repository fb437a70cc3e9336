"""Measuring helpers shared by the fan-out benches."""

from __future__ import annotations

import resource
import statistics
import subprocess
import time
from collections.abc import Callable

PYTHON = "/usr/bin/python3"
Row = tuple[str, str]


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed_command(
    argv: list[str],
    ok: Callable[[subprocess.CompletedProcess[bytes]], bool],
    stdin: bytes | None = None,
) -> tuple[float, float]:
    """Wall and CPU seconds (the command and its children) of one run that must succeed."""
    cpu_before = children_cpu()
    start = time.perf_counter()
    result = subprocess.run(argv, capture_output=True, timeout=300, input=stdin)
    wall = time.perf_counter() - start
    if not ok(result):
        tail = result.stderr.decode(errors="replace").strip().splitlines()[-3:]
        raise SystemExit(f"{argv[0]} failed (exit {result.returncode}): {tail}")
    return wall, children_cpu() - cpu_before


def fmt_runs(runs: list[tuple[float, float]]) -> str:
    walls = [w for w, _ in runs]
    cpus = [c for _, c in runs]
    return (
        f"wall median {statistics.median(walls):.2f} s (min {min(walls):.2f}), "
        f"CPU {statistics.median(cpus):.1f} s (n={len(runs)})"
    )
