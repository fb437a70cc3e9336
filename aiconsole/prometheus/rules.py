"""Optional recording rules that let Prometheus keep the fleet's per-host figures itself.

Without them, every refresh has the server aggregate every GPU's series (at 10,000 hosts x 8
GPUs, about half a million series read per refresh: seconds of its CPU). With them, the
server computes the same per-host figures once per rule interval, whatever the number of
consoles, and a refresh reads one series per host and field. The console notices the
recorded series by itself (and goes back to the direct queries when they disappear).

The expressions are the console's own fleet queries (:mod:`aiconsole.prometheus.queries`),
so both ways give the same figures; data ages still come from the scraped samples' own
timestamps, so a rule interval adds to a host's age instead of hiding it.

    python -m aiconsole.prometheus.rules [--interval 15s] > aiconsole-rules.yml

then name the file under ``rule_files`` in prometheus.yml and reload Prometheus.
"""

from __future__ import annotations

import argparse
import json
import re

from aiconsole.prometheus import queries

DEFAULT_INTERVAL = "15s"
_DURATION = re.compile(r"^[0-9]+(ms|s|m|h)$")


def _group(name: str, interval: str, record: str, fields: dict[str, str]) -> list[str]:
    lines = [f"  - name: {name}", f"    interval: {interval}", "    rules:"]
    for field, expression in fields.items():
        lines += [
            f"      - record: {record}",
            f"        expr: {json.dumps(expression)}",  # a JSON string is a YAML scalar
            "        labels:",
            f"          {queries.FIELD}: {json.dumps(field)}",
        ]
    return lines


def rules_yaml(interval: str = DEFAULT_INTERVAL, slow_interval: str = "1m") -> str:
    """A Prometheus rule file recording the fleet figures every ``interval`` (and those that
    hardly change every ``slow_interval``)."""
    for duration in (interval, slow_interval):
        if not _DURATION.match(duration):
            raise ValueError(f"not a Prometheus duration: {duration!r}")
    fast = {field: expr for fields in queries.GPU_FIELDS for field, expr in fields.items()}
    fast.update(queries.HOST_FIELDS)
    lines = [
        "# aiconsole fleet figures per host (python -m aiconsole.prometheus.rules)",
        "groups:",
        *_group("aiconsole_fleet", interval, queries.RECORDED, fast),
        # What hardly changes (GPU and CPU counts, framebuffer size): once a minute is plenty.
        *_group("aiconsole_fleet_slow", slow_interval, queries.RECORDED_SLOW, queries.SLOW_FIELDS),
    ]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="python -m aiconsole.prometheus.rules",
        description="Print Prometheus recording rules for aiconsole's fleet figures.",
    )
    parser.add_argument(
        "--interval",
        default=DEFAULT_INTERVAL,
        help=f"how often the per-host figures are computed (default {DEFAULT_INTERVAL})",
    )
    args = parser.parse_args()
    try:
        print(rules_yaml(args.interval), end="")
    except ValueError as error:
        parser.error(str(error))


if __name__ == "__main__":
    main()
