"""One host's raw series (the drill-down when it is opened) into GPUs, filesystems and NICs.

dcgm-exporter's fields map back onto :class:`aiconsole.model.Gpu` with its units undone
(framebuffer MiB -> bytes, energy mJ -> J). Label values are cleaned where they enter.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import Any

import msgspec

from aiconsole.model import Filesystem, Gpu, Nic
from aiconsole.probe import xid_name
from aiconsole.prometheus.client import Series
from aiconsole.prometheus.queries import FIELD, VIRTUAL_NICS
from aiconsole.text import clean

MIB = 1024 * 1024


def _int(value: float) -> int:
    return round(value)


def _flag(value: float) -> bool:
    return value != 0


DCGM_TO_GPU: dict[str, tuple[str, Callable[[float], Any]]] = {
    "DCGM_FI_DEV_GPU_UTIL": ("util_gpu_percent", float),
    "DCGM_FI_DEV_MEM_COPY_UTIL": ("util_memory_percent", float),
    "DCGM_FI_DEV_FB_USED": ("memory_used_bytes", lambda v: round(v * MIB)),
    "DCGM_FI_DEV_GPU_TEMP": ("temperature_c", float),
    "DCGM_FI_DEV_POWER_USAGE": ("power_draw_w", float),
    "DCGM_FI_DEV_POWER_MGMT_LIMIT": ("power_limit_w", float),
    "DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION": ("energy_j", lambda v: v / 1000.0),
    "DCGM_FI_DEV_SM_CLOCK": ("sm_clock_mhz", _int),
    "DCGM_FI_DEV_MAX_SM_CLOCK": ("sm_clock_max_mhz", _int),
    "DCGM_FI_DEV_MEM_CLOCK": ("memory_clock_mhz", _int),
    "DCGM_FI_DEV_FAN_SPEED": ("fan_speed_percent", float),
    "DCGM_FI_DEV_PSTATE": ("performance_state", _int),
    "DCGM_FI_DEV_ECC_SBE_VOL_TOTAL": ("ecc_corrected_volatile", _int),
    "DCGM_FI_DEV_ECC_DBE_VOL_TOTAL": ("ecc_uncorrected_volatile", _int),
    "DCGM_FI_DEV_ECC_SBE_AGG_TOTAL": ("ecc_corrected_aggregate", _int),
    "DCGM_FI_DEV_ECC_DBE_AGG_TOTAL": ("ecc_uncorrected_aggregate", _int),
    "DCGM_FI_DEV_CORRECTABLE_REMAPPED_ROWS": ("remapped_rows_correctable", _int),
    "DCGM_FI_DEV_UNCORRECTABLE_REMAPPED_ROWS": ("remapped_rows_uncorrectable", _int),
    "DCGM_FI_DEV_ROW_REMAP_FAILURE": ("remap_failure", _flag),
    "DCGM_FI_DEV_ROW_REMAP_PENDING": ("remap_pending", _flag),
    "DCGM_FI_DEV_RETIRED_SBE": ("retired_pages_single_bit", _int),
    "DCGM_FI_DEV_RETIRED_DBE": ("retired_pages_double_bit", _int),
    "DCGM_FI_DEV_RETIRED_PENDING": ("retired_pages_pending", _flag),
    "DCGM_FI_DEV_PCIE_LINK_GEN": ("pcie_link_gen", _int),
    "DCGM_FI_DEV_PCIE_LINK_WIDTH": ("pcie_link_width", _int),
}
"""dcgm-exporter metric -> (Gpu field, conversion from DCGM's unit)."""


def gpus_of(series: Iterable[Series]) -> tuple[tuple[Gpu, ...], dict[int, int]]:
    """The host's GPUs (by index) and the last XID per GPU index (0: none)."""
    fields: dict[int, dict[str, Any]] = {}
    free: dict[int, float] = {}
    xids: dict[int, int] = {}
    for s in series:
        name = s.labels.get("__name__", "")
        if not name.startswith("DCGM_FI_"):
            continue
        try:
            index = int(s.labels.get("gpu", ""))
        except ValueError:
            continue
        if not 0 <= index < 1024:
            continue
        gpu = fields.setdefault(index, {})
        if "uuid" not in gpu:
            gpu["uuid"] = clean(s.labels.get("UUID", ""), 80) or None
            gpu["bus_id"] = clean(s.labels.get("pci_bus_id", ""), 40) or None
            gpu["name"] = clean(s.labels.get("modelName", ""), 120) or None
        if name == "DCGM_FI_DEV_FB_FREE":
            free[index] = s.value
        elif name == "DCGM_FI_DEV_XID_ERRORS":
            xids[index] = round(s.value)
        elif name in DCGM_TO_GPU:
            attribute, convert = DCGM_TO_GPU[name]
            gpu[attribute] = convert(s.value)
    result = []
    for index in sorted(fields):
        values = fields[index]
        used = values.get("memory_used_bytes")
        if used is not None and index in free:
            values["memory_total_bytes"] = used + round(free[index] * MIB)
        result.append(msgspec.convert({"index": index, **values}, Gpu))
    return tuple(result), xids


def filesystems_of(series: Iterable[Series]) -> tuple[Filesystem, ...]:
    found: dict[tuple[str, str, str], dict[str, int]] = {}
    for s in series:
        name = s.labels.get("__name__", "")
        if not name.startswith("node_filesystem_"):
            continue
        key = (
            clean(s.labels.get("mountpoint", "?"), 512),
            clean(s.labels.get("device", "?"), 256),
            clean(s.labels.get("fstype", "?"), 40),
        )
        found.setdefault(key, {})[name] = round(s.value)
    result = []
    for (mount, device, fstype), values in sorted(found.items()):
        size = values.get("node_filesystem_size_bytes")
        free = values.get("node_filesystem_free_bytes")
        result.append(
            Filesystem(
                mount=mount,
                device=device,
                fstype=fstype,
                size_bytes=size,
                used_bytes=None if size is None or free is None else size - free,
                free_bytes=values.get("node_filesystem_avail_bytes"),
            )
        )
    return tuple(result)


def nics_of(series: Iterable[Series], virtual: Callable[[str], bool]) -> tuple[Nic, ...]:
    found: dict[str, dict[str, float]] = {}
    for s in series:
        name = s.labels.get(FIELD) or s.labels.get("__name__", "")
        if name not in ("rx", "tx", "node_network_up", "node_network_speed_bytes"):
            continue
        device = clean(s.labels.get("device", "?"), 64)
        found.setdefault(device, {})[name] = s.value
    result = []
    for device, values in sorted(found.items()):
        up = values.get("node_network_up")
        speed = values.get("node_network_speed_bytes")
        result.append(
            Nic(
                name=device,
                state=None if up is None else ("up" if up else "down"),
                speed_mbps=None if speed is None or speed < 0 else round(speed * 8 / 1e6),
                virtual=virtual(device),
                rx_bytes_per_s=values.get("rx"),
                tx_bytes_per_s=values.get("tx"),
            )
        )
    return tuple(result)


_VIRTUAL_NIC = re.compile(VIRTUAL_NICS)


def virtual_nic(device: str) -> bool:
    """The same devices the fleet queries leave out of a host's traffic (PromQL regular
    expressions match the whole value, hence ``fullmatch``)."""
    return _VIRTUAL_NIC.fullmatch(device) is not None


def xid_notice(series: list[Series]) -> str | None:
    """A line naming each GPU's last XID, for the host's reason (None when there is none)."""
    _, xids = gpus_of(series)
    bad = [(index, xid) for index, xid in sorted(xids.items()) if xid]
    if not bad:
        return None
    return "; ".join(f"GPU {i}: last XID {x} ({xid_name(x)})" for i, x in bad)
