"""NVML answers worth keeping between samples instead of asking the driver every second.

Measured on an H200 (driver 580, ``bench/nvml_calls.py``): of 10.7 ms per read of the GPU,
``nvmlDeviceGetTotalEnergyConsumption`` took 5.3 ms and the two ``nvmlDeviceGetMaxClockInfo``
calls 3.3 ms, while a value that changes every sample (utilisation, power, temperature) cost
4-8 us; asking for something the GPU does not support (its fan, retired pages) cost
0.2-0.4 ms each time, only to hear "Not Supported" again. So:

- what cannot change while the driver runs (maximum clocks, maximum PCIe link) and what
  changes only with a GPU reset (ECC and MIG modes) is asked again every ten minutes;
- the energy counter is asked every ten seconds (it only ever grows: a rate over it stays
  right, and the session's energy lags by at most that);
- a call the GPU does not support is asked again only every ten minutes.
"""

from __future__ import annotations

import time

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable, Dict, Optional, Tuple

FIXED_KEEP_S = 600.0
ENERGY_KEEP_S = 10.0
NOT_SUPPORTED_KEEP_S = 600.0

KEEP_S = {
    "sm_clock_max_mhz": FIXED_KEEP_S,
    "memory_clock_max_mhz": FIXED_KEEP_S,
    "pcie_link_gen_max": FIXED_KEEP_S,
    "pcie_link_width_max": FIXED_KEEP_S,
    "ecc_enabled": FIXED_KEEP_S,
    "mig_enabled": FIXED_KEEP_S,
    "energy_j": ENERGY_KEEP_S,
}
"""Fields whose answer is kept, and for how long (seconds)."""


class KeptAnswers:
    """Answers per GPU (by UUID) and field, with the time they were had."""

    def __init__(self, monotonic: Callable[[], float] = time.monotonic) -> None:
        self._monotonic = monotonic
        # (GPU, field) -> (when, value, reason it is unavailable or None)
        self._kept: Dict[Tuple[str, str], Tuple[float, Any, Optional[str]]] = {}

    def get(self, gpu: str, field: str) -> Optional[Tuple[Any, Optional[str]]]:
        """The kept (value, reason) while it is fresh enough; None: ask the driver."""
        entry = self._kept.get((gpu, field))
        if entry is None:
            return None
        at, value, reason = entry
        keep = NOT_SUPPORTED_KEEP_S if reason is not None else KEEP_S.get(field, 0.0)
        if self._monotonic() - at >= keep:
            del self._kept[(gpu, field)]
            return None
        return value, reason

    def answered(self, gpu: str, field: str, value: Any) -> None:
        if field in KEEP_S:
            self._kept[(gpu, field)] = (self._monotonic(), value, None)

    def not_supported(self, gpu: str, field: str, reason: str) -> None:
        self._kept[(gpu, field)] = (self._monotonic(), None, reason)
