"""Slurm reading cost on a real estate cluster: aiconsole's explicit text formats (over SSH on
the controller host, warm connection) against the ``--json`` outputs of the same commands.

Needs root and slurm-wlm (as the tests). Prints figures; asserts nothing.

    .venv/bin/python bench/slurm.py --nodes 32 --jobs 64 --runs 10
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from aiconsole.slurm.reader import read_cluster
from aiconsole.slurm.runner import LocalRunner, SshRunner
from tests.slurm_estate import SlurmEstate


def median_ms(samples: list[float]) -> str:
    return f"median {statistics.median(samples) * 1000:.0f} ms, max {max(samples) * 1000:.0f} ms"


async def time_reads(runner: LocalRunner | SshRunner, runs: int) -> tuple[list[float], int]:
    await read_cluster("estate", runner, 30)  # warm: connection up
    samples = []
    jobs = 0
    for _ in range(runs):
        started = time.perf_counter()
        cluster = await read_cluster("estate", runner, 30)
        samples.append(time.perf_counter() - started)
        jobs = len(cluster.jobs)
    return samples, jobs


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--nodes", type=int, default=32)
    parser.add_argument("--jobs", type=int, default=64)
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, SlurmEstate(Path(tmp), args.nodes) as estate:
        for n in range(args.jobs):
            estate.submit("-w", f"node{n % args.nodes + 1}", "--gres=gpu:1")
        time.sleep(3)
        import os

        os.environ["SLURM_CONF"] = str(estate.conf)
        print(f"{args.nodes} slurmd nodes, {args.jobs} jobs submitted")
        local, jobs = asyncio.run(time_reads(LocalRunner(), args.runs))
        print(f"read_cluster here (3 commands at once, {jobs} jobs)   {median_ms(local)}")
        runner = SshRunner("ctl", str(estate.ssh_config))
        remote, _ = asyncio.run(time_reads(runner, args.runs))
        print(f"read_cluster over SSH on ctl (warm connection)   {median_ms(remote)}")
        for argv in (["squeue", "--json"], ["sinfo", "--json"]):
            samples = []
            for _ in range(args.runs):
                started = time.perf_counter()
                subprocess.run(argv, env=estate.env, capture_output=True, check=True)
                samples.append(time.perf_counter() - started)
            print(f"baseline: {' '.join(argv):<24} here          {median_ms(samples)}")


if __name__ == "__main__":
    main()
