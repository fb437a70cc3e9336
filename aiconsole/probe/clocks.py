"""NVIDIA clock event reasons, and the limits of the NVLink and P-state queries."""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import List


CLOCK_EVENT_REASONS = (
    (0x1, "gpu_idle"),
    (0x2, "applications_clocks_setting"),
    (0x4, "sw_power_cap"),
    (0x8, "hw_slowdown"),
    (0x10, "sync_boost"),
    (0x20, "sw_thermal_slowdown"),
    (0x40, "hw_thermal_slowdown"),
    (0x80, "hw_power_brake_slowdown"),
    (0x100, "display_clock_setting"),
    (0x200, "board_limit"),
    (0x400, "reliability"),
)
"""NVML's clocks-event (formerly throttle) reason bits, named as nvidia-smi -q names them."""

NVLINK_MAX_LINKS = 18
PSTATE_UNKNOWN = 32


def clock_event_names(mask: int) -> List[str]:
    """Names of the bits set in a clocks-event mask; an unknown bit is kept as hex."""
    mask &= 0xFFFFFFFFFFFFFFFF  # NVML's mask is 64 bits; a negative int has endless ones
    names = [name for bit, name in CLOCK_EVENT_REASONS if mask & bit]
    known = 0
    for bit, _ in CLOCK_EVENT_REASONS:
        known |= bit
    unknown = mask & ~known
    bit = 1
    while unknown:
        if unknown & bit:
            names.append("bit_0x%x" % bit)
            unknown &= ~bit
        bit <<= 1
    return names
