"""Stand-in dcgm-exporter and node_exporter endpoints: real HTTP, their text format, our values.

Each endpoint is one scrape target on 127.0.0.1 with its own port, serving what a real
exporter on a GPU node would (metric names, labels, units), from values the test sets, so a
real Prometheus can scrape them and the test knows exactly what it should read back.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def _labels(pairs: dict[str, str]) -> str:
    def escape(value: str) -> str:
        return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")

    return ",".join(f'{key}="{escape(value)}"' for key, value in pairs.items())


@dataclass
class StandInGpu:
    index: int
    util: float = 50.0
    fb_used_mib: float = 20480.0
    fb_free_mib: float = 61440.0
    temp: float = 60.0
    power: float = 400.0
    sm_clock: float = 1980.0
    xid: float = 0.0
    remapped_uncorrectable: float = 0.0


@dataclass
class DcgmHost:
    """dcgm-exporter on one host: its Hostname label is the host's name."""

    hostname: str
    gpus: list[StandInGpu] = field(default_factory=list)

    def text(self) -> str:
        fields = (
            ("DCGM_FI_DEV_GPU_UTIL", "gauge", "util"),
            ("DCGM_FI_DEV_FB_USED", "gauge", "fb_used_mib"),
            ("DCGM_FI_DEV_FB_FREE", "gauge", "fb_free_mib"),
            ("DCGM_FI_DEV_GPU_TEMP", "gauge", "temp"),
            ("DCGM_FI_DEV_POWER_USAGE", "gauge", "power"),
            ("DCGM_FI_DEV_SM_CLOCK", "gauge", "sm_clock"),
            ("DCGM_FI_DEV_XID_ERRORS", "gauge", "xid"),
            ("DCGM_FI_DEV_UNCORRECTABLE_REMAPPED_ROWS", "counter", "remapped_uncorrectable"),
        )
        lines = []
        for name, kind, attribute in fields:
            lines += [f"# HELP {name} {name}.", f"# TYPE {name} {kind}"]
            for gpu in self.gpus:
                labels = _labels(
                    {
                        "gpu": str(gpu.index),
                        "UUID": f"GPU-{self.hostname}-{gpu.index}",
                        "pci_bus_id": f"00000000:{0x18 + gpu.index:02X}:00.0",
                        "device": f"nvidia{gpu.index}",
                        "modelName": "NVIDIA H100 80GB HBM3",
                        "Hostname": self.hostname,
                        "DCGM_FI_DRIVER_VERSION": "550.54.15",
                    }
                )
                lines.append(f"{name}{{{labels}}} {getattr(gpu, attribute)}")
        return "\n".join(lines) + "\n"


@dataclass
class NodeHost:
    """node_exporter on one host (no host label of its own: Prometheus adds ``hostname``)."""

    cpus: int = 4
    memory_total: int = 64 * 1024**3
    memory_available: int = 48 * 1024**3
    load1: float = 1.5
    idle_seconds: float = 1000.0
    """Grows per scrape by ``cpus * idle_share`` so rate() gives a known busy share."""

    def text(self) -> str:
        lines = ["# TYPE node_cpu_seconds_total counter"]
        for cpu in range(self.cpus):
            for mode in ("idle", "user"):
                lines.append(
                    f'node_cpu_seconds_total{{cpu="{cpu}",mode="{mode}"}} {self.idle_seconds}'
                )
        lines += [
            "# TYPE node_memory_MemTotal_bytes gauge",
            f"node_memory_MemTotal_bytes {self.memory_total}",
            "# TYPE node_memory_MemAvailable_bytes gauge",
            f"node_memory_MemAvailable_bytes {self.memory_available}",
            "# TYPE node_load1 gauge",
            f"node_load1 {self.load1}",
        ]
        root = '{device="/dev/nvme0n1p2",fstype="ext4",mountpoint="/"}'
        for name, value in (("size", "1e12"), ("avail", "4e11"), ("free", "5e11")):
            lines += [
                f"# TYPE node_filesystem_{name}_bytes gauge",
                f"node_filesystem_{name}_bytes{root} {value}",
            ]
        return "\n".join(lines) + "\n"


class _Handler(BaseHTTPRequestHandler):
    server: Endpoint

    def do_GET(self) -> None:
        if self.server.failing:
            self.send_error(500, "exporter failing")
            return
        body = self.server.source.text().encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; version=0.0.4")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


class Endpoint(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, source: DcgmHost | NodeHost) -> None:
        self.source = source
        self.failing = False
        super().__init__(("127.0.0.1", 0), _Handler)
        self.thread = threading.Thread(target=self.serve_forever, daemon=True)
        self.thread.start()

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.server_address[1]}"


@contextmanager
def endpoints(*sources: DcgmHost | NodeHost) -> Iterator[list[Endpoint]]:
    started = [Endpoint(source) for source in sources]
    try:
        yield started
    finally:
        for endpoint in started:
            endpoint.shutdown()
            endpoint.server_close()
