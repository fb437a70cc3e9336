"""InfiniBand ports: state and rate from sysfs."""

from __future__ import annotations

from aiconsole.probe.common import _finite, _int_or_none, _is_number, _rate, clip

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Dict, List, Optional, Tuple

    from aiconsole.probe.common import JsonDict


def parse_ib_state(text: str) -> str:
    """``4: ACTIVE`` -> ``ACTIVE`` (sysfs state and phys_state files)."""
    _, _, name = text.strip().partition(":")
    return name.strip() or text.strip()


def parse_ib_rate(text: str) -> Optional[float]:
    """``200 Gb/sec (4X HDR)`` -> 200.0; None when it does not start with a number."""
    words = text.split()
    return _finite(words[0]) if words else None


class IbPorts:
    """InfiniBand and RoCE ports from ``sys/class/infiniband``; keeps the data counters of
    the previous call for the rates."""

    def __init__(self, host: Any) -> None:
        self._host = host
        self._previous: Dict[str, Tuple[int, int]] = {}

    def read(self, elapsed: float) -> List[JsonDict]:
        """Every port's state, rate, error counters and data rates since the last call."""
        result = []
        current: Dict[str, Tuple[int, int]] = {}
        for device in self._host.listdir("sys/class/infiniband"):
            ports_dir = "sys/class/infiniband/%s/ports" % device
            for port in self._host.listdir(ports_dir):
                if not _is_number(port):
                    continue
                base = "%s/%s/" % (ports_dir, port)
                unavailable: Dict[str, str] = {}
                entry: JsonDict = {
                    "device": clip(device),
                    "port": int(port),
                    "unavailable": unavailable,
                }
                for field, filename in (("state", "state"), ("phys_state", "phys_state")):
                    text = self._host.read(base + filename, keep_open=True)
                    entry[field] = clip(parse_ib_state(text)) if text else None
                rate_text = self._host.read(base + "rate", keep_open=True)
                entry["rate"] = clip(rate_text.strip()) if rate_text else None
                entry["rate_gbps"] = parse_ib_rate(rate_text) if rate_text else None
                link_layer = self._host.read(base + "link_layer")
                entry["link_layer"] = clip(link_layer.strip()) if link_layer else None
                for field, counter in (
                    ("symbol_errors", "symbol_error"),
                    ("link_downed", "link_downed"),
                ):
                    entry[field] = _int_or_none(
                        self._host.read(base + "counters/" + counter, keep_open=True)
                    )
                    if entry[field] is None:
                        unavailable[field] = "counters/%s unreadable" % counter
                # port_{rcv,xmit}_data count 4-byte words (IBA spec), not bytes.
                rx_words = _int_or_none(
                    self._host.read(base + "counters/port_rcv_data", keep_open=True)
                )
                tx_words = _int_or_none(
                    self._host.read(base + "counters/port_xmit_data", keep_open=True)
                )
                key = "%s/%s" % (device, port)
                old = self._previous.get(key)
                if rx_words is not None and tx_words is not None:
                    current[key] = (rx_words, tx_words)
                for position, (field, words) in enumerate(
                    (("rx_bytes_per_s", rx_words), ("tx_bytes_per_s", tx_words))
                ):
                    if words is None:
                        entry[field] = None
                        unavailable[field] = "data counters unreadable"
                        continue
                    rate, reason = _rate(words, None if old is None else old[position], elapsed)
                    entry[field] = None if rate is None else rate * 4
                    if reason:
                        unavailable[field] = reason
                result.append(entry)
        self._previous = current
        return result
