"""The probe as a program: its options and the stream of samples."""

from __future__ import annotations

import sys
import time

from aiconsole.probe.common import PROBE_VERSION
from aiconsole.probe.encode import encode_sample
from aiconsole.probe.sampler import Sampler

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable, Dict, List, Optional


# --------------------------------------------------------------------------------------------
# Program: one JSON document per line, per interval.
# --------------------------------------------------------------------------------------------


def delay_to_next_tick(now: float, interval: float) -> float:
    """Seconds from ``now`` (wall clock) to the next whole multiple of ``interval``.

    Hosts whose clocks are synchronised then all sample at the same instant, so one refresh
    of the console shows one moment across the fleet, and a late host is plain to see.
    """
    return interval - (now % interval)


def stream(
    sampler: Sampler,
    interval: float,
    count: Optional[int],
    out: Any,
    align: bool = False,
    clock: Callable[[], float] = time.time,
    sleep: Callable[[float], None] = time.sleep,
) -> None:
    """Write samples on a fixed schedule: ticks never drift with sampling time, and a slow
    sample skips ticks rather than bursting to catch up. With ``align`` the first sample is
    taken at once and the rest on wall-clock multiples of ``interval``."""
    next_tick = clock()
    taken = 0
    while count is None or taken < count:
        out.write(encode_sample(sampler.sample()) + "\n")
        out.flush()
        taken += 1
        if count is not None and taken >= count:
            break
        now = clock()
        if align:
            delay = delay_to_next_tick(now, interval)
        else:
            next_tick += interval
            delay = next_tick - now
            if delay <= 0:
                next_tick, delay = now, 0.0
        if delay > 0:
            sleep(delay)


USAGE = """usage: aiconsole-probe [--interval S] [--count N] [--name NAME] [--root DIR] [--align]
                       [--kernel-log FILE] [--version]

Print one JSON document per interval on stdout.

  --interval S   seconds between samples (default 1)
  --count N      stop after N samples (default: run until the reader goes away)
  --name NAME    name to report (default: the hostname)
  --root DIR     read /proc and /sys under DIR (default /)
  --align        sample on wall-clock multiples of the interval
  --kernel-log FILE
                 read XID history from FILE, /dev/kmsg or saved dmesg text
                 (default: /dev/kmsg under --root)
  --version      print the probe's version
"""


class UsageError(Exception):
    pass


def parse_args(argv: List[str]) -> Dict[str, Any]:
    """A small argument parser: argparse costs ~10 ms of start-up, paid on every host."""
    options: Dict[str, Any] = {
        "interval": 1.0,
        "count": None,
        "name": None,
        "root": "/",
        "align": False,
        "kernel_log": None,
    }
    converters: Dict[str, Callable[[str], Any]] = {
        "--interval": float,
        "--count": int,
        "--name": str,
        "--root": str,
        "--kernel-log": str,
    }
    words = list(argv)
    while words:
        word = words.pop(0)
        flag, inline_value = word.split("=", 1) if "=" in word else (word, None)
        if flag == "--align" and inline_value is None:
            options["align"] = True
        elif flag in converters:
            value = inline_value if inline_value is not None else (words.pop(0) if words else None)
            if value is None:
                raise UsageError("%s needs a value" % flag)
            try:
                options[flag[2:].replace("-", "_")] = converters[flag](value)
            except ValueError:
                raise UsageError("%s: invalid value %r" % (flag, value)) from None
        else:
            raise UsageError("unrecognised argument %r" % word)
    if options["interval"] <= 0:
        raise UsageError("--interval must be positive")
    if options["count"] is not None and options["count"] < 1:
        raise UsageError("--count must be at least 1")
    return options


def main(argv: Optional[List[str]] = None) -> int:
    words = sys.argv[1:] if argv is None else argv
    if "-h" in words or "--help" in words:
        sys.stdout.write(USAGE)
        return 0
    if "--version" in words:
        sys.stdout.write(PROBE_VERSION + "\n")
        return 0
    try:
        options = parse_args(words)
    except UsageError as error:
        sys.stderr.write("aiconsole-probe: %s\n%s" % (error, USAGE.split("\n\n")[0] + "\n"))
        return 2
    try:
        stream(
            Sampler(name=options["name"], root=options["root"], kernel_log=options["kernel_log"]),
            options["interval"],
            options["count"],
            sys.stdout,
            align=options["align"],
        )
    except (BrokenPipeError, KeyboardInterrupt):
        # The reader went away (SSH session closed): a normal way to end.
        try:
            sys.stdout.close()
        except OSError:
            pass
    return 0
