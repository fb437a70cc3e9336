"""What every snapshot type shares: the frozen base, and the bounds on what one host may send."""

from __future__ import annotations

from typing import Annotated

import msgspec

SCHEMA_VERSION = 1

# -- Bounds: the most of each thing one host's sample may hold ------------------------------
# A host's output is untrusted; these bounds are checked as a sample is decoded (a sample
# past one is refused whole, and the host shows ``probe_error`` with the reason), so what one
# host can make the console hold is bounded whatever it sends. Each is far above any real host.
MAX_GPUS = 64
MAX_GPU_PROCESSES = 1024
"""Per GPU."""
MAX_CPUS = 8192
MAX_FILESYSTEMS = 4096
MAX_DISKS = 4096
MAX_NICS = 4096
MAX_IB_PORTS = 256
MAX_XID_EVENTS = 256
MAX_NAMES = 64
"""Short lists of names, such as a GPU's clock event reasons."""
MAX_REASONS = 256
"""Entries of one ``unavailable`` map."""

Reasons = Annotated[dict[str, str], msgspec.Meta(max_length=MAX_REASONS)]
"""Field name -> why that field is ``None`` in this sample."""
Names = Annotated[tuple[str, ...], msgspec.Meta(max_length=MAX_NAMES)]


class Frozen(msgspec.Struct, frozen=True, forbid_unknown_fields=False, gc=False):
    """Base for all snapshot types (immutable; unknown fields from newer probes are ignored).

    ``gc=False``: snapshots are immutable trees (no instance can refer back to another that
    holds it), so the cyclic garbage collector has nothing to find in them. Tracked, a
    10,000-host fleet's millions of instances made each full collection a ~1 s pause of the
    TUI (``bench/fleet_render.py``); untracked, they are freed by reference counting alone."""
