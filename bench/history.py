"""What an hour of history costs a console watching 1,024 hosts of 8 GPUs at one sample a
second: resident memory (measured against the stated formula), the time to record one
refresh of the whole fleet, and the time to draw the host screen's charts at each zoom.

Run: .venv/bin/python bench/history.py [--hosts 1024] [--gpus 8] [--window 3600]
(prints figures; asserts only that the store holds what the formula says)
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import msgspec  # noqa: E402
from rich.style import Style  # noqa: E402

from aiconsole.history import GPU_TRACKS, HOST_TRACKS, History, bytes_needed  # noqa: E402
from aiconsole.model import FleetSnapshot, HostSample, HostState  # noqa: E402
from aiconsole.widgets.chart import ChartSpec, draw_chart  # noqa: E402
from aiconsole.widgets.history_section import zoom_levels  # noqa: E402

MIB = 2**20


def rss_mib() -> float:
    """Resident memory now (Linux /proc), in MiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def fleet(hosts: int, gpus: int, seq: int, at: float) -> FleetSnapshot:
    """Every host with a new sample (values move with ``seq``), received at ``at``."""
    states = []
    for n in range(hosts):
        sample = msgspec.convert(
            {
                "seq": seq,
                "collected_at": at,
                "identity": {"name": f"h{n}", "hostname": f"h{n}", "probe_version": "0"},
                "cpu": {"count": 64, "total_percent": (seq + n) % 100},
                "memory": {"used_bytes": (n + 1) * 2**30},
                "nics": [{"name": "eth0", "rx_bytes_per_s": 1e6 * seq, "tx_bytes_per_s": 1e5}],
                "ib_ports": [{"device": "mlx5_0", "port": 1, "rx_bytes_per_s": 1e9}],
                "gpu": {
                    "status": "ok",
                    "source": "nvml",
                    "gpus": [
                        {
                            "index": i,
                            "util_gpu_percent": (seq * 7 + i) % 100,
                            "memory_used_bytes": i * 2**30,
                            "power_draw_w": 300.0 + i,
                            "temperature_c": 60.0 + i,
                        }
                        for i in range(gpus)
                    ],
                },
            },
            HostSample,
        )
        states.append(HostState(name=f"h{n}", status="ok", received_at=at, sample=sample))
    return FleetSnapshot(generated_at=at, hosts=tuple(states))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", type=int, default=1024)
    parser.add_argument("--gpus", type=int, default=8)
    parser.add_argument("--window", type=float, default=3600.0)
    parser.add_argument("--interval", type=float, default=1.0)
    args = parser.parse_args()

    snapshots = [fleet(args.hosts, args.gpus, seq, 1e9 + seq * args.interval) for seq in range(6)]
    before = rss_mib()
    history = History(window_s=args.window, interval_s=args.interval)
    history.record(snapshots[0])  # allocates (and touches) every ring in full
    after = rss_mib()
    stated = bytes_needed(args.hosts, args.gpus, args.window, args.interval)
    assert history.nbytes == stated, (history.nbytes, stated)
    print(
        f"fleet: {args.hosts} hosts x {args.gpus} GPUs, window {args.window:g} s "
        f"at {args.interval:g} s ({history.size} slots)"
    )
    print(f"stated (bytes_needed):     {stated / MIB:8.1f} MiB ({stated:,} bytes)")
    print(f"resident memory added:     {after - before:8.1f} MiB")
    print(f"process RSS now:           {after:8.1f} MiB")

    costs = []
    for snapshot in snapshots[1:]:
        start = time.perf_counter()
        history.record(snapshot)
        costs.append(time.perf_counter() - start)
    print(f"record one fleet refresh:  {min(costs) * 1000:8.1f} ms (best of {len(costs)})")

    styles = {name: Style() for name in ("accent", "dim", "warning", "cursor")}
    spec = ChartSpec("x", str)
    end = snapshots[-1].generated_at
    for span in zoom_levels(args.window):
        start = time.perf_counter()
        for metric in HOST_TRACKS:
            draw_chart(spec, history.host_series("h0", metric, span, end), 60, 4, styles)
        for index in range(args.gpus):
            for metric in GPU_TRACKS:
                series = history.gpu_series("h0", index, metric, span, end)
                if index == 0:
                    draw_chart(spec, series, 60, 4, styles)
        took = time.perf_counter() - start
        print(f"host screen history, {span / 60:5g} min span: {took * 1000:6.1f} ms per refresh")


if __name__ == "__main__":
    main()
