"""``aiconsole serve``: run the collectors headless and publish each snapshot for scraping.

What is published is the live console's snapshot: the store's state judged by the health
monitor (with its hysteresis), so the findings a console would show are exported too."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys

from aiconsole.exporter.server import Published, start
from aiconsole.fleet import Fleet


async def serve(fleet: Fleet, address: tuple[str, int], interval: float) -> None:
    """Collect forever; every ``interval`` hand the store's snapshot to the HTTP side."""
    published = Published()
    server = start(address, published)
    host, port = str(server.server_address[0]), int(server.server_address[1])
    print(f"aiconsole: serving metrics on http://{host}:{port}/metrics", file=sys.stderr)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    tasks = [asyncio.create_task(source.run()) for source in fleet.collectors]
    tasks += [asyncio.create_task(cluster.run()) for cluster in fleet.clusters]
    tasks += [asyncio.create_task(cluster.run()) for cluster in fleet.kube]
    tasks += [asyncio.create_task(feed.run()) for feed in fleet.feeds]
    try:
        while not stop.is_set():
            published.publish(fleet.live_snapshot())
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), interval)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await fleet.aclose_kube()  # its connections belong to this loop
        server.shutdown()
        server.server_close()
