"""What the text boundary costs per sample: decoding one 8-GPU host's probe line, with and
without cleaning, on the fast path (a plain line) and the walked path (a hostile one).

Run: .venv/bin/python bench/decode.py   (prints a table; asserts nothing)
"""

from __future__ import annotations

import functools
import json
import sys
import timeit
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import msgspec  # noqa: E402

from aiconsole.collectors.base import decode_sample  # noqa: E402
from aiconsole.collectors.ssh import decode_line  # noqa: E402
from aiconsole.model import HostSample  # noqa: E402
from aiconsole.text import plain_json  # noqa: E402
from tests.synthetic import fleet_store  # noqa: E402

NUMBER = 2000


def per_call_us(call: Callable[[], object]) -> float:
    """Best of five runs, in microseconds per call (the least disturbed by other work)."""
    return min(timeit.repeat(call, number=NUMBER, repeat=5)) / NUMBER * 1e6


def main() -> None:
    state = fleet_store().get("gpu-node-05")  # 8 GPUs, 14 processes, XIDs, recorded host
    assert state is not None and state.sample is not None
    tree: Any = json.loads(json.dumps(msgspec.to_builtins(state.sample)))
    plain = json.dumps(tree, separators=(",", ":")).encode()  # as the probe writes it
    tree["gpu"]["gpus"][0]["processes"][0]["command"] = "cat \x1b]52;c;cm0gLXJmIH4=\x07"
    hostile = json.dumps(tree, separators=(",", ":")).encode()
    assert plain_json(plain) and not plain_json(hostile)
    decoder = msgspec.json.Decoder(HostSample)
    rows = [
        (f"probe line ({len(plain)} bytes): typed decode, no cleaning", decoder.decode, plain),
        ("plain_json check alone", plain_json, plain),
        ("decode_line, plain line (fast path)", decode_line, plain),
        ("decode_line, hostile line (walked)", decode_line, hostile),
    ]
    width = max(len(name) for name, _, _ in rows)
    print(f"{'per sample':<{width}}  microseconds")
    for name, function, argument in rows:
        cost = per_call_us(functools.partial(function, argument))
        print(f"{name:<{width}}  {cost:8.1f}")
    local = json.loads(hostile)
    convert = per_call_us(lambda: msgspec.convert(local, HostSample))
    print(f"{'local sample: convert, no cleaning':<{width}}  {convert:8.1f}")
    cleaned = per_call_us(lambda: decode_sample(local))
    print(f"{'decode_sample (convert, then walk)':<{width}}  {cleaned:8.1f}")


if __name__ == "__main__":
    main()
