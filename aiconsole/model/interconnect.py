"""AMD Instinct details that only AMD's tools report: XGMI links and ECC counts per block."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

from aiconsole.model.base import Frozen

MAX_XGMI_LINKS = 64
"""AMD SMI's limit on XGMI links per GPU (``AMDSMI_MAX_NUM_XGMI_LINKS``)."""
MAX_ECC_BLOCKS = 32

XgmiPortState = Literal["up", "down", "disabled"]


class XgmiLink(Frozen, frozen=True, kw_only=True):
    """One XGMI link from a GPU to a peer GPU, as ``amd-smi xgmi`` reports it."""

    peer_bus_id: str
    """The peer GPU's PCI address (``0000:22:00.0``)."""
    bit_rate_gbps: float | None = None
    max_bandwidth_gbps: float | None = None
    read_bytes: int | None = None
    """Data received over the link since the driver loaded."""
    write_bytes: int | None = None


class EccBlock(Frozen, frozen=True, kw_only=True):
    """ECC error counts of one hardware block (``UMC`` is the HBM, ``XGMI_WAFL`` the links)."""

    block: str
    correctable: int | None = None
    uncorrectable: int | None = None
    deferred: int | None = None
    """Poisoned data not yet consumed (amd-smi only; None from the sysfs counters)."""


XgmiLinks = Annotated[tuple[XgmiLink, ...], msgspec.Meta(max_length=MAX_XGMI_LINKS)]
XgmiPorts = Annotated[tuple[XgmiPortState | None, ...], msgspec.Meta(max_length=MAX_XGMI_LINKS)]
EccBlocks = Annotated[tuple[EccBlock, ...], msgspec.Meta(max_length=MAX_ECC_BLOCKS)]
