"""A GPU's memory errors through NVML: ECC mode and counts, remapped rows, retired pages."""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable

    from aiconsole.probe.common import JsonDict


def read_memory_errors(nvml: Any, gpu: JsonDict, ask: Callable[..., Any], handle: Any) -> None:
    """ECC (volatile and aggregate counts, none while ECC is off), row remapping (Ampere on)
    and page retirement (before Ampere) into ``gpu``; ``ask`` records what fails, and why."""
    unavailable = gpu["unavailable"]
    ecc = ask("ecc_enabled", nvml.nvmlDeviceGetEccMode, handle)
    gpu["ecc_enabled"] = None if ecc is None else bool(ecc[0])
    for field, error_type, counter in (
        ("ecc_corrected_volatile", "NVML_MEMORY_ERROR_TYPE_CORRECTED", "NVML_VOLATILE_ECC"),
        ("ecc_uncorrected_volatile", "NVML_MEMORY_ERROR_TYPE_UNCORRECTED", "NVML_VOLATILE_ECC"),
        ("ecc_corrected_aggregate", "NVML_MEMORY_ERROR_TYPE_CORRECTED", "NVML_AGGREGATE_ECC"),
        (
            "ecc_uncorrected_aggregate",
            "NVML_MEMORY_ERROR_TYPE_UNCORRECTED",
            "NVML_AGGREGATE_ECC",
        ),
    ):
        if gpu["ecc_enabled"] is False:
            gpu[field] = None
            unavailable[field] = "ECC is disabled"
            continue
        gpu[field] = ask(
            field,
            nvml.nvmlDeviceGetTotalEccErrors,
            handle,
            getattr(nvml, error_type),
            getattr(nvml, counter),
        )

    remap = ask("remapped_rows", nvml.nvmlDeviceGetRemappedRows, handle)
    remap_fields = (
        "remapped_rows_correctable",
        "remapped_rows_uncorrectable",
        "remap_pending",
        "remap_failure",
    )
    if remap is None:
        reason = unavailable.pop("remapped_rows")
        for field in remap_fields:
            gpu[field] = None
            unavailable[field] = reason
    else:
        correctable, uncorrectable, pending, failure = remap
        gpu["remapped_rows_correctable"] = int(correctable)
        gpu["remapped_rows_uncorrectable"] = int(uncorrectable)
        gpu["remap_pending"] = bool(pending)
        gpu["remap_failure"] = bool(failure)
    for field, cause in (
        (
            "retired_pages_single_bit",
            "NVML_PAGE_RETIREMENT_CAUSE_MULTIPLE_SINGLE_BIT_ECC_ERRORS",
        ),
        ("retired_pages_double_bit", "NVML_PAGE_RETIREMENT_CAUSE_DOUBLE_BIT_ECC_ERROR"),
    ):
        pages = ask(field, nvml.nvmlDeviceGetRetiredPages, handle, getattr(nvml, cause))
        gpu[field] = None if pages is None else len(pages)
    pending = ask("retired_pages_pending", nvml.nvmlDeviceGetRetiredPagesPendingStatus, handle)
    gpu["retired_pages_pending"] = None if pending is None else bool(pending)
