"""The snapshot vocabulary every layer speaks: collectors produce it, screens and JSON read it.

Every type is a frozen ``msgspec.Struct``: a snapshot, once built, is never changed, so the TUI,
``snapshot --json`` and any later exporter can read it from any task without locks.

A metric that cannot be read is ``None``, never a fake ``0``; the owning struct's ``unavailable``
map says why (``{"fan_speed_percent": "Not Supported"}``). Field names carry their unit.

The probe (``aiconsole/probe/``) emits plain JSON with these same field names; the console
decodes it *into* these types, which is also where untrusted input from hosts is validated.
Bump :data:`SCHEMA_VERSION` on any change that breaks a consumer of ``snapshot --json``
(removing or retyping a field); adding a field does not.

The types live in submodules by subject (``host``, ``clusters``, ``findings``, ``base``);
everything is importable from here, as ``aiconsole.model.X``.
"""

from __future__ import annotations

from typing import Literal

import msgspec

from aiconsole.model.base import (
    MAX_CPUS,
    MAX_DISKS,
    MAX_FILESYSTEMS,
    MAX_GPU_PROCESSES,
    MAX_GPUS,
    MAX_IB_PORTS,
    MAX_NAMES,
    MAX_NICS,
    MAX_REASONS,
    MAX_XID_EVENTS,
    SCHEMA_VERSION,
    Frozen,
    Names,
    Reasons,
)
from aiconsole.model.clusters import (
    ClusterStatus,
    KubeCluster,
    KubeNode,
    KubeNodeRequirement,
    KubePod,
    KubeToleration,
    SlurmCluster,
    SlurmJob,
    SlurmNode,
)
from aiconsole.model.findings import (
    Finding,
    Severity,
    Subject,
    SubjectKind,
    Workload,
    WorkloadKind,
)
from aiconsole.model.host import (
    Cpu,
    Disk,
    Filesystem,
    Gpu,
    GpuDriverStatus,
    GpuProcess,
    GpuSection,
    GpuTotals,
    HostSample,
    HostState,
    HostStatus,
    IbPort,
    Identity,
    Memory,
    Nic,
    NvmeDrive,
    NvmeHealth,
    ProcessWorkload,
    SharedFilesystem,
    XidEvent,
)
from aiconsole.model.interconnect import (
    MAX_ECC_BLOCKS,
    MAX_NVLINK_LINKS,
    MAX_XGMI_LINKS,
    EccBlock,
    NvLinkLink,
    XgmiLink,
    nvlink_totals,
)

__all__ = [
    "MAX_CPUS",
    "MAX_DISKS",
    "MAX_ECC_BLOCKS",
    "MAX_FILESYSTEMS",
    "MAX_GPUS",
    "MAX_GPU_PROCESSES",
    "MAX_IB_PORTS",
    "MAX_NAMES",
    "MAX_NICS",
    "MAX_NVLINK_LINKS",
    "MAX_REASONS",
    "MAX_XGMI_LINKS",
    "MAX_XID_EVENTS",
    "SCHEMA_VERSION",
    "ClusterStatus",
    "Cpu",
    "Disk",
    "EccBlock",
    "Filesystem",
    "Finding",
    "FleetSnapshot",
    "Frozen",
    "Gpu",
    "GpuDriverStatus",
    "GpuProcess",
    "GpuSection",
    "GpuTotals",
    "HealthReport",
    "HostSample",
    "HostState",
    "HostStatus",
    "IbPort",
    "Identity",
    "KubeCluster",
    "KubeNode",
    "KubeNodeRequirement",
    "KubePod",
    "KubeToleration",
    "Memory",
    "Names",
    "Nic",
    "NvLinkLink",
    "NvmeDrive",
    "NvmeHealth",
    "ProcessWorkload",
    "Reasons",
    "Severity",
    "SharedFilesystem",
    "SlurmCluster",
    "SlurmJob",
    "SlurmNode",
    "Subject",
    "SubjectKind",
    "Workload",
    "WorkloadKind",
    "XgmiLink",
    "XidEvent",
    "health_schema",
    "json_schema",
    "nvlink_totals",
]


class FleetSnapshot(Frozen, frozen=True, kw_only=True):
    schema_version: int = SCHEMA_VERSION
    generated_at: float
    """Unix time on the console's clock."""
    hosts: tuple[HostState, ...] = ()
    clusters: tuple[SlurmCluster, ...] = ()
    findings: tuple[Finding, ...] = ()
    """Health findings over this snapshot, worst first (``aiconsole health``)."""
    kubernetes: tuple[KubeCluster, ...] = ()
    """Kubernetes clusters, one per kubeconfig context watched."""


class HealthReport(Frozen, frozen=True, kw_only=True):
    """``aiconsole health --json``: the judgement of one snapshot."""

    schema_version: int = SCHEMA_VERSION
    generated_at: float
    status: Literal["ok", "warning", "critical", "unknown"]
    """The worst severity found; ``unknown`` when nothing could be judged."""
    exit_code: int
    """As the process exits: 0 ok, 1 warning, 2 critical, 3 unknown (monitoring plugins)."""
    findings: tuple[Finding, ...] = ()


def json_schema() -> dict[str, object]:
    """The JSON Schema that ``snapshot --json`` output conforms to."""
    schema = msgspec.json.schema(FleetSnapshot)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = f"aiconsole fleet snapshot, schema_version {SCHEMA_VERSION}"
    return schema


def health_schema() -> dict[str, object]:
    """The JSON Schema that ``health --json`` output conforms to."""
    schema = msgspec.json.schema(HealthReport)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = f"aiconsole health report, schema_version {SCHEMA_VERSION}"
    return schema
