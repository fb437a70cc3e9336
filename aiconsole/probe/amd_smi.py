"""What the amdgpu sysfs tree lacks, from AMD's own tools: XGMI links and ECC per block.

``amd-smi metric --ecc-blocks --xgmi-err --json`` gives each block's correctable,
uncorrectable and deferred counts and the XGMI error status; ``amd-smi xgmi --json`` each
GPU's links to its peers (bit rate, bandwidth, data moved) and, from ROCm 6.4 on, the status
of each XGMI port; ``amd-smi list --json`` maps amd-smi's GPU numbers to PCI addresses (the
metric output has none). amd-smi up to 24.x prints a JSON list of per-GPU objects; later
versions wrap the lists in an object (``{"gpu_data": [...]}``): both are read, by looking for
the per-GPU objects wherever they are. Hosts with only the older ``rocm-smi`` get the XGMI
error status from ``rocm-smi --showxgmierr --json``; ECC per block then comes from sysfs.

These tools take seconds and their counts change slowly, so they run every
``AMD_SMI_INTERVAL_S`` under ``AMD_SMI_TIMEOUT_S`` and their answer is repeated in between.
"""

from __future__ import annotations

from aiconsole.probe.common import _first_line, clip

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable, Dict, Iterator, List, Optional, Tuple

    from aiconsole.probe.common import JsonDict

    Runner = Callable[[List[str], float], Tuple[int, str]]

AMD_SMI_INTERVAL_S = 30.0
AMD_SMI_TIMEOUT_S = 8.0
TOOL_SEARCH_S = 60.0
MAX_XGMI_LINKS = 64  # AMDSMI_MAX_NUM_XGMI_LINKS
MAX_ECC_BLOCKS = 32
KIB = 1024
# amd-smi prints amdsmi_xgmi_status_t names; rocm-smi the sysfs xgmi_error value.
XGMI_ERRORS = {
    "AMDSMI_XGMI_STATUS_NO_ERRORS": "none",
    "AMDSMI_XGMI_STATUS_ERROR": "single",
    "AMDSMI_XGMI_STATUS_MULTIPLE_ERRORS": "multiple",
    "0": "none",
    "1": "single",
    "2": "multiple",
}
# amd-smi prints a port's state as U, D or X.
PORT_STATES = {"u": "up", "d": "down", "x": "disabled", "up": "up", "down": "down"}


def _json(text: str) -> Any:
    import json  # only hosts with AMD GPUs and amd-smi pay for the import

    try:
        return json.loads(text)
    except ValueError:
        return None


def _objects(document: Any, key: str) -> Iterator[JsonDict]:
    """Every object in ``document`` (at any depth, outer first) that has ``key``: the
    per-GPU records, whichever version's wrapper holds them. A wrapper can itself have the
    key (``{"link_status": [records]}``): callers check the value's shape."""
    stack = [document]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            if key in node:
                yield node
            stack.extend(reversed(list(node.values())))
        elif isinstance(node, list):
            stack.extend(reversed(node))


def _count(value: Any) -> Optional[int]:
    """An amd-smi count: an int, ``{"value": N}``, or "N/A" (None)."""
    if isinstance(value, dict):
        value = value.get("value")
    if isinstance(value, bool):
        return None
    if isinstance(value, int) and value >= 0:
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return None


def _number(value: Any) -> Optional[float]:
    if isinstance(value, dict):
        value = value.get("value")
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        return None
    try:
        number = float(value)
    except ValueError:
        return None
    return number if number == number and number >= 0 else None


def _gpu_id(record: JsonDict) -> Optional[int]:
    return _count(record.get("gpu"))


def parse_list(text: str) -> Dict[int, str]:
    """``amd-smi list --json`` -> {amd-smi GPU number: PCI address}."""
    found = {}
    for record in _objects(_json(text), "bdf"):
        gpu, bdf = _gpu_id(record), record.get("bdf")
        if gpu is not None and isinstance(bdf, str) and "link_metrics" not in record:
            found[gpu] = clip(bdf.lower())
    return found


def parse_metric(text: str) -> Dict[int, JsonDict]:
    """``amd-smi metric --ecc-blocks --xgmi-err --json`` -> {GPU number: {"ecc_blocks",
    "xgmi_error"}}; a block whose counts are "N/A" keeps None there."""
    found: Dict[int, JsonDict] = {}
    for record in _objects(_json(text), "gpu"):
        gpu = _gpu_id(record)
        if gpu is None or not ("ecc_blocks" in record or "xgmi_err" in record):
            continue
        entry: JsonDict = {}
        blocks = record.get("ecc_blocks")
        if isinstance(blocks, dict):
            entry["ecc_blocks"] = [
                {
                    "block": clip(str(name)),
                    "correctable": _count(counts.get("correctable_count")),
                    "uncorrectable": _count(counts.get("uncorrectable_count")),
                    "deferred": _count(counts.get("deferred_count")),
                }
                for name, counts in list(blocks.items())[:MAX_ECC_BLOCKS]
                if isinstance(counts, dict)
            ]
        status = record.get("xgmi_err")
        if isinstance(status, str):
            entry["xgmi_error"] = XGMI_ERRORS.get(status.strip())
        found[gpu] = entry
    return found


def parse_xgmi(text: str) -> Dict[str, JsonDict]:
    """``amd-smi xgmi --json`` -> {PCI address: {"links": [...], "ports": [...]}}.

    A peer the GPU has no link to (itself, or one reached only over PCIe) is "N/A" in the
    tool's output and left out; read and write are the data moved since the driver loaded.
    """
    document = _json(text)
    found: Dict[str, JsonDict] = {}
    for record in _objects(document, "link_metrics"):
        metrics, bdf = record.get("link_metrics"), record.get("bdf")
        if not isinstance(metrics, dict) or not isinstance(bdf, str):
            continue
        links = []
        for link in metrics.get("links") or []:
            if not isinstance(link, dict) or not isinstance(link.get("bdf"), str):
                continue
            read, write = _count(link.get("read")), _count(link.get("write"))
            if read is None and write is None:
                continue  # no XGMI link to this peer
            links.append(
                {
                    "peer_bus_id": clip(link["bdf"].lower()),
                    "bit_rate_gbps": _number(metrics.get("bit_rate")),
                    "max_bandwidth_gbps": _number(metrics.get("max_bandwidth")),
                    "read_bytes": None if read is None else read * KIB,
                    "write_bytes": None if write is None else write * KIB,
                }
            )
        found.setdefault(bdf.lower(), {})["links"] = links[:MAX_XGMI_LINKS]
    for record in _objects(document, "link_status"):
        states, bdf = record.get("link_status"), record.get("bdf")
        if isinstance(states, list) and isinstance(bdf, str):
            ports = [PORT_STATES.get(str(state).strip().lower()) for state in states]
            found.setdefault(bdf.lower(), {})["ports"] = ports[:MAX_XGMI_LINKS]
    return found


def parse_rocm_smi_xgmi_errors(text: str) -> Dict[str, Optional[str]]:
    """``rocm-smi --showxgmierr --json`` -> {card name: error status}."""
    document = _json(text)
    found: Dict[str, Optional[str]] = {}
    if isinstance(document, dict):
        for card, fields in document.items():
            if isinstance(fields, dict) and "XGMI Error count" in fields:
                found[str(card)] = XGMI_ERRORS.get(str(fields["XGMI Error count"]).strip())
    return found


class AmdSmiReader:
    """Runs amd-smi (or rocm-smi) now and then and adds what it says to the sysfs GPUs."""

    def __init__(
        self, find: Callable[[str], Optional[str]], run: Runner, monotonic: Callable[[], float]
    ) -> None:
        self._find = find
        self._run = run
        self._monotonic = monotonic
        self._searched_at: Optional[float] = None
        self._tool: Optional[Tuple[str, str]] = None  # (name, path)
        self._read_at: Optional[float] = None
        self._bus_ids: Dict[int, str] = {}
        self._by_bus: Dict[str, JsonDict] = {}
        self._reason: Optional[str] = "amd-smi not run yet"

    def add_to(self, gpus: List[JsonDict], card_names: List[str]) -> None:
        """Set ``ecc_blocks``, ``xgmi_error``, ``xgmi_links`` and ``xgmi_ports`` on each of
        ``gpus`` (the sysfs ones, in card order, ``card_names`` beside them), or None and the
        reason; ECC per block falls back to the sysfs RAS counters."""
        now = self._monotonic()
        if self._read_at is None or now - self._read_at >= AMD_SMI_INTERVAL_S:
            self._read_at = now
            self._refresh(now, card_names, gpus)
        for gpu in gpus:
            found = self._by_bus.get(str(gpu.get("bus_id") or "").lower(), {})
            unavailable = gpu.setdefault("unavailable", {})
            blocks = found.get("ecc_blocks")
            if blocks is None:
                blocks = _sysfs_blocks(gpu.get("ras_errors"))
                why = self._reason or "not reported by %s" % self._tool_name()
                if blocks is None:
                    unavailable["ecc_blocks"] = why + "; no sysfs RAS counters either"
                else:  # the sysfs counters have no deferred errors
                    unavailable["ecc_deferred"] = why
            gpu["ecc_blocks"] = blocks
            for field in ("xgmi_error", "xgmi_links", "xgmi_ports"):
                gpu[field] = found.get(field)
                if gpu[field] is None:
                    unavailable[field] = self._reason or "not reported by %s" % self._tool_name()
            if gpu["xgmi_links"] is None:
                gpu["xgmi_links"] = []
            if gpu["xgmi_ports"] is None:
                gpu["xgmi_ports"] = []

    def _tool_name(self) -> str:
        return self._tool[0] if self._tool is not None else "amd-smi"

    def _refresh(self, now: float, card_names: List[str], gpus: List[JsonDict]) -> None:
        if self._tool is None and (
            self._searched_at is None or now - self._searched_at >= TOOL_SEARCH_S
        ):
            self._searched_at = now
            for name in ("amd-smi", "rocm-smi"):
                path = self._find(name)
                if path is not None:
                    self._tool = (name, path)
                    break
        if self._tool is None:
            self._by_bus, self._reason = {}, "neither amd-smi nor rocm-smi is installed"
            return
        name, path = self._tool
        if name == "rocm-smi":
            self._by_bus, self._reason = self._rocm_smi(path, card_names, gpus)
        else:
            self._by_bus, self._reason = self._amd_smi(path)

    def _ask(self, argv: List[str]) -> Tuple[Optional[str], Optional[str]]:
        """(output, None) or (None, why)."""
        status, output = self._run(argv, AMD_SMI_TIMEOUT_S)
        if status != 0:
            why = _first_line(output) if output.strip() else "exit %d" % status
            return None, "%s %s: %s" % (argv[0].rsplit("/", 1)[-1], argv[1], why)
        return output, None

    def _amd_smi(self, path: str) -> Tuple[Dict[str, JsonDict], Optional[str]]:
        if not self._bus_ids:
            output, why = self._ask([path, "list", "--json"])
            if output is None:
                return {}, why
            self._bus_ids = parse_list(output)
        by_bus: Dict[str, JsonDict] = {}
        output, why = self._ask([path, "metric", "--ecc-blocks", "--xgmi-err", "--json"])
        if output is not None:
            for gpu, entry in parse_metric(output).items():
                if gpu in self._bus_ids:
                    by_bus.setdefault(self._bus_ids[gpu], {}).update(entry)
        xgmi, xgmi_why = self._ask([path, "xgmi", "--json"])
        if xgmi is not None:
            for bdf, entry in parse_xgmi(xgmi).items():
                if "links" in entry:
                    by_bus.setdefault(bdf, {})["xgmi_links"] = entry["links"]
                if "ports" in entry:
                    by_bus.setdefault(bdf, {})["xgmi_ports"] = entry["ports"]
        return by_bus, why or xgmi_why

    def _rocm_smi(
        self, path: str, card_names: List[str], gpus: List[JsonDict]
    ) -> Tuple[Dict[str, JsonDict], Optional[str]]:
        output, why = self._ask([path, "--showxgmierr", "--json"])
        if output is None:
            return {}, why
        errors = parse_rocm_smi_xgmi_errors(output)
        by_bus: Dict[str, JsonDict] = {}
        for card, gpu in zip(card_names, gpus):
            if card in errors and gpu.get("bus_id"):
                by_bus[str(gpu["bus_id"]).lower()] = {"xgmi_error": errors[card]}
        return by_bus, "rocm-smi reports no XGMI links or deferred ECC errors; amd-smi does"


def _sysfs_blocks(ras: Any) -> Optional[List[JsonDict]]:
    """ECC per block from the sysfs RAS counters ((uncorrectable, correctable) per block)."""
    if not isinstance(ras, dict):
        return None
    return [
        {"block": name.upper(), "correctable": counts[1], "uncorrectable": counts[0]}
        for name, counts in sorted(ras.items())[:MAX_ECC_BLOCKS]
    ]
