"""The GPU section: NVML first, nvidia-smi as the fallback, XIDs from the kernel log."""

from __future__ import annotations

import os
import time

from aiconsole.probe.commands import find_program
from aiconsole.probe.common import KERNEL_LOG
from aiconsole.probe.deadline import DeadlineRunner
from aiconsole.probe.nvml import NvmlReader
from aiconsole.probe.processes import ProcessInfo

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Callable, Dict, List, Optional

    from aiconsole.probe.common import JsonDict
    from aiconsole.probe.smi import SmiReader
    from aiconsole.probe.xid import KernelLogFollower, XidLog, XidWatcher


class GpuReader:
    """NVML when the host's python3 has pynvml, else nvidia-smi; plus XID events.

    XIDs come live from NVML's event set (or, without NVML, from following the kernel log),
    and the kernel log's history is read once, when GPUs are first seen.
    """

    def __init__(
        self,
        process_info: ProcessInfo,
        monotonic: Callable[[], float] = time.monotonic,
        kernel_log: str = KERNEL_LOG,
        clock: Callable[[], float] = time.time,
        runner: Optional[DeadlineRunner] = None,
    ) -> None:
        self._process_info = process_info
        self._clock = clock
        self._monotonic = monotonic
        self._runner = runner if runner is not None else DeadlineRunner()
        self._nvml = NvmlReader(process_info, monotonic, self._runner)
        self._smi: Optional[SmiReader] = None  # imported when NVML is unusable
        self._fallback_failure: Optional[JsonDict] = None
        self._fallback_retry_at = 0.0
        self._kernel_log = kernel_log
        self._xids: Optional[XidLog] = None  # imported when GPUs are first seen
        self._watching = False
        self._follower: Optional[KernelLogFollower] = None
        self._unavailable: Dict[str, str] = {}
        self._watcher: Optional[XidWatcher] = None

    def read(self) -> JsonDict:
        section = self._nvml.read()
        if section["status"] in ("no_bindings", "no_driver"):
            section = self._fallback(section)
        if section["status"] == "ok":
            self._watch_xids(section)
            if self._follower is not None:
                self._follow_kernel_log(section["gpus"])
            if self._watcher is not None and self._watcher.reason:
                self._unavailable["xid_live"] = self._watcher.reason
            section["xid_events"] = self._xids.recent() if self._xids is not None else []
            section["unavailable"] = dict(section.get("unavailable") or {}, **self._unavailable)
        return section

    def _fallback(self, nvml_section: JsonDict) -> JsonDict:
        """nvidia-smi when NVML is unusable. A host with neither is asked again only every
        RETRY_INIT_S, as NVML's own init is: not a PATH search or a failing nvidia-smi run
        on every sample."""
        now = self._monotonic()
        if self._fallback_failure is not None and now < self._fallback_retry_at:
            return self._fallback_failure
        section = self._fallback_now(nvml_section)
        if section["status"] == "ok":
            self._fallback_failure = None
        else:
            self._fallback_failure = section
            self._fallback_retry_at = now + NvmlReader.RETRY_INIT_S
        return section

    def _fallback_now(self, nvml_section: JsonDict) -> JsonDict:
        if self._smi is None:
            executable = find_program("nvidia-smi")
            if executable is None:
                if nvml_section["status"] == "no_bindings" and not os.path.exists(
                    "/proc/driver/nvidia/version"
                ):
                    return {
                        "status": "no_driver",
                        "source": "none",
                        "gpus": [],
                        "reason": "no NVIDIA driver (no pynvml, no nvidia-smi, "
                        "no /proc/driver/nvidia)",
                    }
                return nvml_section
            from aiconsole.probe.smi import SmiReader

            self._smi = SmiReader(executable, self._process_info)
        section = self._smi.read()
        if section["status"] != "ok" and nvml_section["status"] == "no_driver":
            return nvml_section  # the library is missing: nvidia-smi's complaint adds nothing
        return section

    def _watch_xids(self, section: JsonDict) -> None:
        if self._watching:
            return
        self._watching = True
        # Only hosts with GPUs pay for compiling the XID readers.
        from aiconsole.probe.xid import KernelLogFollower, XidLog, XidWatcher

        self._xids = XidLog()
        gpus = section["gpus"]
        boot_time = self._clock() - self._monotonic()
        follower = KernelLogFollower(self._kernel_log, boot_time)
        history = follower.read_new(gpus)
        if history is None:
            self._unavailable["xid_history"] = (
                "kernel log not readable (%s): XIDs before the probe started are unknown"
                % follower.error
            )
        else:
            for event in history:
                self._xids.add(event)
        if section["source"] == "nvml":
            follower.close()
            self._watcher = XidWatcher(self._nvml.module, self._xids, self._clock, self._runner)
            self._watcher.start(gpus)
        elif history is not None:
            self._follower = follower  # no NVML events: new kernel-log lines are the feed
        else:
            self._unavailable["xid_live"] = (
                "no NVML and no readable kernel log: XIDs are not watched"
            )

    def _follow_kernel_log(self, gpus: List[JsonDict]) -> None:
        assert self._follower is not None and self._xids is not None
        for event in self._follower.read_new(gpus) or []:
            self._xids.add(event)
