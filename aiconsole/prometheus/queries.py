"""The PromQL the source sends: a few server-side aggregations per refresh, one set per host.

A fleet refresh is four queries whatever the fleet's size: the GPU figures per host (in two
halves, so the server can work on both at once), the host figures per host, and the failing
scrape targets (``up == 0``); once a minute a fifth reads what hardly changes (GPU and CPU
counts, framebuffer size). Each aggregates on the server (``by`` the host labels),
so the answer is one series per host and field instead of one per GPU and field; several
fields travel in one answer, told apart by an ``aiconsole_field`` label that
``label_replace`` adds. Opening a host adds a drill-down set: that host's raw series only.

Hosts are keyed by ``hostname`` (the usual relabelled label), else ``Hostname``
(dcgm-exporter's own), else ``instance`` without its port, so dcgm-exporter and
node_exporter series of one machine meet whichever spelling a site uses.
"""

from __future__ import annotations

import re

FIELD = "aiconsole_field"
HOST_LABELS = "hostname, Hostname, instance"
RATE_WINDOW = "1m"
VIRTUAL_NICS = "lo|veth.*|docker.*|br-.*|virbr.*|cni.*|flannel.*|cali.*|tunl.*"


def _tag(expression: str, field: str) -> str:
    return f'label_replace({expression}, "{FIELD}", "{field}", "", "")'


def _fields(fields: dict[str, str]) -> str:
    return " or ".join(_tag(expression, field) for field, expression in fields.items())


def _by_host(aggregation: str, expression: str) -> str:
    return f"{aggregation} by ({HOST_LABELS}) ({expression})"


GPU_FIELDS = (
    {
        "gpu_util": _by_host("avg", "DCGM_FI_DEV_GPU_UTIL"),
        "gpu_temp": _by_host("max", "DCGM_FI_DEV_GPU_TEMP"),
        # One GPU per host is enough to date the host's data; all of them cost 8x.
        "gpu_at": _by_host("max", 'timestamp(DCGM_FI_DEV_GPU_UTIL{gpu="0"})'),
    },
    {
        "gpu_fb_used": _by_host("sum", "DCGM_FI_DEV_FB_USED"),
        "gpu_power": _by_host("sum", "DCGM_FI_DEV_POWER_USAGE"),
    },
)
"""Per host, every refresh: mean utilisation, hottest GPU, framebuffer used (MiB), power."""
GPU_FLEET = tuple(_fields(fields) for fields in GPU_FIELDS)

SLOW_FIELDS = {
    "gpu_count": _by_host("count", "DCGM_FI_DEV_GPU_UTIL"),
    "gpu_fb_total": _by_host("sum", "DCGM_FI_DEV_FB_USED + DCGM_FI_DEV_FB_FREE"),
    "cpus": _by_host("count", 'node_cpu_seconds_total{mode="idle"}'),
    "mem_total": _by_host("max", "node_memory_MemTotal_bytes"),
}
"""Per host, once a minute (and for new hosts): GPU count, framebuffer size, CPU count and
memory size, which do not change from one refresh to the next. Each series the server reads
costs it about the same whatever it is, so not reading these every time spares it a good
share of its work."""
SLOW = _fields(SLOW_FIELDS)

HOST_FIELDS = {
    "cpu_busy": "1 - "
    + _by_host("avg", f'rate(node_cpu_seconds_total{{mode="idle"}}[{RATE_WINDOW}])'),
    "mem_available": _by_host("max", "node_memory_MemAvailable_bytes"),
    "load1": _by_host("max", "node_load1"),
    "rx": _by_host(
        "sum",
        f'rate(node_network_receive_bytes_total{{device!~"{VIRTUAL_NICS}"}}[{RATE_WINDOW}])',
    ),
    "tx": _by_host(
        "sum",
        f'rate(node_network_transmit_bytes_total{{device!~"{VIRTUAL_NICS}"}}[{RATE_WINDOW}])',
    ),
    "at": _by_host("max", "timestamp(node_memory_MemTotal_bytes)"),
    # aiconsole's own exporter, where Prometheus scrapes one:
    "a_cpus": _by_host("max", "aiconsole_cpu_count"),
    "a_cpu_busy": _by_host("max", "aiconsole_cpu_utilization_ratio"),
    "a_mem_total": _by_host("max", "aiconsole_memory_total_bytes"),
    "a_mem_available": _by_host("max", "aiconsole_memory_available_bytes"),
    "a_at": _by_host("max", "timestamp(aiconsole_memory_total_bytes)"),
}
"""Per host, from node_exporter (and aiconsole's exporter): CPU, memory, load, network."""
HOST_FLEET = _fields(HOST_FIELDS)

RECORDED = "host:aiconsole_fleet:by_host"
RECORDED_SLOW = "host:aiconsole_fleet_slow:by_host"
"""Where the optional recording rules (:mod:`aiconsole.prometheus.rules`) keep the same
per-host figures, one series per host and field (the field in the ``aiconsole_field``
label): the server computes them once per rule interval however many consoles read them,
and a refresh then reads those series only, not every GPU's."""
RECORDED_GROUPS = (
    ("gpu_util", "gpu_temp"),
    ("gpu_at", "gpu_fb_used", "gpu_power"),
    ("cpu_busy", "mem_available", "load1", "at"),
    ("rx", "tx", "a_cpus", "a_cpu_busy", "a_mem_total", "a_mem_available", "a_at"),
)
RECORDED_FLEET = tuple(f'{RECORDED}{{{FIELD}=~"{"|".join(fields)}"}}' for fields in RECORDED_GROUPS)
"""The recorded figures in four answers asked at once: the server works on two while the
console decodes the others, and a smaller answer costs it less per series to build (at
10,000 hosts, four answers came back in 0.5 s where two took 0.7-0.9 s, on two cores). A
field recorded by an older rule file still arrives in one of them or is simply absent."""

UP = "up == 0"
"""The scrape targets whose last scrape failed (only those travel)."""


def escape(value: str) -> str:
    """A PromQL double-quoted string literal's inside (label values are untrusted)."""
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def host_selectors(label: str, value: str) -> list[str]:
    """Matchers that pick one host's series, for the label the host was keyed by."""
    if label == "instance":
        pattern = re.escape(value) + "(:[0-9]+)?"
        return [f'instance=~"{escape(pattern)}"']
    # The same machine may carry either spelling on different exporters.
    return [f'hostname="{escape(value)}"', f'Hostname="{escape(value)}"']


def drill_down(label: str, value: str) -> str:
    """One host's raw series (all of them: the names are picked out on this side, which
    spares the server a regular expression over every metric name of the fleet), and its
    NICs' byte rates."""
    parts = []
    for selector in host_selectors(label, value):
        parts += [
            f"{{{selector}}}",
            _tag(f"rate(node_network_receive_bytes_total{{{selector}}}[{RATE_WINDOW}])", "rx"),
            _tag(f"rate(node_network_transmit_bytes_total{{{selector}}}[{RATE_WINDOW}])", "tx"),
        ]
    return " or ".join(parts)
