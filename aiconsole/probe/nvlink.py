"""NVLink data throughput per link, from NVML's cumulative field-value counters."""

from __future__ import annotations

from aiconsole.probe.common import _rate

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Dict, List, Optional, Tuple

    from aiconsole.probe.common import JsonDict

    LinkCounters = Dict[int, Tuple[Optional[int], Optional[int]]]
    """Per link: (received KiB, transmitted KiB) as last read; None where unreadable."""

# nvml.h's field ids (NVML_FI_DEV_NVLINK_THROUGHPUT_DATA_TX/_RX), spelled out because a pynvml
# older than the fields lacks the names; the scope id of each value is the link number.
FIELD_DATA_TX = 138
FIELD_DATA_RX = 139
KIB = 1024  # the counters count payload KiB, without protocol overhead
NVML_SUCCESS = 0


class NvLinkRates:
    """Turns each GPU's NVLink counters into bytes per second between two reads."""

    def __init__(self) -> None:
        self._previous: Dict[int, Tuple[float, LinkCounters]] = {}

    def read(
        self, nvml: Any, gpu: JsonDict, handle: Any, states: List[Tuple[int, bool]], now: float
    ) -> None:
        """Fill ``gpu["nvlink_links"]``: each link's state and data rates (None + reason)."""
        index = int(gpu["index"])
        if not states:
            self._previous.pop(index, None)
            gpu["nvlink_links"] = None
            gpu["unavailable"]["nvlink_links"] = gpu["unavailable"].get(
                "nvlink_links_up", "no NVLink"
            )
            return
        active = [link for link, up in states if up]
        counters: LinkCounters = {}
        # Why a counter is unreadable, by (link, 0 for received or 1 for transmitted).
        reasons: Dict[Tuple[int, int], str] = {}
        if active:
            queries = []
            for link in active:
                queries.append((FIELD_DATA_RX, link))
                queries.append((FIELD_DATA_TX, link))
            try:
                values = nvml.nvmlDeviceGetFieldValues(handle, queries)
            except nvml.NVMLError as error:
                self._previous.pop(index, None)
                gpu["nvlink_links"] = None
                gpu["unavailable"]["nvlink_links"] = "NVLink counters: %s" % error
                return
            for at, link in enumerate(active):
                rx, rx_reason = _counter(nvml, values[2 * at])
                tx, tx_reason = _counter(nvml, values[2 * at + 1])
                counters[link] = (rx, tx)
                for position, reason in enumerate((rx_reason, tx_reason)):
                    if reason:
                        reasons[(link, position)] = reason
        before = self._previous.get(index)
        self._previous[index] = (now, counters)
        elapsed = 0.0 if before is None else now - before[0]
        links = []
        for link, up in states:
            unavailable: Dict[str, str] = {}
            entry: JsonDict = {"link": link, "up": up, "unavailable": unavailable}
            if not up:
                entry["rx_bytes_per_s"] = entry["tx_bytes_per_s"] = None
                unavailable["rx_bytes_per_s"] = unavailable["tx_bytes_per_s"] = "link is down"
                links.append(entry)
                continue
            old = None if before is None else before[1].get(link)
            for position, field in enumerate(("rx_bytes_per_s", "tx_bytes_per_s")):
                now_kib = counters[link][position]
                old_kib = None if old is None else old[position]
                if now_kib is None:
                    entry[field] = None
                    unavailable[field] = reasons[(link, position)]
                    continue
                rate, reason = _rate(now_kib, old_kib, elapsed)
                entry[field] = None if rate is None else rate * KIB
                if reason:
                    unavailable[field] = reason
            links.append(entry)
        gpu["nvlink_links"] = links


def _counter(nvml: Any, value: Any) -> Tuple[Optional[int], Optional[str]]:
    """One field value's counter, or (None, the driver's reason for that value)."""
    status = int(value.nvmlReturn)
    if status != NVML_SUCCESS:
        return None, str(nvml.NVMLError(status))
    return int(value.value.ullVal), None
