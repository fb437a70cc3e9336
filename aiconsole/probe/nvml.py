"""NVIDIA GPUs through NVML (pynvml when the host has it)."""

from __future__ import annotations

import sys
import time

from aiconsole.probe.clocks import (
    PSTATE_UNKNOWN,
    clock_event_names,
    read_clock_reasons,
    read_nvlinks,
)
from aiconsole.probe.common import MAX_GPUS, NVML_DEADLINE_S, _text, keep_first
from aiconsole.probe.deadline import CallTimedOut, DeadlineRunner
from aiconsole.probe.nvlink import NvLinkRates
from aiconsole.probe.nvml_kept import KeptAnswers
from aiconsole.probe.nvml_memory import read_memory_errors
from aiconsole.probe.nvml_process_util import PROCESS_UTIL, ProcessUtilization, attach_process_util
from aiconsole.probe.processes import ProcessInfo, describe_processes

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable, Dict, List, Optional, Tuple

    from aiconsole.probe.common import JsonDict, RawProcess


class NvmlReader:
    """GPUs through pynvml, initialised once per probe process.

    Every NVML call is wrapped: a call the driver does not support leaves that field ``None``
    with NVML's own message as the reason; a lost GPU is flagged and its siblings still read.
    Each GPU is read with a deadline: a GPU whose driver stops answering is reported with its
    reason (and its identity from its last good read) while the others are still read.
    """

    RETRY_INIT_S = 30.0

    def __init__(
        self,
        process_info: ProcessInfo,
        monotonic: Callable[[], float] = time.monotonic,
        runner: Optional[DeadlineRunner] = None,
        deadline_s: float = NVML_DEADLINE_S,
    ) -> None:
        self._process_info = process_info
        self._monotonic = monotonic
        self._runner = runner if runner is not None else DeadlineRunner()
        self.deadline_s = deadline_s
        self._identities: Dict[int, JsonDict] = {}
        self._nvml: Any = None
        self._driver_version: Optional[str] = None
        self._cuda_version: Optional[str] = None
        self._first_energy_mj: Dict[int, int] = {}
        self._nvlink_rates = NvLinkRates()
        self._process_util = ProcessUtilization(time.time)
        self._kept = KeptAnswers(monotonic)
        self._failure: Optional[JsonDict] = None
        self._last_init_attempt: Optional[float] = None

    def _init(self) -> Optional[JsonDict]:
        """Initialise NVML; return a gpu section describing the failure, or None."""
        now = self._monotonic()
        if self._nvml is not None:
            return None
        if (
            self._last_init_attempt is not None
            and now - self._last_init_attempt < self.RETRY_INIT_S
        ):
            return self._failure
        self._last_init_attempt = now
        try:
            import pynvml  # type: ignore[import-not-found, unused-ignore]
        except ImportError:
            self._failure = {
                "status": "no_bindings",
                "source": "none",
                "reason": "pynvml is not installed for %s" % sys.executable,
            }
            return self._failure
        try:
            versions = self._runner.call(("nvml",), self.deadline_s, self._start, pynvml)
        except CallTimedOut as late:
            self._failure = {
                "status": "error",
                "source": "nvml",
                "reason": "nvmlInit %s" % late,
            }
            return self._failure
        except pynvml.NVMLError_LibraryNotFound:
            self._failure = {
                "status": "no_driver",
                "source": "none",
                "reason": "no NVIDIA driver (libnvidia-ml.so.1 not found)",
            }
            return self._failure
        except pynvml.NVMLError_DriverNotLoaded:
            self._failure = {
                "status": "no_driver",
                "source": "none",
                "reason": "NVIDIA driver is not loaded",
            }
            return self._failure
        except pynvml.NVMLError as error:
            self._failure = {
                "status": "error",
                "source": "nvml",
                "reason": "nvmlInit failed: %s" % error,
            }
            return self._failure
        self._nvml = pynvml
        self._failure = None
        self._driver_version, self._cuda_version = versions
        return None

    @classmethod
    def _start(cls, pynvml: Any) -> Tuple[Optional[str], Optional[str]]:
        """nvmlInit, then the driver's and CUDA's versions: (driver, CUDA)."""
        pynvml.nvmlInit()
        try:
            driver: Optional[str] = _text(pynvml.nvmlSystemGetDriverVersion())
        except pynvml.NVMLError:
            driver = None
        return driver, cls._read_cuda_version(pynvml)

    @property
    def module(self) -> Any:
        """The initialised pynvml module (None before a successful init)."""
        return self._nvml

    @staticmethod
    def _read_cuda_version(pynvml: Any) -> Optional[str]:
        for name in ("nvmlSystemGetCudaDriverVersion_v2", "nvmlSystemGetCudaDriverVersion"):
            call = getattr(pynvml, name, None)
            if call is None:
                continue
            try:
                version = int(call())
            except pynvml.NVMLError:
                continue
            return "%d.%d" % (version // 1000, (version % 1000) // 10)
        return None

    def read(self) -> JsonDict:
        failure = self._init()
        if failure is not None:
            return dict(failure, gpus=[])
        nvml = self._nvml
        try:
            count = self._runner.call(("nvml",), self.deadline_s, nvml.nvmlDeviceGetCount)
        except (nvml.NVMLError, CallTimedOut) as error:
            return {
                "status": "error",
                "source": "nvml",
                "gpus": [],
                "driver_version": self._driver_version,
                "reason": "nvmlDeviceGetCount failed: %s" % error,
            }
        truncated: Dict[str, str] = {}
        indexes = keep_first(list(range(count)), MAX_GPUS, "gpus", truncated)
        gpus = [self._read_gpu_in_time(index) for index in indexes]
        describe_processes(gpus, self._process_info, truncated)
        for gpu in gpus:
            attach_process_util(gpu)
        section: JsonDict = {
            "status": "ok",
            "source": "nvml",
            "driver_version": self._driver_version,
            "cuda_driver_version": self._cuda_version,
            "gpus": gpus,
        }
        if truncated:
            section["truncated"] = truncated
        return section

    def _read_gpu_in_time(self, index: int) -> JsonDict:
        try:
            gpu: JsonDict = self._runner.call(
                ("gpu", index), self.deadline_s, self._read_gpu, index
            )
        except CallTimedOut:
            # Still hung or newly so: the same words, so a row does not flicker between two.
            reason = "NVML call did not return within %.1f s" % self.deadline_s
            gpu = dict(self._identities.get(index, {}), index=index, lost=False)
            gpu["unavailable"] = {"gpu": reason}
            return gpu
        self._identities[index] = {key: gpu.get(key) for key in ("name", "uuid", "bus_id")}
        return gpu

    def _read_gpu(self, index: int) -> JsonDict:
        nvml = self._nvml
        unavailable: Dict[str, str] = {}
        gpu: JsonDict = {"index": index, "unavailable": unavailable}
        lost: List[bool] = []
        kept = self._kept
        which = ["#%d" % index]  # the GPU's UUID once read: answers are kept per GPU

        def ask(field: str, call: Callable[..., Any], *args: Any) -> Any:
            if lost:
                unavailable[field] = "GPU is lost"
                return None
            known = kept.get(which[0], field)
            if known is not None:
                if known[1] is not None:
                    unavailable[field] = known[1]
                return known[0]
            try:
                value = call(*args)
            except nvml.NVMLError_GpuIsLost:
                lost.append(True)
                unavailable[field] = "GPU is lost"
            except nvml.NVMLError_NotSupported as error:
                unavailable[field] = str(error)
                kept.not_supported(which[0], field, str(error))
            except nvml.NVMLError as error:
                unavailable[field] = str(error)
            else:
                kept.answered(which[0], field, value)
                return value
            return None

        handle = ask("handle", nvml.nvmlDeviceGetHandleByIndex, index)
        if handle is None:
            gpu["lost"] = bool(lost)
            return gpu
        unavailable.pop("handle", None)
        gpu["name"] = _text(ask("name", nvml.nvmlDeviceGetName, handle))
        gpu["uuid"] = _text(ask("uuid", nvml.nvmlDeviceGetUUID, handle))
        which[0] = gpu["uuid"] or which[0]
        pci = ask("bus_id", nvml.nvmlDeviceGetPciInfo, handle)
        gpu["bus_id"] = _text(pci.busId) if pci is not None else None

        memory = self._memory(ask, handle, unavailable)
        if memory is not None:
            gpu["memory_total_bytes"] = int(memory.total)
            gpu["memory_used_bytes"] = int(memory.used)
        else:
            gpu["memory_total_bytes"] = gpu["memory_used_bytes"] = None
            for field in ("memory_total_bytes", "memory_used_bytes"):
                unavailable[field] = unavailable.get("memory", "unknown")
            unavailable.pop("memory", None)

        rates = ask("util_gpu_percent", nvml.nvmlDeviceGetUtilizationRates, handle)
        if rates is not None:
            gpu["util_gpu_percent"] = float(rates.gpu)
            gpu["util_memory_percent"] = float(rates.memory)
        else:
            gpu["util_gpu_percent"] = gpu["util_memory_percent"] = None
            unavailable["util_memory_percent"] = unavailable["util_gpu_percent"]

        temperature = ask(
            "temperature_c", nvml.nvmlDeviceGetTemperature, handle, nvml.NVML_TEMPERATURE_GPU
        )
        gpu["temperature_c"] = None if temperature is None else float(temperature)
        power = ask("power_draw_w", nvml.nvmlDeviceGetPowerUsage, handle)
        gpu["power_draw_w"] = None if power is None else power / 1000.0
        limit = ask("power_limit_w", nvml.nvmlDeviceGetEnforcedPowerLimit, handle)
        gpu["power_limit_w"] = None if limit is None else limit / 1000.0
        gpu["sm_clock_mhz"] = ask(
            "sm_clock_mhz", nvml.nvmlDeviceGetClockInfo, handle, nvml.NVML_CLOCK_SM
        )
        self._read_depth(gpu, ask, handle, index)
        gpu["processes"] = self._processes(ask, handle)
        if gpu["processes"] and not lost:
            gpu[PROCESS_UTIL] = self._process_util.read(nvml, handle)
        gpu["lost"] = bool(lost)
        return gpu

    def _read_depth(self, gpu: JsonDict, ask: Callable[..., Any], handle: Any, index: int) -> None:
        """Clocks, fan, P-state, clock-event reasons, energy, ECC, remaps, links, MIG."""
        nvml = self._nvml
        unavailable = gpu["unavailable"]
        gpu["sm_clock_max_mhz"] = ask(
            "sm_clock_max_mhz", nvml.nvmlDeviceGetMaxClockInfo, handle, nvml.NVML_CLOCK_SM
        )
        gpu["memory_clock_mhz"] = ask(
            "memory_clock_mhz", nvml.nvmlDeviceGetClockInfo, handle, nvml.NVML_CLOCK_MEM
        )
        gpu["memory_clock_max_mhz"] = ask(
            "memory_clock_max_mhz", nvml.nvmlDeviceGetMaxClockInfo, handle, nvml.NVML_CLOCK_MEM
        )
        fan = ask("fan_speed_percent", nvml.nvmlDeviceGetFanSpeed, handle)
        gpu["fan_speed_percent"] = None if fan is None else float(fan)
        pstate = ask("performance_state", nvml.nvmlDeviceGetPerformanceState, handle)
        if pstate == PSTATE_UNKNOWN:
            pstate = None
            unavailable["performance_state"] = "driver reports the P-state as unknown"
        gpu["performance_state"] = pstate
        mask = read_clock_reasons(self._nvml, ask, handle, unavailable)
        gpu["clock_event_reasons"] = None if mask is None else clock_event_names(int(mask))

        energy = ask("energy_j", nvml.nvmlDeviceGetTotalEnergyConsumption, handle)
        if energy is None:
            gpu["energy_j"] = gpu["energy_session_j"] = None
            unavailable["energy_session_j"] = unavailable["energy_j"]
        else:
            first = self._first_energy_mj.setdefault(index, int(energy))
            gpu["energy_j"] = int(energy) / 1000.0
            gpu["energy_session_j"] = max(0, int(energy) - first) / 1000.0

        read_memory_errors(nvml, gpu, ask, handle)

        for field, call in (
            ("pcie_link_gen", "nvmlDeviceGetCurrPcieLinkGeneration"),
            ("pcie_link_gen_max", "nvmlDeviceGetMaxPcieLinkGeneration"),
            ("pcie_link_width", "nvmlDeviceGetCurrPcieLinkWidth"),
            ("pcie_link_width_max", "nvmlDeviceGetMaxPcieLinkWidth"),
        ):
            gpu[field] = ask(field, getattr(nvml, call), handle)
        states = read_nvlinks(self._nvml, gpu, ask, handle)
        self._nvlink_rates.read(self._nvml, gpu, handle, states, self._monotonic())
        mig = ask("mig_enabled", nvml.nvmlDeviceGetMigMode, handle)
        gpu["mig_enabled"] = None if mig is None else bool(mig[0])

    def _memory(self, ask: Callable[..., Any], handle: Any, unavailable: Dict[str, str]) -> Any:
        # The v1 call's "used" is wrong on drivers >= 510 (it counts reserved memory), so ask
        # for v2 and fall back to v1 only where the driver predates it.
        nvml = self._nvml
        try:
            return nvml.nvmlDeviceGetMemoryInfo(handle, nvml.nvmlMemory_v2)
        except nvml.NVMLError_FunctionNotFound:
            pass
        except nvml.NVMLError_GpuIsLost:
            pass  # ask() below records the loss the same way as for every other field
        except nvml.NVMLError as error:
            unavailable["memory"] = str(error)
            return None
        return ask("memory", nvml.nvmlDeviceGetMemoryInfo, handle)

    def _processes(self, ask: Callable[..., Any], handle: Any) -> List[RawProcess]:
        nvml = self._nvml
        found: Dict[int, RawProcess] = {}
        for kind, calls in (
            (
                "compute",
                (
                    "nvmlDeviceGetComputeRunningProcesses_v3",
                    "nvmlDeviceGetComputeRunningProcesses_v2",
                ),
            ),
            (
                "graphics",
                (
                    "nvmlDeviceGetGraphicsRunningProcesses_v3",
                    "nvmlDeviceGetGraphicsRunningProcesses_v2",
                ),
            ),
        ):
            for call_name in calls:
                call = getattr(nvml, call_name, None)
                if call is None:
                    continue
                try:
                    processes = call(handle)
                except nvml.NVMLError_FunctionNotFound:
                    continue  # older driver: try the previous version of the call
                except nvml.NVMLError:
                    break
                for process in processes:
                    pid = int(process.pid)
                    if pid not in found:
                        used = process.usedGpuMemory
                        found[pid] = (pid, kind, None if used is None else int(used))
                break
        # /proc is read for them later, outside NVML's deadline (see describe_processes).
        return list(found.values())
