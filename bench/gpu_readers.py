"""NVML against nvidia-smi on a machine with a real NVIDIA driver: do the probe's two GPU
readers agree, and what does one read cost?

Run: python bench/gpu_readers.py [--reads N] [--json FILE]

Baselines in the same run: the probe's nvidia-smi fallback reader (the same fields through the
tool's CSV) and a bare ``nvidia-smi --query-gpu`` of those fields (the process start alone).
Fields that move between two reads (utilisation, power, clocks, temperature, energy) are
compared within a tolerance; the rest must be equal. Exits 2 where there is no driver.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from aiconsole.probe.host import Host
from aiconsole.probe.nvml import NvmlReader
from aiconsole.probe.processes import ProcessInfo
from aiconsole.probe.sampler import Sampler
from aiconsole.probe.smi import SMI_GPU_FIELDS, SmiReader

# Field -> how far the two reads may differ (absolute), for values that move on their own.
MOVING = {
    "util_gpu_percent": 25.0,
    "util_memory_percent": 25.0,
    "temperature_c": 3.0,
    "power_draw_w": 60.0,
    "sm_clock_mhz": 400.0,
    "memory_clock_mhz": 400.0,
    "memory_used_bytes": 512 * 1024**2,
    "fan_speed_percent": 10.0,
}


def timed(call: Any, reads: int) -> tuple[list[float], Any]:
    seconds, result = [], None
    for _ in range(reads):
        start = time.perf_counter()
        result = call()
        seconds.append(time.perf_counter() - start)
    return seconds, result


def agree(field: str, a: Any, b: Any) -> bool:
    if a is None or b is None:
        return a is b
    if field in MOVING and isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return abs(float(a) - float(b)) <= MOVING[field]
    if isinstance(a, float) or isinstance(b, float):
        return abs(float(a) - float(b)) < 0.01
    return bool(a == b)


def compare(nvml: dict[str, Any], smi: dict[str, Any]) -> list[tuple[str, Any, Any, str]]:
    rows = []
    # The same GPU in both: by UUID, which NVML and nvidia-smi number alike; by index if none.
    by_key = {gpu.get("uuid") or gpu.get("index"): gpu for gpu in smi.get("gpus", [])}
    for gpu in nvml.get("gpus", []):
        other = by_key.get(gpu.get("uuid") or gpu.get("index"), {})
        for field, _names, _convert in SMI_GPU_FIELDS:
            if field == "driver_version":
                continue  # a section field, compared below
            a, b = gpu.get(field), other.get(field)
            verdict = "same" if agree(field, a, b) else "DIFFERS"
            if a is None and b is None:
                verdict = "neither"
            elif a is None or b is None:
                verdict = "only nvml" if b is None else "only smi"
            rows.append((f"gpu{gpu.get('index')}.{field}", a, b, verdict))
    for key in ("driver_version", "cuda_driver_version"):
        a, b = nvml.get(key), smi.get(key)
        rows.append((key, a, b, "same" if a == b else "DIFFERS"))
    return rows


def median_ms(seconds: list[float]) -> str:
    return f"{statistics.median(seconds) * 1000:8.1f} ms"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reads", type=int, default=10)
    parser.add_argument("--json", metavar="FILE", help="write both readers' sections here")
    args = parser.parse_args()
    executable = shutil.which("nvidia-smi")
    host = Host("/")
    nvml_reader = NvmlReader(ProcessInfo(host))
    first = nvml_reader.read()
    if first["status"] != "ok" or executable is None:
        where = executable or "not on PATH"
        print(f"no NVIDIA driver here: nvml {first['status']} ({first.get('reason')}), {where}")
        return 2
    smi_reader = SmiReader(executable, ProcessInfo(host))
    smi_reader.read()  # the first read also learns which fields this driver rejects
    fields = ",".join(names[0] for _, names, _ in SMI_GPU_FIELDS)
    query = [executable, "--query-gpu=" + fields, "--format=csv,noheader,nounits"]

    nvml_seconds, nvml = timed(nvml_reader.read, args.reads)
    smi_seconds, smi = timed(smi_reader.read, args.reads)
    raw_seconds, _ = timed(lambda: subprocess.run(query, capture_output=True), args.reads)

    sampler = Sampler()
    sampler.sample()
    cpu_before = time.process_time()
    for _ in range(args.reads):
        sampler.sample()
    sample_cpu_ms = (time.process_time() - cpu_before) / args.reads * 1000

    gpus = nvml["gpus"]
    model = gpus[0].get("name") if gpus else "-"
    print(
        f"{len(gpus)} GPU(s): {model}, driver {nvml.get('driver_version')}, "
        f"CUDA {nvml.get('cuda_driver_version')}"
    )
    print(f"\none read of every GPU (median of {args.reads}):")
    print(f"  probe, NVML reader               {median_ms(nvml_seconds)}")
    print(f"  probe, nvidia-smi reader         {median_ms(smi_seconds)}")
    print(f"  baseline: nvidia-smi --query-gpu {median_ms(raw_seconds)}")
    print(f"probe CPU per whole-host sample    {sample_cpu_ms:8.1f} ms (mean of {args.reads})")

    rows = compare(nvml, smi)
    print(f"\n{'field':40} {'NVML':28} {'nvidia-smi':28} verdict")
    for name, a, b, verdict in rows:
        print(f"{name:40} {str(a)[:28]:28} {str(b)[:28]:28} {verdict}")
    differing = [row for row in rows if row[3] == "DIFFERS"]
    print(f"\n{len(rows)} fields compared, {len(differing)} differ")
    for gpu in gpus:
        for process in gpu.get("processes") or []:
            print(
                f"gpu{gpu['index']} pid {process['pid']} {process.get('command')!r}: "
                f"SM {process.get('gpu_util_percent')} %, "
                f"{process.get('gpu_memory_bytes')} bytes (NVML)"
            )
    if args.json:
        Path(args.json).write_text(json.dumps({"nvml": nvml, "nvidia-smi": smi}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
