"""The probe's start-up cost on a host: a fresh interpreter that reads the payload the SSH
collector sends on stdin, compiles it, imports what it needs and takes its first sample.

Run: .venv/bin/python bench/startup.py [--root DIR] [python ...]   (prints a table; asserts
nothing). ``--root`` reads a recorded tree instead of this machine (e.g.
``tests/fixtures/amd-mi300x``, where the AMD readers are compiled too).

Each run is one fresh ``python -S -c BOOTSTRAP SIZE --count 1`` process, as on a host (``-S``: no
site-packages, so an installed pynvml or .pth file does not blur the figure). CPU time
(user + system, from wait4) is the figure to compare: it does not move with the load of the
machine the way wall time does. The median of RUNS runs is shown.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from aiconsole.collectors.ssh import BOOTSTRAP, PROBE_SOURCE  # noqa: E402

RUNS = 21


def one_run(
    python: str, payload: bytes, env: dict[str, str], extra: list[str]
) -> tuple[float, float]:
    """Wall and CPU seconds of one probe process that takes one sample and exits."""
    start = time.perf_counter()
    process = subprocess.Popen(
        [python, "-S", "-c", BOOTSTRAP, str(len(payload)), "--count", "1", *extra],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        env=env,
    )
    assert process.stdin is not None and process.stdout is not None
    process.stdin.write(payload)
    process.stdin.flush()  # and kept open: the bootstrap stops the probe when stdin ends
    process.stdout.read()
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - start
    process.stdin.close()
    process.stdout.close()
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{python}: the probe failed")
    return wall, usage.ru_utime + usage.ru_stime


def main() -> None:
    args = sys.argv[1:]
    extra = args[:2] if args[:1] == ["--root"] else []
    pythons = args[len(extra) :] or [sys.executable]
    env = {k: v for k, v in os.environ.items() if k not in ("LD_LIBRARY_PATH", "FAKE_NVML_CONFIG")}
    payload = bytes(PROBE_SOURCE)
    where = extra[1] if extra else "this machine"
    print(f"payload: {len(payload):,} bytes; reading {where}; {RUNS} runs each; median")
    print(f"{'python':<48} {'wall ms':>8} {'cpu ms':>8}")
    for python in pythons:
        runs = [one_run(python, payload, env, extra) for _ in range(RUNS)]
        wall = statistics.median(w for w, _ in runs) * 1000
        cpu = statistics.median(c for _, c in runs) * 1000
        print(f"{python:<48} {wall:>8.1f} {cpu:>8.1f}")


if __name__ == "__main__":
    main()
