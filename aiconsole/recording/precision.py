"""Measurements rounded to the precision they are shown at, before a recording stores them.

A probe reports a rate as whole bytes over the interval's real length, so every rate is a
float with seventeen significant digits, of which the screens show three (``1.5K``,
``79.6G``, ``512M``); an energy counter grows by power x time in millijoules; a timestamp
carries microseconds. Stored as they are, those digits are noise that no compressor can
squeeze, and they were most of a recording. Rounded at the write boundary, a replay shows the
figures the live console showed (a last digit may differ by a few where the binary units
show four digits, ``1020M``), and the file is less than half the size.

The rounding (documented in docs/recording.md):

- rates and IOPS (``*_per_s``, ``*_iops``): three significant digits, as the screens show
  them (``12.3 MB/s``);
- byte gauges that move (memory used and available, process RSS, GPU memory used): three
  significant digits; sizes and totals are kept exactly;
- power: 0.1 W; energy counters: whole joules; timestamps and the probe's CPU time: 1 ms;
  ``age_s``: 0.1 s;
- everything else (percentages, temperatures, counts, names) as it is.

Only the fields named here are touched, by walking the snapshot's known shape: a field added
later is recorded exactly until it is added to these rules.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from typing import Any

Rule = Callable[[Any], Any]


def significant(digits: int) -> Rule:
    def rounded(value: Any) -> Any:
        if type(value) not in (int, float) or not value or not math.isfinite(value):
            return value
        places = digits - 1 - math.floor(math.log10(abs(value)))
        return round(value, places) if type(value) is float or places < 0 else value

    return rounded


def decimals(places: int) -> Rule:
    def rounded(value: Any) -> Any:
        if type(value) is not float or not math.isfinite(value):
            return value
        return float(round(value, places))

    return rounded


THREE_DIGITS = significant(3)
MILLISECONDS = decimals(3)

FLEET = {"generated_at": MILLISECONDS}
HOST = {"received_at": MILLISECONDS, "age_s": decimals(1)}
SAMPLE = {"collected_at": MILLISECONDS, "probe_cpu_s": MILLISECONDS}
MEMORY = {"used_bytes": THREE_DIGITS, "available_bytes": THREE_DIGITS}
GPU = {
    "power_draw_w": decimals(1),
    "energy_j": decimals(0),
    "energy_session_j": decimals(0),
    "memory_used_bytes": THREE_DIGITS,
}
PROCESS = {"rss_bytes": THREE_DIGITS}


def _apply(node: Any, rules: dict[str, Rule]) -> None:
    if type(node) is dict:
        for key, rule in rules.items():
            if key in node:
                node[key] = rule(node[key])


def _rates(nodes: Iterable[Any]) -> None:
    """Every ``*_per_s`` and ``*_iops`` field of each of ``nodes``."""
    for node in nodes:
        if type(node) is dict:
            for key, value in node.items():
                if type(value) is float and (key.endswith("_per_s") or key.endswith("_iops")):
                    node[key] = THREE_DIGITS(value)


def _items(node: Any, key: str) -> Any:
    """The list (or tuple: ``msgspec.to_builtins`` keeps a struct's tuples) at ``key``."""
    found = node.get(key) if type(node) is dict else None
    return found if type(found) in (list, tuple) else ()


def quantize(tree: Any) -> Any:
    """Round ``tree`` (a fleet snapshot's builtins form) in place; returns it."""
    _apply(tree, FLEET)
    for host in _items(tree, "hosts"):
        _apply(host, HOST)
        sample = host.get("sample") if type(host) is dict else None
        if type(sample) is not dict:
            continue
        _apply(sample, SAMPLE)
        _apply(sample.get("memory"), MEMORY)
        for key in ("nics", "disks", "ib_ports", "shared_filesystems"):
            _rates(_items(sample, key))
        for gpu in _items(sample.get("gpu"), "gpus"):
            _apply(gpu, GPU)
            for process in _items(gpu, "processes"):
                _apply(process, PROCESS)
    return tree
