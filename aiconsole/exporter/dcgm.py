"""GPU fields under dcgm-exporter's names, units and labels.

Grafana dashboards and alert rules written for dcgm-exporter query these exact names
(``DCGM_FI_DEV_GPU_UTIL``, ``DCGM_FI_DEV_FB_USED`` in MiB, ...) and group by its labels
(``gpu``, ``UUID``, ``pci_bus_id``, ``device``, ``modelName``, ``Hostname``), so a field the
console reads the same way is published under the same name and unit, and those dashboards
work unchanged. The lower-case ``hostname`` label is the one many sites add by relabelling;
both are set so either spelling of a query finds the series.

Pure data: no prometheus_client here, so the table is usable (and testable) on its own.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from aiconsole.model import Gpu, nvlink_totals

MIB = 1024 * 1024

GPU_LABELS = ("gpu", "UUID", "pci_bus_id", "device", "modelName", "Hostname", "hostname")
"""dcgm-exporter's per-GPU labels (plus ``hostname``), in its order."""


def gpu_labels(host: str, gpu: Gpu) -> list[str]:
    """Label values for one GPU, in :data:`GPU_LABELS` order (empty when unknown, as DCGM)."""
    return [
        str(gpu.index),
        gpu.uuid or "",
        gpu.bus_id or "",
        f"nvidia{gpu.index}",
        gpu.name or "",
        host,
        host,
    ]


def _flag(value: bool | None) -> float | None:
    return None if value is None else float(value)


def _mib(value: int | None) -> float | None:
    return None if value is None else value / MIB


def _fb_free(gpu: Gpu) -> float | None:
    if gpu.memory_total_bytes is None or gpu.memory_used_bytes is None:
        return None
    return (gpu.memory_total_bytes - gpu.memory_used_bytes) / MIB


def _millijoules(value: float | None) -> float | None:
    return None if value is None else value * 1000.0


@dataclass(frozen=True)
class DcgmField:
    name: str
    help: str
    value: Callable[[Gpu], float | None]
    """The field's value for one GPU in DCGM's unit; None: not known, no series."""


FIELDS: tuple[DcgmField, ...] = (
    DcgmField("DCGM_FI_DEV_GPU_UTIL", "GPU utilization (in %).", lambda g: g.util_gpu_percent),
    DcgmField(
        "DCGM_FI_DEV_MEM_COPY_UTIL", "Memory utilization (in %).", lambda g: g.util_memory_percent
    ),
    DcgmField(
        "DCGM_FI_DEV_FB_USED",
        "Framebuffer memory used (in MiB).",
        lambda g: _mib(g.memory_used_bytes),
    ),
    DcgmField("DCGM_FI_DEV_FB_FREE", "Framebuffer memory free (in MiB).", _fb_free),
    DcgmField("DCGM_FI_DEV_GPU_TEMP", "GPU temperature (in C).", lambda g: g.temperature_c),
    DcgmField("DCGM_FI_DEV_POWER_USAGE", "Power draw (in W).", lambda g: g.power_draw_w),
    DcgmField(
        "DCGM_FI_DEV_POWER_MGMT_LIMIT", "Power management limit (in W).", lambda g: g.power_limit_w
    ),
    DcgmField(
        "DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION",
        "Total energy consumption since boot (in mJ).",
        lambda g: _millijoules(g.energy_j),
    ),
    DcgmField(
        "DCGM_FI_DEV_SM_CLOCK",
        "SM clock frequency (in MHz).",
        lambda g: None if g.sm_clock_mhz is None else float(g.sm_clock_mhz),
    ),
    DcgmField(
        "DCGM_FI_DEV_MAX_SM_CLOCK",
        "Maximum SM clock frequency (in MHz).",
        lambda g: None if g.sm_clock_max_mhz is None else float(g.sm_clock_max_mhz),
    ),
    DcgmField(
        "DCGM_FI_DEV_MEM_CLOCK",
        "Memory clock frequency (in MHz).",
        lambda g: None if g.memory_clock_mhz is None else float(g.memory_clock_mhz),
    ),
    DcgmField("DCGM_FI_DEV_FAN_SPEED", "Fan speed (in 0-100 %).", lambda g: g.fan_speed_percent),
    DcgmField(
        "DCGM_FI_DEV_PSTATE",
        "Performance state (P-state) 0-15. 0=highest.",
        lambda g: None if g.performance_state is None else float(g.performance_state),
    ),
    DcgmField(
        "DCGM_FI_DEV_ECC_SBE_VOL_TOTAL",
        "Total number of single-bit volatile ECC errors.",
        lambda g: None if g.ecc_corrected_volatile is None else float(g.ecc_corrected_volatile),
    ),
    DcgmField(
        "DCGM_FI_DEV_ECC_DBE_VOL_TOTAL",
        "Total number of double-bit volatile ECC errors.",
        lambda g: None if g.ecc_uncorrected_volatile is None else float(g.ecc_uncorrected_volatile),
    ),
    DcgmField(
        "DCGM_FI_DEV_ECC_SBE_AGG_TOTAL",
        "Total number of single-bit persistent ECC errors.",
        lambda g: None if g.ecc_corrected_aggregate is None else float(g.ecc_corrected_aggregate),
    ),
    DcgmField(
        "DCGM_FI_DEV_ECC_DBE_AGG_TOTAL",
        "Total number of double-bit persistent ECC errors.",
        lambda g: (
            None if g.ecc_uncorrected_aggregate is None else float(g.ecc_uncorrected_aggregate)
        ),
    ),
    DcgmField(
        "DCGM_FI_DEV_CORRECTABLE_REMAPPED_ROWS",
        "Number of remapped rows for correctable errors",
        lambda g: (
            None if g.remapped_rows_correctable is None else float(g.remapped_rows_correctable)
        ),
    ),
    DcgmField(
        "DCGM_FI_DEV_UNCORRECTABLE_REMAPPED_ROWS",
        "Number of remapped rows for uncorrectable errors",
        lambda g: (
            None if g.remapped_rows_uncorrectable is None else float(g.remapped_rows_uncorrectable)
        ),
    ),
    DcgmField(
        "DCGM_FI_DEV_ROW_REMAP_FAILURE",
        "Whether remapping of rows has failed",
        lambda g: _flag(g.remap_failure),
    ),
    DcgmField(
        "DCGM_FI_DEV_ROW_REMAP_PENDING",
        "Whether remapping of rows is pending",
        lambda g: _flag(g.remap_pending),
    ),
    DcgmField(
        "DCGM_FI_DEV_RETIRED_SBE",
        "Number of retired pages because of single bit errors.",
        lambda g: None if g.retired_pages_single_bit is None else float(g.retired_pages_single_bit),
    ),
    DcgmField(
        "DCGM_FI_DEV_RETIRED_DBE",
        "Number of retired pages because of double bit errors.",
        lambda g: None if g.retired_pages_double_bit is None else float(g.retired_pages_double_bit),
    ),
    DcgmField(
        "DCGM_FI_DEV_RETIRED_PENDING",
        "Number of pages pending retirement.",
        lambda g: _flag(g.retired_pages_pending),
    ),
    DcgmField(
        "DCGM_FI_DEV_PCIE_LINK_GEN",
        "PCIe current link generation.",
        lambda g: None if g.pcie_link_gen is None else float(g.pcie_link_gen),
    ),
    DcgmField(
        "DCGM_FI_DEV_PCIE_LINK_WIDTH",
        "PCIe current link width.",
        lambda g: None if g.pcie_link_width is None else float(g.pcie_link_width),
    ),
    DcgmField(
        "DCGM_FI_PROF_NVLINK_RX_BYTES",
        "NVLink payload received, all links (in B/s).",
        lambda g: nvlink_totals(g.nvlink_links)[0],
    ),
    DcgmField(
        "DCGM_FI_PROF_NVLINK_TX_BYTES",
        "NVLink payload transmitted, all links (in B/s).",
        lambda g: nvlink_totals(g.nvlink_links)[1],
    ),
)
"""Every GPU field with a DCGM counterpart. XIDs are separate (they come from the events)."""

XID_ERRORS = "DCGM_FI_DEV_XID_ERRORS"
XID_HELP = "Value of the last XID error encountered."
