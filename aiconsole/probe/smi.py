"""NVIDIA GPUs through nvidia-smi when NVML cannot be loaded in Python."""

from __future__ import annotations

from aiconsole.probe.clocks import clock_event_names
from aiconsole.probe.common import MAX_GPUS, _finite, _first_line, _is_number, clip, keep_first
from aiconsole.probe.processes import ProcessInfo, describe_processes

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable, Dict, List, Optional, Tuple

    from aiconsole.probe.common import JsonDict


# --------------------------------------------------------------------------------------------
# nvidia-smi: the fallback for hosts whose python3 has no pynvml.
# --------------------------------------------------------------------------------------------

MIB = 1024 * 1024
SMI_TIMEOUT_S = 10.0
SMI_NOT_IN_CSV = "nvidia-smi has no CSV query for this"
SMI_MISSING_VALUES = {
    "[N/A]": "N/A",
    "N/A": "N/A",
    "[Not Supported]": "Not Supported",
    "[Unknown Error]": "Unknown Error",
    "[Insufficient Permissions]": "Insufficient Permissions",
    "[GPU is lost]": "GPU is lost",
    "[Requested functionality has been deprecated]": "deprecated by the driver",
}


def _smi_float(text: str) -> float:
    value = _finite(text)
    if value is None:
        raise ValueError(text)
    return value


def _smi_int(text: str) -> int:
    return int(float(text))


def _smi_mib(text: str) -> int:
    return int(float(text)) * MIB


def _smi_pstate(text: str) -> int:
    if not text.startswith("P"):
        raise ValueError(text)
    return int(text[1:])


def _smi_reasons(text: str) -> List[str]:
    mask = int(text, 16)
    if mask < 0:
        raise ValueError(text)
    return clock_event_names(mask)


def _smi_enabled(text: str) -> bool:
    if text not in ("Enabled", "Disabled"):
        raise ValueError(text)
    return text == "Enabled"


def _smi_yes(text: str) -> bool:
    if text in ("Yes", "1"):
        return True
    if text in ("No", "0"):
        return False
    raise ValueError(text)


SMI_GPU_FIELDS = (
    # (model field, query names newest first, converter)
    ("index", ("index",), int),
    ("name", ("name",), clip),
    ("uuid", ("uuid",), clip),
    ("bus_id", ("pci.bus_id",), clip),
    ("memory_total_bytes", ("memory.total",), _smi_mib),
    ("memory_used_bytes", ("memory.used",), _smi_mib),
    ("util_gpu_percent", ("utilization.gpu",), _smi_float),
    ("util_memory_percent", ("utilization.memory",), _smi_float),
    ("temperature_c", ("temperature.gpu",), _smi_float),
    ("power_draw_w", ("power.draw",), _smi_float),
    ("power_limit_w", ("enforced.power.limit", "power.limit"), _smi_float),
    ("sm_clock_mhz", ("clocks.sm",), _smi_int),
    ("sm_clock_max_mhz", ("clocks.max.sm",), _smi_int),
    ("memory_clock_mhz", ("clocks.mem",), _smi_int),
    ("memory_clock_max_mhz", ("clocks.max.memory",), _smi_int),
    ("fan_speed_percent", ("fan.speed",), _smi_float),
    ("performance_state", ("pstate",), _smi_pstate),
    (
        "clock_event_reasons",
        ("clocks_event_reasons.active", "clocks_throttle_reasons.active"),
        _smi_reasons,
    ),
    ("ecc_enabled", ("ecc.mode.current",), _smi_enabled),
    ("ecc_corrected_volatile", ("ecc.errors.corrected.volatile.total",), _smi_int),
    ("ecc_uncorrected_volatile", ("ecc.errors.uncorrected.volatile.total",), _smi_int),
    ("ecc_corrected_aggregate", ("ecc.errors.corrected.aggregate.total",), _smi_int),
    ("ecc_uncorrected_aggregate", ("ecc.errors.uncorrected.aggregate.total",), _smi_int),
    ("retired_pages_single_bit", ("retired_pages.sbe",), _smi_int),
    ("retired_pages_double_bit", ("retired_pages.dbe",), _smi_int),
    ("retired_pages_pending", ("retired_pages.pending",), _smi_yes),
    ("pcie_link_gen", ("pcie.link.gen.current",), _smi_int),
    ("pcie_link_gen_max", ("pcie.link.gen.max",), _smi_int),
    ("pcie_link_width", ("pcie.link.width.current",), _smi_int),
    ("pcie_link_width_max", ("pcie.link.width.max",), _smi_int),
    ("mig_enabled", ("mig.mode.current",), _smi_enabled),
    ("driver_version", ("driver_version",), clip),
)
SMI_REMAP_FIELDS = (
    ("remapped_rows_correctable", _smi_int),
    ("remapped_rows_uncorrectable", _smi_int),
    ("remap_pending", _smi_yes),
    ("remap_failure", _smi_yes),
)
SMI_NOT_QUERIED = (
    "energy_j",
    "energy_session_j",
    "nvlink_links_up",
    "nvlink_links_total",
    "nvlink_links",
)


def parse_smi_cuda_version(output: str) -> Optional[str]:
    """The ``CUDA Version: 12.4`` of plain ``nvidia-smi``'s banner (its CSV has no query for
    it); None when the banner has none (an old driver, or an error message instead)."""
    for line in output.splitlines()[:12]:
        _, found, rest = line.partition("CUDA Version:")
        if not found:
            continue
        version = rest.replace("|", " ").split()
        if version and all(part.isdigit() for part in version[0].split(".")):
            return version[0][:16]
    return None


def parse_smi_rejected_field(output: str) -> Optional[str]:
    """The field name in nvidia-smi's ``Field "x" is not a valid field to query.``"""
    marker = output.find("is not a valid field to query")
    if marker < 0:
        return None
    start = output.rfind('Field "', 0, marker)
    if start < 0:
        return None
    return output[start + len('Field "') : marker].rstrip().rstrip('"')


def split_smi_csv(line: str) -> List[str]:
    """Values of one ``--format=csv,noheader`` line (nvidia-smi never quotes them)."""
    return [value.strip() for value in line.split(",")]


def smi_value(
    text: str, convert: Callable[[str], Any], field: str, unavailable: Dict[str, str]
) -> Any:
    missing = SMI_MISSING_VALUES.get(text)
    if missing is not None:
        unavailable[field] = missing
        return None
    try:
        return convert(text)
    except (ValueError, OverflowError):  # OverflowError: "inf" where a count was due
        unavailable[field] = "nvidia-smi printed %r" % text[:40]
        return None


def parse_smi_gpus(
    output: str, query: List[Tuple[str, str, Callable[[str], Any]]], rejected: Dict[str, str]
) -> Tuple[List[JsonDict], Optional[str]]:
    """GPUs from ``--query-gpu`` output; (gpus, driver version).

    ``query`` lists (model field, query name, converter) in column order; ``rejected`` names
    the fields this driver refused, which are None with that reason on every GPU. A line that
    is not a row (``Unable to determine the device handle for GPU 0000:3B:00.0: GPU is
    lost``) stands for the GPU at that position, which is reported as lost.
    """
    gpus: List[JsonDict] = []
    driver_version = None
    for position, line in enumerate(output.splitlines()):
        if not line.strip():
            continue
        values = split_smi_csv(line)
        unavailable: Dict[str, str] = dict(rejected)
        gpu: JsonDict = {"index": len(gpus), "unavailable": unavailable}
        if len(values) != len(query):
            if "device handle" not in line:
                continue  # prose about the whole tool ("couldn't communicate with the driver")
            gpu["lost"] = "GPU is lost" in line
            unavailable["gpu"] = clip(line.strip())
            gpus.append(gpu)
            continue
        for (field, _name, convert), text in zip(query, values):
            value = smi_value(text, convert, field, unavailable)
            if field == "driver_version":
                driver_version = driver_version or value
            elif field == "index":
                gpu["index"] = value if value is not None else position
            else:
                gpu[field] = value
        gpu["lost"] = "GPU is lost" in unavailable.values()
        for field in SMI_NOT_QUERIED:
            gpu[field] = None
            unavailable[field] = SMI_NOT_IN_CSV
        gpus.append(gpu)
    return gpus, driver_version


class SmiReader:
    """GPUs through ``nvidia-smi --query-*`` CSV: the same fields as :class:`NvmlReader`.

    A driver that does not know a field rejects the whole query, so a rejected field is
    dropped (or its older name tried) and the query retried; what was dropped stays None with
    the reason on every sample.
    """

    def __init__(self, executable: str, process_info: ProcessInfo) -> None:
        self._executable = executable
        self._process_info = process_info
        self._names: Dict[str, Tuple[str, ...]] = {
            field: names for field, names, _ in SMI_GPU_FIELDS
        }
        self._converters = {field: convert for field, _, convert in SMI_GPU_FIELDS}
        self._rejected: Dict[str, str] = {}
        # (version, reason): read once, the driver's CUDA version does not change under it.
        self._cuda: Optional[Tuple[Optional[str], Optional[str]]] = None

    def _cuda_version(self) -> Tuple[Optional[str], Optional[str]]:
        """The CUDA version from the banner of plain ``nvidia-smi``, or None and why."""
        if self._cuda is None:
            code, output = self._run()
            version = parse_smi_cuda_version(output) if code == 0 else None
            reason = None
            if version is None and code == 0:
                reason = "no CUDA Version in nvidia-smi's banner"
            elif version is None:
                reason = "nvidia-smi: %s" % clip(_first_line(output) or "exit code %d" % code)
            self._cuda = (version, reason)
        return self._cuda

    def _run(self, *args: str) -> Tuple[int, str]:
        import subprocess  # only hosts on the fallback path pay for it

        try:
            done = subprocess.run(
                [self._executable, *args],
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                timeout=SMI_TIMEOUT_S,
                check=False,
            )
        except subprocess.TimeoutExpired:
            return -1, "nvidia-smi did not answer within %d s" % SMI_TIMEOUT_S
        except OSError as error:
            return -1, "cannot run %s: %s" % (self._executable, error.strerror or error)
        return done.returncode, done.stdout.decode("utf-8", "replace")

    def _query(self) -> List[Tuple[str, str, Callable[[str], Any]]]:
        return [
            (field, names[0], self._converters[field])
            for field, names in self._names.items()
            if names
        ]

    def read(self) -> JsonDict:
        for _attempt in range(len(SMI_GPU_FIELDS) + 1):
            query = self._query()
            code, output = self._run(
                "--query-gpu=" + ",".join(name for _, name, _ in query),
                "--format=csv,noheader,nounits",
            )
            rejected = parse_smi_rejected_field(output) if code != 0 else None
            field = next((f for f, name, _ in query if name == rejected), None)
            if field is None:
                break
            # Try the field's older name next time; with none left, read it as unavailable.
            self._names[field] = self._names[field][1:]
            if not self._names[field]:
                self._rejected[field] = 'this nvidia-smi rejects "%s"' % rejected
        gpus, driver_version = parse_smi_gpus(output, query, self._rejected)
        truncated: Dict[str, str] = {}
        gpus = keep_first(gpus, MAX_GPUS, "gpus", truncated)
        if not gpus:
            return {
                "status": "no_driver" if "driver" in output.lower() else "error",
                "source": "nvidia-smi",
                "gpus": [],
                "reason": "nvidia-smi: %s" % (_first_line(output) or "exit code %d" % code),
            }
        self._add_remaps(gpus)
        self._add_processes(gpus, truncated)
        cuda_version, cuda_reason = self._cuda_version()
        section: JsonDict = {
            "status": "ok",
            "source": "nvidia-smi",
            "driver_version": driver_version,
            "cuda_driver_version": cuda_version,
            "gpus": gpus,
        }
        if cuda_reason is not None:
            section["unavailable"] = {"cuda_driver_version": cuda_reason}
        if truncated:
            section["truncated"] = truncated
        return section

    def _by_uuid(self, gpus: List[JsonDict]) -> Dict[str, JsonDict]:
        return {gpu["uuid"]: gpu for gpu in gpus if gpu.get("uuid")}

    def _add_remaps(self, gpus: List[JsonDict]) -> None:
        code, output = self._run(
            "--query-remapped-rows=gpu_uuid,remapped_rows.correctable,"
            "remapped_rows.uncorrectable,remapped_rows.pending,remapped_rows.failure",
            "--format=csv,noheader,nounits",
        )
        by_uuid = self._by_uuid(gpus)
        seen = set()
        if code == 0:
            for line in output.splitlines():
                values = split_smi_csv(line)
                gpu = by_uuid.get(values[0]) if len(values) == 5 else None
                if gpu is None:
                    continue
                seen.add(values[0])
                for (field, convert), text in zip(SMI_REMAP_FIELDS, values[1:]):
                    gpu[field] = smi_value(text, convert, field, gpu["unavailable"])
        reason = "N/A" if code == 0 else "nvidia-smi: %s" % _first_line(output)
        for gpu in gpus:
            if gpu.get("uuid") in seen:
                continue
            for field, _ in SMI_REMAP_FIELDS:
                gpu[field] = None
                gpu["unavailable"].setdefault(field, reason)

    def _add_processes(self, gpus: List[JsonDict], truncated: Dict[str, str]) -> None:
        for gpu in gpus:
            gpu["processes"] = []
        code, output = self._run(
            "--query-compute-apps=gpu_uuid,pid,used_memory", "--format=csv,noheader,nounits"
        )
        if code != 0:
            for gpu in gpus:
                gpu["unavailable"]["processes"] = "nvidia-smi: %s" % _first_line(output)
            return
        by_uuid = self._by_uuid(gpus)
        for line in output.splitlines():
            values = split_smi_csv(line)
            owner = by_uuid.get(values[0]) if len(values) == 3 else None
            if owner is None or not _is_number(values[1]):
                continue
            used = smi_value(values[2], _smi_mib, "gpu_memory_bytes", {})
            owner["processes"].append((int(values[1]), "compute", used))
        describe_processes(gpus, self._process_info, truncated)
