"""What an incident recording costs: file size for 256 hosts x 1 hour at 1 Hz, the writer's CPU
per snapshot, and how long ``replay --at`` takes to produce one frame.

The fleet is tests/moving_fleet.py: the synthetic 8-GPU hosts (tests/synthetic.py, two GPU
processes per GPU, a sixth of the hosts unreachable, stale or GPU-less), moved each second
the way a probe's next sample moves: random walks of utilisation, power, temperatures, CPU
and load at the probe's precision; rates as whole bytes over a jittered interval (so full
float precision, as the probe reports them); energy counters growing by power x time; RSS
and memory in pages; occasional process starts/stops and XIDs. Names and static fields
stay put. See that module's docstring for the details. The writer stores measurements at the
precision the screens show (aiconsole/recording/precision.py), whatever the fleet reports.

Run: .venv/bin/python bench/recording.py [--hosts 256] [--seconds 3600] [--chunk 300]
(prints a table; asserts nothing). The hour takes several minutes of CPU to generate.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from aiconsole.recording import Recording, RecordingWriter  # noqa: E402
from tests.moving_fleet import MovingFleet  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", type=int, default=256)
    parser.add_argument("--seconds", type=int, default=3600)
    parser.add_argument("--chunk", type=int, default=300, help="frames per keyframe chunk")
    parser.add_argument("--seeks", type=int, default=5)
    parser.add_argument(
        "--rate-decimals",
        type=int,
        default=None,
        metavar="N",
        help="round the fleet's rates to N decimals (default: full precision, as the probe "
        "reports them): what rounding in the probe would save",
    )
    args = parser.parse_args()

    fleet = MovingFleet(args.hosts, rate_decimals=args.rate_decimals)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.aicrec"
        writer = RecordingWriter(path, chunk_frames=args.chunk, interval=1.0)
        # thread_time: this thread only (the writer's diff, not the fleet generator's steps);
        # process_time - thread_time: the background thread's encoding and xz compression.
        add_cpu = 0.0
        thread_start, process_start = time.thread_time(), time.process_time()
        for _ in range(args.seconds):
            snapshot = fleet.step()
            before = time.thread_time()
            writer.add(snapshot)
            add_cpu += time.thread_time() - before
        before = time.thread_time()
        size = writer.close()
        add_cpu += time.thread_time() - before
        background = (time.process_time() - process_start) - (time.thread_time() - thread_start)
        total_cpu = add_cpu + background

        seeks = []
        with Recording(path) as recording:
            count = len(recording.times)
            for number in range(args.seeks):
                frame = (number * 7919 + count // 2) % count  # spread over the file
                recording._cached = None  # a fresh seek: inflate the chunk, build the frame
                before = time.perf_counter()
                recording.snapshot(frame)
                seeks.append(time.perf_counter() - before)
            before = time.perf_counter()
            recording.snapshot(min(frame + 1, count - 1))
            step = time.perf_counter() - before
            events = len(recording.events)

    host_seconds = args.hosts * args.seconds
    hour = size * 3600 / args.seconds
    rates = "full precision" if args.rate_decimals is None else f"{args.rate_decimals} decimals"
    print(
        f"fleet: {args.hosts} hosts x {args.seconds} s at 1 Hz, chunks of {args.chunk} frames, "
        f"rates reported at {rates}, stored at display precision"
    )
    print(
        f"file size:                     {size / 1e6:8.2f} MB ({size / host_seconds:.1f} B/host-s)"
    )
    print(f"  scaled to 1 hour:            {hour / 1e6:8.2f} MB")
    print(f"events on the timeline:        {events:8d}")
    print(f"write CPU per snapshot (diff): {add_cpu / args.seconds * 1e3:8.1f} ms")
    print(
        f"write CPU per snapshot (all):  {total_cpu / args.seconds * 1e3:8.1f} ms  "
        "(diff + encode + xz, all threads)"
    )
    print(
        f"--at seek (cold chunk):        {statistics.median(seeks):8.2f} s median of {len(seeks)}"
    )
    print(f"step within a chunk:           {step:8.2f} s")


if __name__ == "__main__":
    main()
