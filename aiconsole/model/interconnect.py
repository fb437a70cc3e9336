"""GPU interconnect links (NVIDIA NVLink, AMD XGMI) and AMD's ECC counts per block."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

from aiconsole.model.base import Frozen, Reasons

MAX_XGMI_LINKS = 64
"""AMD SMI's limit on XGMI links per GPU (``AMDSMI_MAX_NUM_XGMI_LINKS``)."""
MAX_ECC_BLOCKS = 32
MAX_NVLINK_LINKS = 64
"""Room above NVML's ``NVML_NVLINK_MAX_LINKS`` (18 on Hopper) for later GPUs."""

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


class NvLinkLink(Frozen, frozen=True, kw_only=True):
    """One NVLink link of an NVIDIA GPU: its state and data rates since the previous sample."""

    link: int
    up: bool
    rx_bytes_per_s: float | None = None
    """Payload received (NVML's ``NVLINK_THROUGHPUT_DATA_RX``, protocol overhead left out);
    None on the first sample, for a link that is down, or where the driver does not count."""
    tx_bytes_per_s: float | None = None
    unavailable: Reasons = {}


class EccBlock(Frozen, frozen=True, kw_only=True):
    """ECC error counts of one hardware block (``UMC`` is the HBM, ``XGMI_WAFL`` the links)."""

    block: str
    correctable: int | None = None
    uncorrectable: int | None = None
    deferred: int | None = None
    """Poisoned data not yet consumed (amd-smi only; None from the sysfs counters)."""


XgmiLinks = Annotated[tuple[XgmiLink, ...], msgspec.Meta(max_length=MAX_XGMI_LINKS)]
NvLinkLinks = Annotated[tuple[NvLinkLink, ...], msgspec.Meta(max_length=MAX_NVLINK_LINKS)]
XgmiPorts = Annotated[tuple[XgmiPortState | None, ...], msgspec.Meta(max_length=MAX_XGMI_LINKS)]
EccBlocks = Annotated[tuple[EccBlock, ...], msgspec.Meta(max_length=MAX_ECC_BLOCKS)]


def nvlink_totals(links: tuple[NvLinkLink, ...] | None) -> tuple[float | None, float | None]:
    """A GPU's NVLink (received, transmitted) bytes per second over its links; None where no
    link has a rate."""
    if not links:
        return None, None
    rx = [link.rx_bytes_per_s for link in links if link.rx_bytes_per_s is not None]
    tx = [link.tx_bytes_per_s for link in links if link.tx_bytes_per_s is not None]
    return (sum(rx) if rx else None), (sum(tx) if tx else None)
