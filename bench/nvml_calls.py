"""Where one NVML read of every GPU spends its time: each pynvml call the probe makes, timed.

Run: python bench/nvml_calls.py [--reads N]   (a real NVIDIA driver, or the stand-in library)

Every ``nvml*`` function of the pynvml module is wrapped with a timer, the probe's NVML reader
reads every GPU ``--reads`` times, and the calls are listed by the time they took per read,
wall clock, with the whole read beside them. Asserts nothing.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from aiconsole.probe.host import Host
from aiconsole.probe.nvml import NvmlReader
from aiconsole.probe.processes import ProcessInfo

Timings = defaultdict[str, list[float]]


def wrap_every_call(module: Any, timings: Timings) -> None:
    def timed(name: str, call: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return call(*args, **kwargs)
            finally:
                timings[name].append(time.perf_counter() - start)

        return wrapper

    for name in dir(module):
        call = getattr(module, name)
        if name.startswith("nvml") and callable(call) and not isinstance(call, type):
            setattr(module, name, timed(name, call))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reads", type=int, default=20)
    args = parser.parse_args()
    import pynvml

    reader = NvmlReader(ProcessInfo(Host("/")))
    first = reader.read()  # initialise NVML (and learn what this driver supports) untimed
    if first["status"] != "ok":
        print(f"no NVIDIA driver here: {first['status']} ({first.get('reason')})")
        return 2
    timings: Timings = defaultdict(list)
    wrap_every_call(pynvml, timings)
    whole = []
    for _ in range(args.reads):
        start = time.perf_counter()
        reader.read()
        whole.append(time.perf_counter() - start)
    gpus = len(first["gpus"])
    per_read = sum(whole) / args.reads * 1000
    print(f"{gpus} GPU(s), {args.reads} reads: {per_read:.2f} ms per read of every GPU (wall)")
    print(f"{'call':52} {'calls/read':>10} {'us/call':>9} {'ms/read':>8} {'share':>6}")
    rows = sorted(timings.items(), key=lambda item: -sum(item[1]))
    for name, seconds in rows:
        ms_per_read = sum(seconds) / args.reads * 1000
        print(
            f"{name:52} {len(seconds) / args.reads:10.1f} {sum(seconds) / len(seconds) * 1e6:9.1f}"
            f" {ms_per_read:8.3f} {ms_per_read / per_read:6.0%}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
