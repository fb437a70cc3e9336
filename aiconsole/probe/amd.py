"""AMD Instinct GPUs from the amdgpu driver's sysfs, without any AMD library.

Per card (``sys/class/drm/cardN/device``): busy percentages, VRAM, hwmon temperatures (edge,
junction, memory: whichever the ASIC has; MI300X has no edge sensor), power (``power1_average``
or ``power1_input``, per ASIC) and its cap, current and top clocks from the DPM tables, PCIe
link, RAS error counts per block, product name, serial and unique id. Fields carry the same
names as the NVIDIA ones where the meaning is the same, so screens and rules work unchanged.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Dict, List, Optional, Tuple

    JsonDict = Dict[str, Any]

AMD_VENDOR = "0x1002"
DRM = "sys/class/drm"
# PCIe transfer rate (GT/s) -> generation.
PCIE_GENERATIONS = {"2.5": 1, "5.0": 2, "8.0": 3, "16.0": 4, "32.0": 5, "64.0": 6}
NOT_EXPOSED = "not exposed by this ASIC's driver"


def _int(text: Optional[str]) -> Optional[int]:
    if text is None:
        return None
    text = text.strip()
    if not text or not text.isascii() or not text.lstrip("-").isdigit():
        return None
    return int(text)


def cards(host: Any) -> List[Tuple[str, str]]:
    """(card name, its device directory) for every amdgpu card, in card order."""
    found = []
    for name in host.listdir(DRM):
        if not name.startswith("card") or not name[4:].isdigit():
            continue  # connectors (card0-DP-1) and render nodes
        device = DRM + "/" + name + "/device"
        vendor = host.read(device + "/vendor")
        if vendor is not None and vendor.strip() == AMD_VENDOR:
            found.append((name, device))
    found.sort(key=lambda item: int(item[0][4:]))
    return found


def bus_id(host: Any, device: str) -> Optional[str]:
    for line in str(host.read(device + "/uevent") or "").splitlines():
        if line.startswith("PCI_SLOT_NAME="):
            slot: str = line.split("=", 1)[1].strip()
            return slot or None
    return None


def parse_dpm(text: Optional[str]) -> Tuple[Optional[int], Optional[int]]:
    """``pp_dpm_sclk``-style table -> (current MHz, highest MHz). The current level is the
    line marked ``*``; a table with no mark has no current value."""
    current, highest = None, None
    for line in (text or "").splitlines():
        parts = line.split()
        if len(parts) < 2 or not parts[0].endswith(":"):
            continue
        value = parts[1].lower()
        for unit in ("mhz",):
            if value.endswith(unit):
                value = value[: -len(unit)]
        mhz = _int(value)
        if mhz is None:
            continue
        highest = mhz if highest is None else max(highest, mhz)
        if "*" in parts[2:] or parts[-1].endswith("*"):
            current = mhz
    return current, highest


def pcie_generation(text: Optional[str]) -> Optional[int]:
    """``32.0 GT/s PCIe`` -> 5."""
    if not text or not text.split():
        return None
    return PCIE_GENERATIONS.get(text.split()[0])


def parse_ras(text: Optional[str]) -> Tuple[Optional[int], Optional[int]]:
    """``ue: 0\\nce: 3`` -> (uncorrectable, correctable)."""
    ue, ce = None, None
    for line in (text or "").splitlines():
        key, _, value = line.partition(":")
        if key.strip() == "ue":
            ue = _int(value)
        elif key.strip() == "ce":
            ce = _int(value)
    return ue, ce


def _hwmon(host: Any, device: str) -> Optional[str]:
    for name in host.listdir(device + "/hwmon"):
        if str(name).startswith("hwmon"):
            return device + "/hwmon/" + str(name)
    return None


def _temperatures(host: Any, hwmon: str) -> Dict[str, float]:
    """Label -> degrees C for every ``tempN_input`` with a ``tempN_label``."""
    found: Dict[str, float] = {}
    for name in host.listdir(hwmon):
        if not (name.startswith("temp") and name.endswith("_label")):
            continue
        label = (host.read(hwmon + "/" + name) or "").strip()
        value = _int(host.read(hwmon + "/" + name[: -len("_label")] + "_input"))
        if label and value is not None:
            found[label] = value / 1000.0
    return found


def read_card(host: Any, index: int, device: str) -> JsonDict:
    """One GPU in the model's field names; absent files become None + reason."""
    unavailable: Dict[str, str] = {}
    gpu: JsonDict = {"index": index, "vendor": "amd", "bus_id": bus_id(host, device)}

    def text(name: str) -> Optional[str]:
        value = host.read(device + "/" + name)
        return value.strip() if value is not None else None

    def number(field: str, name: str, scale: float = 1.0) -> None:
        value = _int(text(name))
        gpu[field] = None if value is None else value * scale
        if value is None:
            unavailable[field] = name + ": " + NOT_EXPOSED

    gpu["name"] = text("product_name") or None
    if not gpu["name"]:
        unavailable["name"] = "product_name: " + NOT_EXPOSED
    gpu["serial"] = text("serial_number") or None
    gpu["uuid"] = text("unique_id") or None
    number("util_gpu_percent", "gpu_busy_percent")
    number("util_memory_percent", "mem_busy_percent")
    number("memory_total_bytes", "mem_info_vram_total")
    number("memory_used_bytes", "mem_info_vram_used")
    for field in ("memory_total_bytes", "memory_used_bytes"):
        if gpu[field] is not None:
            gpu[field] = int(gpu[field])
    for field, name in (("sm_clock", "pp_dpm_sclk"), ("memory_clock", "pp_dpm_mclk")):
        current, highest = parse_dpm(text(name))
        gpu[field + "_mhz"], gpu[field + "_max_mhz"] = current, highest
        if current is None:
            unavailable[field + "_mhz"] = name + ": no current level"
    gpu["pcie_link_gen"] = pcie_generation(text("current_link_speed"))
    gpu["pcie_link_gen_max"] = pcie_generation(text("max_link_speed"))
    gpu["pcie_link_width"] = _int(text("current_link_width"))
    gpu["pcie_link_width_max"] = _int(text("max_link_width"))
    _read_hwmon(host, device, gpu, unavailable)
    _read_ras(host, device, gpu, unavailable)
    gpu["unavailable"] = unavailable
    return gpu


def _read_hwmon(host: Any, device: str, gpu: JsonDict, unavailable: Dict[str, str]) -> None:
    hwmon = _hwmon(host, device)
    fields = (
        "temperature_c",
        "temperature_junction_c",
        "temperature_memory_c",
        "power_draw_w",
        "power_limit_w",
    )
    if hwmon is None:
        for field in fields:
            gpu[field] = None
            unavailable[field] = "no hwmon directory"
        return
    temps = _temperatures(host, hwmon)
    # Edge is what tools call "the" temperature; an ASIC without an edge sensor (MI300X)
    # reports its junction (hotspot) temperature there instead, and says so.
    gpu["temperature_junction_c"] = temps.get("junction")
    gpu["temperature_memory_c"] = temps.get("mem")
    gpu["temperature_c"] = temps.get("edge", temps.get("junction"))
    if "edge" not in temps and "junction" in temps:
        unavailable["temperature_edge_c"] = "no edge sensor: temperature_c is the junction"
    for field, label in (("temperature_junction_c", "junction"), ("temperature_memory_c", "mem")):
        if gpu[field] is None:
            unavailable[field] = "no " + label + " sensor"
    power = _int(host.read(hwmon + "/power1_average"))
    if power is None:
        power = _int(host.read(hwmon + "/power1_input"))
    gpu["power_draw_w"] = None if power is None else power / 1e6
    if power is None:
        unavailable["power_draw_w"] = "neither power1_average nor power1_input"
    cap = _int(host.read(hwmon + "/power1_cap"))
    gpu["power_limit_w"] = None if cap is None else cap / 1e6
    if cap is None:
        unavailable["power_limit_w"] = "power1_cap: " + NOT_EXPOSED


def _read_ras(host: Any, device: str, gpu: JsonDict, unavailable: Dict[str, str]) -> None:
    """Sum the RAS error counts of every block; the blocks themselves go in ``ras_errors``."""
    blocks: Dict[str, List[int]] = {}
    for name in host.listdir(device + "/ras"):
        if name.endswith("_err_count"):
            ue, ce = parse_ras(host.read(device + "/ras/" + name))
            if ue is not None or ce is not None:
                blocks[name[: -len("_err_count")]] = [ue or 0, ce or 0]
    gpu["ras_errors"] = blocks or None
    if not blocks:
        gpu["ecc_uncorrected_volatile"] = gpu["ecc_corrected_volatile"] = None
        reason = "no RAS counters (ras/ absent or RAS disabled)"
        unavailable["ecc_uncorrected_volatile"] = unavailable["ecc_corrected_volatile"] = reason
        return
    gpu["ecc_uncorrected_volatile"] = sum(counts[0] for counts in blocks.values())
    gpu["ecc_corrected_volatile"] = sum(counts[1] for counts in blocks.values())


def read_all(host: Any) -> List[JsonDict]:
    """Every amdgpu card of the host, indexed in card order."""
    return [read_card(host, index, device) for index, (_, device) in enumerate(cards(host))]
