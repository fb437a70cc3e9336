"""NVML's clock event reasons (why clocks are held down) and NVLink link state."""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable, Dict, List, Tuple

    from aiconsole.probe.common import JsonDict


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


def read_clock_reasons(
    nvml: Any, ask: Callable[..., Any], handle: Any, unavailable: Dict[str, str]
) -> Any:
    """The bit mask of why clocks are held down (``ask`` records a failure as others)."""
    # R535 renamed the call; older drivers (and older pynvml) only have the throttle name.
    if getattr(nvml, "nvmlDeviceGetCurrentClocksEventReasons", None) is not None:
        try:
            return nvml.nvmlDeviceGetCurrentClocksEventReasons(handle)
        except nvml.NVMLError_FunctionNotFound:
            pass  # a driver before R535: ask under the old name
        except nvml.NVMLError_GpuIsLost:
            pass  # ask() below records the loss as for every other field
        except nvml.NVMLError as error:
            unavailable["clock_event_reasons"] = str(error)
            return None
    return ask("clock_event_reasons", nvml.nvmlDeviceGetCurrentClocksThrottleReasons, handle)


def read_nvlinks(
    nvml: Any, gpu: JsonDict, ask: Callable[..., Any], handle: Any
) -> List[Tuple[int, bool]]:
    """How many of the GPU's NVLink links are up, into ``gpu``; returns each link's state."""
    states: List[Tuple[int, bool]] = []
    up = total = 0
    reason = None
    for link in range(NVLINK_MAX_LINKS):
        try:
            state = nvml.nvmlDeviceGetNvLinkState(handle, link)
        except nvml.NVMLError_GpuIsLost:
            ask("nvlink_links_up", nvml.nvmlDeviceGetNvLinkState, handle, link)
            reason = gpu["unavailable"]["nvlink_links_up"]
            break
        except (nvml.NVMLError_InvalidArgument, nvml.NVMLError_NotSupported) as error:
            if total == 0:
                reason = "no NVLink (%s)" % error
            break  # past this GPU's last link
        except nvml.NVMLError as error:
            reason = str(error)
            break
        total += 1
        up += 1 if state else 0
        states.append((link, bool(state)))
    if total == 0:
        gpu["nvlink_links_up"] = gpu["nvlink_links_total"] = None
        gpu["unavailable"]["nvlink_links_up"] = gpu["unavailable"]["nvlink_links_total"] = (
            reason or "no NVLink"
        )
    else:
        gpu["nvlink_links_up"], gpu["nvlink_links_total"] = up, total
    return states
