"""Network interfaces: /proc/net/dev counters and link speeds."""

from __future__ import annotations

from aiconsole.probe.common import _int_or_none

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Dict, Optional


NET_DEV_FIELDS = (
    "rx_bytes",
    "rx_packets",
    "rx_errors",
    "rx_drops",
    "tx_bytes",
    "tx_packets",
    "tx_errors",
    "tx_drops",
)


def parse_net_dev(text: str) -> Dict[str, Dict[str, int]]:
    """``/proc/net/dev`` -> {iface: {rx_bytes, rx_errors, rx_drops, tx_bytes, ...}}."""
    result = {}
    for line in text.splitlines()[2:]:
        name, sep, rest = line.partition(":")
        if not sep:
            continue
        values = rest.split()
        if len(values) < 16:
            continue
        try:
            numbers = [int(v) for v in values[0:4] + values[8:12]]
        except ValueError:
            continue
        result[name.strip()] = dict(zip(NET_DEV_FIELDS, numbers))
    return result


def _nic_speed(text: Optional[str]) -> Optional[int]:
    speed = _int_or_none(text)
    # The kernel reports -1 (or 4294967295 on older kernels) for "unknown".
    if speed is None or speed <= 0 or speed >= 0xFFFFFFFF:
        return None
    return speed
