"""Fleet screen render at fleet scale, without any source: a synthetic store of 10,000 hosts
(8 GPUs each), shown (a) unchanged, with only a new snapshot object and moved ages, as
between refreshes, and (b) with every host holding a new sample object, as after a scrape of
every host. Prints median CPU of the screen's ``render_snapshot`` alone and of a whole
refresh (the app's snapshot handed over, then the screen composited); asserts nothing.

Target: fleet render < 100 ms at 10,000 rows, every host changed.

    .venv/bin/python bench/fleet_render.py [--hosts 10000] [--rounds 8] [--profile]
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import pstats
import statistics
import sys
import time
from pathlib import Path

import msgspec

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from aiconsole.fleet import Fleet
from aiconsole.model import FleetSnapshot
from tests.synthetic import fleet_store

CASES = ("hosts unchanged", "every host changed")


def ms(values: list[float]) -> str:
    return f"median {statistics.median(values) * 1000:.0f} ms, max {max(values) * 1000:.0f} ms"


def renewed(snapshot: FleetSnapshot, other: FleetSnapshot) -> FleetSnapshot:
    """The same hosts and findings, each host with the sample it has in ``other`` (other
    values, every GPU a new object): what a scrape of every host hands the screen."""
    samples = {h.name: h.sample for h in other.hosts}
    return msgspec.structs.replace(
        snapshot,
        hosts=tuple(
            h if h.sample is None else msgspec.structs.replace(h, sample=samples[h.name])
            for h in snapshot.hosts
        ),
    )


def shown(snapshots: tuple[FleetSnapshot, ...], n: int) -> FleetSnapshot:
    """Round ``n``'s snapshot, a new object every time as the store gives on each refresh;
    with two snapshots, every host's sample differs from the round before."""
    base = snapshots[n % len(snapshots)]
    return msgspec.structs.replace(base, generated_at=base.generated_at + n)


async def measure(hosts: int, rounds: int, profile: str | None) -> list[tuple[str, str]]:
    from aiconsole.app import ConsoleApp
    from aiconsole.screens.fleet import FleetScreen

    store = fleet_store(hosts)
    # The refresh timer is held off so that the health judgement stays out of these figures.
    app = ConsoleApp(Fleet(store), collect=False, refresh_interval=3600)
    for _ in range(4):  # the findings' hysteresis
        snapshot = app.fleet.live_snapshot()
    changed = (snapshot, renewed(snapshot, fleet_store(hosts, seed=8).snapshot()))
    inputs = {CASES[0]: (snapshot,), CASES[1]: changed}
    rows: list[tuple[str, str]] = []
    async with app.run_test(size=(160, 50)) as pilot:
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, FleetScreen)
        for case in CASES:
            alone: list[float] = []
            whole: list[float] = []
            # Inputs are built before each timed step, so only the screen's work is timed.
            for n in range(rounds):
                given = shown(inputs[case], 2 * n + 1)
                start = time.process_time()
                screen.render_snapshot(given)
                if n >= 2:
                    alone.append(time.process_time() - start)
                given = shown(inputs[case], 2 * n)
                start = time.process_time()
                app.fleet_snapshot = given
                await pilot.pause()
                app.screen._compositor.render_update(full=True)
                if n >= 2:
                    whole.append(time.process_time() - start)
            rows.append((f"render_snapshot, {hosts} rows ({case}): CPU", ms(alone)))
            rows.append((f"fleet refresh, {hosts} rows ({case}): CPU", ms(whole)))
        if profile is not None:
            given_all = [shown(changed, n + 1) for n in range(rounds)]

            def run() -> None:
                for given in given_all:
                    screen.render_snapshot(given)

            profiler = cProfile.Profile()
            profiler.runcall(run)
            stats = pstats.Stats(profiler)
            stats.sort_stats(profile).print_stats(25)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument(
        "--profile",
        nargs="?",
        const="tottime",
        help="profile render_snapshot, every host changed (sort order: tottime by default)",
    )
    args = parser.parse_args()
    for label, value in asyncio.run(measure(args.hosts, args.rounds, args.profile)):
        print(f"{label:<60} {value}")


if __name__ == "__main__":
    main()
