"""Per-process GPU utilisation from NVML: the SM share ``nvidia-smi pmon`` shows per process."""

from __future__ import annotations

import time

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable, Dict, List, Optional, Tuple

    from aiconsole.probe.common import JsonDict


class ProcessUtilization:
    """NVML keeps a short buffer of per-process samples, one per driver sampling period (a
    fraction of a second to a second, by product), and lists a process only for the periods
    in which it used the GPU. A read takes the samples of the last WINDOW_S seconds and gives
    each process their mean, so a process that used the GPU reads the same whether the
    probe asks every 100 ms or every second; one without a sample in that time was idle and
    reads 0. (Asking only for samples newer than the previous read would read 0 for a busy
    process whenever the probe asks faster than the driver samples: seen on an H200.)
    """

    WINDOW_S = 1.0

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock  # NVML stamps its samples with the CPU's wall clock, in us

    def read(self, nvml: Any, handle: Any) -> Tuple[Optional[Dict[int, float]], str]:
        """SM utilisation per PID on one GPU, or None and NVML's reason."""
        since = int((self._clock() - self.WINDOW_S) * 1e6)
        try:
            samples = nvml.nvmlDeviceGetProcessUtilization(handle, since)
        except nvml.NVMLError_NotFound:
            return {}, ""  # no process used this GPU in the window
        except nvml.NVMLError as error:
            return None, str(error)
        per_pid: Dict[int, List[float]] = {}
        for sample in samples:
            per_pid.setdefault(int(sample.pid), []).append(float(sample.smUtil))
        return {pid: sum(values) / len(values) for pid, values in per_pid.items()}, ""


# Carries one GPU's per-process utilisation from its read to describe_processes; never sent.
PROCESS_UTIL = "process_util"


def attach_process_util(gpu: JsonDict) -> None:
    """Give each described process its SM utilisation, or say why there is none."""
    found = gpu.pop(PROCESS_UTIL, None)
    if found is None:
        return
    utilisation, reason = found
    for process in gpu.get("processes") or []:
        process["gpu_util_percent"] = (
            None if utilisation is None else utilisation.get(process["pid"], 0.0)
        )
    if utilisation is None:
        gpu["unavailable"]["processes.gpu_util_percent"] = reason
