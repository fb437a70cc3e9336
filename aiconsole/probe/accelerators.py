"""Accelerators beside NVIDIA's: AMD Instinct (amdgpu sysfs, processes from DRM fdinfo) and
Intel Gaudi (hl-smi), merged into the GPU section the NVIDIA readers build.

Each vendor's GPUs carry ``vendor`` and the model's field names where the meaning is the
same, so one table and one set of rules serve every vendor. A host with no such device pays
one directory listing per sample for AMD and one PATH search a minute for hl-smi.
"""

from __future__ import annotations

import time

from aiconsole.probe.commands import find_program, run_command
from aiconsole.probe.common import MAX_GPUS, _first_line, clip, keep_first
from aiconsole.probe.processes import ProcessInfo, describe_processes

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable, Dict, List, Optional

    from aiconsole.probe.amd_smi import AmdSmiReader
    from aiconsole.probe.common import JsonDict
    from aiconsole.probe.drm_clients import DrmClients

HL_SMI_SEARCH_S = 60.0
DRM = "sys/class/drm"
TEXT_FIELDS = ("name", "uuid", "bus_id", "serial", "driver_version")


def _clip_text(gpu: JsonDict) -> JsonDict:
    for field in TEXT_FIELDS:
        if isinstance(gpu.get(field), str):
            gpu[field] = clip(gpu[field])
    gpu["unavailable"] = {
        clip(key): clip(str(value)) for key, value in (gpu.get("unavailable") or {}).items()
    }
    return gpu


class OtherAccelerators:
    """Reads AMD and Gaudi devices and adds them to a GPU section."""

    def __init__(
        self,
        host: Any,
        process_info: ProcessInfo,
        monotonic: Callable[[], float] = time.monotonic,
        find: Callable[[str], Optional[str]] = find_program,
        run: Callable[..., Any] = run_command,
    ) -> None:
        self._host = host
        self._process_info = process_info
        self._monotonic = monotonic
        self._find = find
        self._run = run
        self._drm: Optional[DrmClients] = None
        self._amd_smi: Optional[AmdSmiReader] = None
        self._gaudi: Any = None
        self._hl_smi: Optional[str] = None
        self._hl_smi_searched_at: Optional[float] = None

    def add_to(self, section: JsonDict) -> JsonDict:
        """The section with every other vendor's GPUs appended (indices continue after the
        NVIDIA ones), ``sources`` naming each source, and ``status`` ok when any GPU of any
        vendor was read."""
        nvidia_ok = section.get("status") == "ok"
        sources = [section["source"]] if nvidia_ok and section.get("source") != "none" else []
        gpus: List[JsonDict] = list(section.get("gpus") or [])
        for gpu in gpus:
            gpu.setdefault("vendor", "nvidia")
        truncated: Dict[str, str] = dict(section.get("truncated") or {})
        unavailable: Dict[str, str] = dict(section.get("unavailable") or {})
        amd = self._amd(len(gpus), truncated, unavailable)
        if amd:
            sources.append("amdgpu")
        gaudi = self._gaudi_gpus(unavailable)
        if gaudi:
            sources.append("hl-smi")
        others = amd + gaudi
        if not others:
            section["sources"] = sources
            if unavailable:  # why another vendor's tool failed, beside the NVIDIA status
                section["unavailable"] = unavailable
            return section
        for offset, gpu in enumerate(others):
            gpu["index"] = len(gpus) + offset
        gpus = keep_first(gpus + others, MAX_GPUS, "gpus", truncated)
        if not nvidia_ok:
            if section.get("reason"):
                unavailable["nvidia"] = section["reason"]
            section = {"status": "ok", "source": "none", "xid_events": []}
        section["gpus"] = gpus
        section["sources"] = sources
        section["unavailable"] = unavailable
        if truncated:
            section["truncated"] = truncated
        return section

    def _amd(
        self, first_index: int, truncated: Dict[str, str], unavailable: Dict[str, str]
    ) -> List[JsonDict]:
        if not any(name.startswith("card") for name in self._host.listdir(DRM)):
            return []  # no display or accelerator device at all: no AMD code compiled
        from aiconsole.probe.amd import cards, read_card
        from aiconsole.probe.amd_smi import AmdSmiReader
        from aiconsole.probe.drm_clients import DrmClients

        try:
            found = cards(self._host)
            gpus = [read_card(self._host, index, device) for index, (_, device) in enumerate(found)]
            if gpus:  # what sysfs lacks (XGMI, ECC per block), from amd-smi or rocm-smi
                if self._amd_smi is None:
                    self._amd_smi = AmdSmiReader(self._find, self._run, self._monotonic)
                self._amd_smi.add_to(gpus, [name for name, _ in found])
            gpus = [_clip_text(gpu) for gpu in gpus]
        except Exception as error:  # a reader bug must not cost the other vendors' GPUs
            unavailable["amd"] = "amdgpu read failed: %s" % _first_line(error)
            return []
        if not gpus:
            return []
        if self._drm is None:
            self._drm = DrmClients(self._host, self._monotonic)
        clients = self._drm.read()
        engine: Dict[int, Optional[float]] = {}
        for offset, gpu in enumerate(gpus):
            gpu["index"] = first_index + offset  # after the NVIDIA GPUs of a mixed host
            raw = []
            for client in clients.get(gpu.get("bus_id") or "", []):
                memory = client["memory"].get("vram")
                raw.append((client["pid"], "compute", memory))
                engine[client["pid"]] = client.get("engine_percent")
            gpu["processes"] = raw
        describe_processes(gpus, self._process_info, truncated)
        for gpu in gpus:
            for process in gpu["processes"]:
                process["gpu_util_percent"] = engine.get(process["pid"])
        return gpus

    def _gaudi_gpus(self, unavailable: Dict[str, str]) -> List[JsonDict]:
        now = self._monotonic()
        if self._hl_smi is None and (
            self._hl_smi_searched_at is None or now - self._hl_smi_searched_at >= HL_SMI_SEARCH_S
        ):
            self._hl_smi_searched_at = now
            self._hl_smi = self._find("hl-smi")
        if self._hl_smi is None:
            return []
        if self._gaudi is None:
            from aiconsole.probe.gaudi import GaudiReader  # csv: only where hl-smi is

            executable = self._hl_smi
            self._gaudi = GaudiReader(lambda argv: self._run([executable, *argv[1:]]))
        section = self._gaudi.read()
        if section["status"] != "ok":
            unavailable["intel"] = clip(section.get("reason") or "hl-smi failed")
            return []
        gpus = [_clip_text(gpu) for gpu in section["gpus"]]
        for gpu in gpus:
            gpu.pop("driver_version", None)
        return gpus
