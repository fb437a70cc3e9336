"""A fleet's collectors and clusters running in the current event loop, for the commands
that watch a while (``record``, ``rebalance --watch``), and stopped cleanly after."""

from __future__ import annotations

import asyncio

from aiconsole.fleet import Fleet


def start_collecting(fleet: Fleet) -> list[asyncio.Task[None]]:
    """One task per collector and per Slurm cluster, each polling on its own."""
    workers = [asyncio.create_task(c.run()) for c in fleet.collectors]
    workers += [asyncio.create_task(cluster.run()) for cluster in fleet.clusters]
    return workers


async def stop_collecting(fleet: Fleet, workers: list[asyncio.Task[None]]) -> None:
    """Cancel the tasks until they have ended, then close the clusters' connections."""
    pending = set(workers)
    while pending:
        # Cancelled again until they end: on Python < 3.12 asyncio.wait_for can swallow a
        # cancellation that arrives as its sample completes, and the collector polls on.
        for worker in pending:
            worker.cancel()
        _, pending = await asyncio.wait(pending, timeout=0.5)
    for cluster in fleet.clusters:
        cluster.close()  # inside the loop its connections belong to
