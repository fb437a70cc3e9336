"""The bench's fleet in a Prometheus TSDB: OpenMetrics for ``promtool tsdb create-blocks-from``
(dcgm-exporter, node_exporter and ``up`` series of a synthetic fleet) and the server's config.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from tests.prometheus_server import scrape_config

GPUS = 8
CPUS = 4
SPAN_S = 420
"""Samples reach this far past the backfill, so both phases (direct queries, then recording
rules) find fresh data, as from a fleet scraped once a minute."""


def write_openmetrics(path: Path, hosts: int, now: int) -> int:
    """The fleet's series with samples until :data:`SPAN_S` from now, so the bench (which
    starts querying after the backfill and Prometheus's start) finds fresh data: gauges
    every 60 s, CPU counters every 30 s (rate() over 1 m needs two). Returns the series count.
    """
    gauge_times = tuple(now + 60 * k for k in range(SPAN_S // 60 + 1))
    counter_times = tuple(now - 30 + 30 * k for k in range(SPAN_S // 30 + 2))
    series = 0
    dcgm: dict[str, Callable[[int, int], int]] = {
        "DCGM_FI_DEV_GPU_UTIL": lambda h, g: (h * 7 + g * 13) % 101,
        "DCGM_FI_DEV_FB_USED": lambda h, g: 20480 + g,
        "DCGM_FI_DEV_FB_FREE": lambda h, g: 61440 - g,
        "DCGM_FI_DEV_GPU_TEMP": lambda h, g: 40 + (h + g) % 40,
        "DCGM_FI_DEV_POWER_USAGE": lambda h, g: 100 + (h * 3 + g) % 600,
        # The fault series a real dcgm-exporter also sends for every GPU, zero when healthy:
        # a few GPUs have an XID and one a row remapping failure, as in any large fleet.
        "DCGM_FI_DEV_XID_ERRORS": lambda h, g: 79 if g == 0 and h % 997 == 0 else 0,
        "DCGM_FI_DEV_ECC_DBE_VOL_TOTAL": lambda h, g: 0,
        "DCGM_FI_DEV_ROW_REMAP_FAILURE": lambda h, g: 1 if (h, g) == (42, 3) else 0,
        "DCGM_FI_DEV_ROW_REMAP_PENDING": lambda h, g: 0,
    }

    with path.open("w") as out:
        write = out.write

        def gauge(name_and_labels: str, value: object) -> None:
            write("".join(f"{name_and_labels} {value} {t}\n" for t in gauge_times))

        for name, value in dcgm.items():
            write(f"# TYPE {name} gauge\n")
            for h in range(hosts):
                for g in range(GPUS):
                    labels = (
                        f'{{gpu="{g}",UUID="GPU-{h:05d}-{g}"'
                        f',pci_bus_id="00000000:{0x18 + g:02X}:00.0",device="nvidia{g}"'
                        f',modelName="NVIDIA H100 80GB HBM3",Hostname="gpu{h:05d}"'
                        f',instance="10.{h // 256}.{h % 256}.1:9400",job="dcgm"}}'
                    )
                    gauge(f"{name}{labels}", value(h, g))
                    series += 1
        node_labels = [
            f'hostname="gpu{h:05d}",instance="10.{h // 256}.{h % 256}.1:9100",job="node"'
            for h in range(hosts)
        ]
        write("# TYPE node_cpu_seconds counter\n")
        for labels in node_labels:
            for cpu in range(CPUS):
                full = f'node_cpu_seconds_total{{cpu="{cpu}",mode="idle",{labels}}}'
                # 15 s idle per 30 s: half busy.
                write("".join(f"{full} {1000 + 15 * k} {t}\n" for k, t in enumerate(counter_times)))
                series += 1
        gauges = {
            "node_memory_MemTotal_bytes": 2**40,
            "node_memory_MemAvailable_bytes": 2**39,
            "node_load1": 3.5,
            "node_load5": 3.0,
            "node_load15": 2.5,
            "node_boot_time_seconds": now - 86400,
        }
        for name, constant in gauges.items():
            write(f"# TYPE {name} gauge\n")
            for labels in node_labels:
                gauge(f"{name}{{{labels}}}", constant)
                series += 1
        write("# TYPE up gauge\n")  # every real Prometheus has it: one per scrape target
        for h in range(hosts):
            for job, port in (("dcgm", 9400), ("node", 9100)):
                gauge(f'up{{instance="10.{h // 256}.{h % 256}.1:{port}",job="{job}"}}', 1)
                series += 1
        write("# EOF\n")
    return series


def bench_config(rule_files: list[str] | None = None) -> str:
    """No scrapes; an out-of-order window, because the backfilled blocks reach into the future
    (fresh data for the whole bench) and Prometheus refuses to append anything older than a
    block's end, recorded rule results included, unless the window lets it."""
    config = json.loads(scrape_config({}, rule_files=rule_files))
    config["storage"] = {"tsdb": {"out_of_order_time_window": "1h"}}
    return json.dumps(config, indent=1) + "\n"
