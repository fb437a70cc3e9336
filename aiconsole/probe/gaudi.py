"""Intel Gaudi accelerators through ``hl-smi``'s nvidia-smi-like CSV query.

``hl-smi --query-aip=FIELDS --format=csv,noheader,nounits`` prints one line per device. A
field an older ``hl-smi`` does not know makes it refuse the whole query; the reader then asks
again without it (once per field, remembered), as the nvidia-smi fallback does.
"""

from __future__ import annotations

import csv
import io

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable, Dict, List, Optional, Tuple

    JsonDict = Dict[str, Any]
    Runner = Callable[[List[str]], Tuple[int, str]]

# hl-smi field -> (model field, converter)
FIELDS = (
    ("index", "index"),
    ("name", "name"),
    ("bus_id", "bus_id"),
    ("uuid", "uuid"),
    ("serial", "serial"),
    ("driver_version", "driver_version"),
    ("utilization.aip", "util_gpu_percent"),
    ("memory.total", "memory_total_bytes"),
    ("memory.used", "memory_used_bytes"),
    ("temperature.aip", "temperature_c"),
    ("power.draw", "power_draw_w"),
    ("power.max", "power_limit_w"),
    ("clocks.current.soc", "sm_clock_mhz"),
    ("clocks.max.soc", "sm_clock_max_mhz"),
    ("ecc.errors.uncorrected.volatile.total", "ecc_uncorrected_volatile"),
    ("ecc.errors.corrected.volatile.total", "ecc_corrected_volatile"),
)
MIB = 1024 * 1024
NUMERIC_INT = {
    "index",
    "memory_total_bytes",
    "memory_used_bytes",
    "sm_clock_mhz",
    "sm_clock_max_mhz",
    "ecc_uncorrected_volatile",
    "ecc_corrected_volatile",
}
NOT_A_VALUE = ("n/a", "[n/a]", "not supported", "[not supported]", "")


def _value(field: str, raw: str) -> Any:
    text = raw.strip()
    if text.lower() in NOT_A_VALUE:
        return None
    if field in ("name", "bus_id", "uuid", "serial", "driver_version"):
        return text
    for suffix in (" MiB", " W", " C", " %", " MHz"):
        if text.endswith(suffix):
            text = text[: -len(suffix)]
    try:
        number = float(text)
    except ValueError:
        return None
    if number != number:  # NaN
        return None
    if field in ("memory_total_bytes", "memory_used_bytes"):
        return int(number) * MIB
    return int(number) if field in NUMERIC_INT else number


def rejected_field(output: str, asked: List[str]) -> Optional[str]:
    """The field an hl-smi error message names, if it names one of ours."""
    lowered = output.lower()
    for field in asked:
        if '"' + field + '"' in lowered or "'" + field + "'" in lowered:
            return field
    return None


class GaudiReader:
    def __init__(self, run: Runner) -> None:
        self._run = run
        self._dropped: Dict[str, str] = {}

    def read(self) -> JsonDict:
        """{"status", "reason", "gpus": [...]} in the model's field names."""
        asked = [f for f, _ in FIELDS if f not in self._dropped]
        for _attempt in range(len(FIELDS)):
            argv = ["hl-smi", "--query-aip=" + ",".join(asked), "--format=csv,noheader,nounits"]
            status, output = self._run(argv)
            if status == 0:
                return {"status": "ok", "source": "hl-smi", "gpus": self._parse(output, asked)}
            field = rejected_field(output, asked)
            if field is None:
                line = output.strip().splitlines()[-1] if output.strip() else "exit %d" % status
                return {"status": "error", "source": "hl-smi", "reason": line[:200], "gpus": []}
            self._dropped[field] = "this hl-smi rejects %r" % field
            asked.remove(field)
        return {
            "status": "error",
            "source": "hl-smi",
            "reason": "hl-smi rejected every field",
            "gpus": [],
        }

    def _parse(self, output: str, asked: List[str]) -> List[JsonDict]:
        names = dict(FIELDS)
        gpus = []
        for row in csv.reader(io.StringIO(output)):
            if len(row) != len(asked):
                continue
            gpu: JsonDict = {"vendor": "intel", "unavailable": {}}
            for field, raw in zip(asked, row):
                value = _value(names[field], raw)
                gpu[names[field]] = value
                if value is None:
                    gpu["unavailable"][names[field]] = "hl-smi: " + (raw.strip() or "empty")
            for field, reason in self._dropped.items():
                gpu[names[field]] = None
                gpu["unavailable"][names[field]] = reason
            if isinstance(gpu.get("index"), int):
                gpus.append(gpu)
        return gpus
