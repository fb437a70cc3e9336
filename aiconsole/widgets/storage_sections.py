"""The host screen's storage sections: NVMe drive health and shared filesystems.

Pure functions from a sample to rows of cells, as in :mod:`aiconsole.widgets.host_sections`.
Host text was cleaned when the sample was decoded; ``str`` cells are shown as plain text.
"""

from __future__ import annotations

from rich.text import Text

from aiconsole import units
from aiconsole.model import HostSample, NvmeDrive, SharedFilesystem
from aiconsole.widgets.host_sections import count_text
from aiconsole.widgets.render import Palette
from aiconsole.widgets.table_sync import Cell, Rows

NVME_WEAR_WARNING = 80
"""Percentage used at which a drive's wear is worth a colour (100 is its rated life)."""
NVME_HOT_C = 70


def nvme_empty_reason(sample: HostSample) -> str:
    return sample.unavailable.get("nvme", "no NVMe drives")


def nvme_rows(sample: HostSample, palette: Palette) -> Rows:
    rows: dict[str, tuple[Cell, ...]] = {}
    for drive in sample.nvme:
        rows[drive.name] = (drive.name, drive.model or units.NA, drive.firmware or units.NA,
                            *_health_cells(drive, palette))  # fmt: skip
    return rows


def _health_cells(drive: NvmeDrive, palette: Palette) -> tuple[Cell, ...]:
    health = drive.health
    if health is None:
        why = drive.unavailable.get("health", "health log not read")
        return (*([units.NA] * 6), Text(why, style=palette.dim))
    warn, error = palette.level("warning"), palette.level("error")
    temperature = Text(
        units.number(health.temperature_c, "C"),
        style=warn if (health.temperature_c or 0) >= NVME_HOT_C else "",
    )
    used = health.percentage_used
    wear = Text(
        units.percent(used),
        style=error if (used or 0) >= 100 else warn if (used or 0) >= NVME_WEAR_WARNING else "",
    )
    spare_low = (
        health.available_spare_percent is not None
        and health.available_spare_threshold_percent is not None
        and health.available_spare_percent < health.available_spare_threshold_percent
    )
    spare = Text(units.percent(health.available_spare_percent), style=error if spare_low else "")
    media = Text(count_text(health.media_errors), style=error if health.media_errors else "")
    warnings: Cell = units.NA
    if health.warnings is not None:
        warnings = (
            Text(", ".join(health.warnings), style=error)
            if health.warnings
            else Text("none", style=palette.dim)
        )
    return (
        temperature,
        wear,
        spare,
        media,
        count_text(health.unsafe_shutdowns),
        count_text(health.power_on_hours),
        warnings,
    )


def shared_fs_rows(sample: HostSample, palette: Palette) -> Rows:
    rows: dict[str, tuple[Cell, ...]] = {}
    for mount in sample.shared_filesystems:
        rows[mount.mount] = (
            mount.mount,
            mount.kind,
            mount.server or units.NA,
            _state(mount, palette),
            units.number(mount.statvfs_ms, "ms", 1),
            units.number(mount.rtt_ms, "ms", 1),
            units.number(mount.retrans_per_s, "", 1),
            units.rate_short(mount.read_bytes_per_s),
            units.rate_short(mount.write_bytes_per_s),
        )
    return rows


def _state(mount: SharedFilesystem, palette: Palette) -> Text:
    if mount.hung:
        return Text("HUNG", style=palette.level("error"))
    if not mount.answering:
        why = mount.unavailable.get("statvfs_ms", "no answer")
        return Text(why, style=palette.level("error"))
    if mount.retrans_per_s:
        return Text("retransmitting", style=palette.level("warning"))
    return Text("answering", style=palette.level("ok"))
