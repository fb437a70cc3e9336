"""What following a log costs: cutting and cleaning a job's output into bounded lines, for a
plain training log, one full of escape sequences, and one 64 MiB line without a newline
(a progress bar), and the memory the log view's ring of lines holds at most.

Run: .venv/bin/python bench/logs.py   (prints a table; asserts nothing)
"""

from __future__ import annotations

import sys
import time
import tracemalloc
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from aiconsole.logs.lines import DEFAULT_KEEP, MAX_LINE_CHARS, LineCutter, LineRing  # noqa: E402

CHUNK = 64 * 1024
PLAIN = b"step 1234 | loss 2.3456 | lr 3.0e-4 | tokens/s 183422 | grad_norm 0.87 | rank 17\n"
HOSTILE = b"\x1b[31mNCCL WARN\x1b[0m \x1b]52;c;Zm9v\x07 [bold]timeout[/bold] \x9b2J rank 3\n"


def cut(data: bytes) -> tuple[float, int]:
    """Seconds to cut ``data`` in 64 KiB chunks, and the lines it gave."""
    cutter = LineCutter()
    count = 0
    started = time.perf_counter()
    for start in range(0, len(data), CHUNK):
        count += len(cutter.feed(data[start : start + CHUNK]))
    count += len(cutter.finish())
    return time.perf_counter() - started, count


def ring_peak() -> int:
    """Bytes the ring holds when full of the longest lines it keeps."""
    tracemalloc.start()
    ring = LineRing()
    ring.extend("x" * MAX_LINE_CHARS for _ in range(DEFAULT_KEEP * 2))
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak


def main() -> None:
    size = 64 * 1024 * 1024
    cases = {
        "plain training log": PLAIN * (size // len(PLAIN)),
        "escape sequences": HOSTILE * (size // len(HOSTILE)),
        "one line, no newline": b"#" * size,
    }
    print(f"{'case':<22} {'MiB':>5} {'lines':>9} {'seconds':>8} {'MiB/s':>7}")
    for name, data in cases.items():
        seconds, lines = cut(data)
        mib = len(data) / 2**20
        print(f"{name:<22} {mib:5.0f} {lines:9d} {seconds:8.2f} {mib / seconds:7.0f}")
    print(f"ring of {DEFAULT_KEEP} lines of {MAX_LINE_CHARS} chars: {ring_peak() / 2**20:.1f} MiB")


if __name__ == "__main__":
    main()
