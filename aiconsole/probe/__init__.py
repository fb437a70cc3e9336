"""The aiconsole probe: reads one host's CPU, memory, disks, NICs, InfiniBand, accelerators,
NVMe drives and shared filesystems.

The console imports this package to sample its own host in a worker thread, and sends it over
SSH to run with the host's own ``python3``: ``aiconsole.wire`` bundles every module into one
program that the host loads from memory (nothing is written there). So every module must:

* use the standard library only (pynvml is used when the host has it, never required);
* stay compatible with Python 3.8 (the tests check this);
* keep its start-up cheap: it is paid on every host at every connect (no typing, threading,
  json or re at import time; see ``tests/test_probe_program.py``);
* never raise for a missing or odd file: a value it cannot read is ``None`` and the reason is
  recorded in the section's ``unavailable`` map.

Modules import each other by full name (``from aiconsole.probe.proc import ...``), which
works both installed and from the bundle. Rates (CPU %, bytes/s, IOPS) come from the
difference between two samples of one :class:`Sampler`; the first sample reports them as
unavailable rather than as a false 0.

Run as a program (``python -m aiconsole.probe --interval 1``) it prints one JSON document per
interval on stdout. Field names match ``aiconsole.model``.
"""

from __future__ import annotations

# The console and the tests use these names from the package; a host imports only the modules
# its sample needs (every module compiled is start-up paid on every host), so they are
# resolved on first use rather than imported here.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from aiconsole.probe.accelerators import OtherAccelerators
    from aiconsole.probe.clocks import clock_event_names
    from aiconsole.probe.common import (
        CLIPPED,
        COUNTER_RESET,
        FIRST_SAMPLE,
        MAX_COMMAND_BYTES,
        MAX_DISKS,
        MAX_FILESYSTEMS,
        MAX_NICS,
        MAX_PROCESSES_PER_GPU,
        MAX_PROCESSES_PER_SAMPLE,
        MAX_SAMPLE_BYTES,
        MAX_TEXT_BYTES,
        NVML_DEADLINE_S,
        PROBE_VERSION,
        SHRUNK_LIST_ITEMS,
        clip,
    )
    from aiconsole.probe.deadline import CallTimedOut, DeadlineRunner
    from aiconsole.probe.encode import dumps, encode_sample
    from aiconsole.probe.host import Host
    from aiconsole.probe.ib import parse_ib_rate, parse_ib_state
    from aiconsole.probe.main import parse_args, stream
    from aiconsole.probe.net import NET_DEV_FIELDS, parse_net_dev
    from aiconsole.probe.nvml import NvmlReader
    from aiconsole.probe.proc import (
        PSEUDO_FSTYPES,
        parse_diskstats,
        parse_loadavg,
        parse_meminfo,
        parse_mounts,
        parse_proc_stat,
        parse_uid,
        parse_uptime,
        statvfs_may_hang,
    )
    from aiconsole.probe.processes import ProcessInfo, describe_processes
    from aiconsole.probe.sampler import Sampler
    from aiconsole.probe.smi import (
        SMI_GPU_FIELDS,
        SMI_NOT_IN_CSV,
        parse_smi_gpus,
        parse_smi_rejected_field,
        smi_value,
    )
    from aiconsole.probe.storage import Storage
    from aiconsole.probe.xid import (
        XID_MARKER,
        parse_kernel_log,
        parse_xid_message,
        pci_key,
        xid_name,
    )

_HOMES = {
    "CLIPPED": "common",
    "COUNTER_RESET": "common",
    "CallTimedOut": "deadline",
    "DeadlineRunner": "deadline",
    "FIRST_SAMPLE": "common",
    "Host": "host",
    "MAX_COMMAND_BYTES": "common",
    "MAX_DISKS": "common",
    "MAX_FILESYSTEMS": "common",
    "MAX_NICS": "common",
    "MAX_PROCESSES_PER_GPU": "common",
    "MAX_PROCESSES_PER_SAMPLE": "common",
    "MAX_SAMPLE_BYTES": "common",
    "MAX_TEXT_BYTES": "common",
    "NET_DEV_FIELDS": "net",
    "NVML_DEADLINE_S": "common",
    "NvmlReader": "nvml",
    "OtherAccelerators": "accelerators",
    "PROBE_VERSION": "common",
    "PSEUDO_FSTYPES": "proc",
    "ProcessInfo": "processes",
    "SHRUNK_LIST_ITEMS": "common",
    "SMI_GPU_FIELDS": "smi",
    "SMI_NOT_IN_CSV": "smi",
    "Sampler": "sampler",
    "Storage": "storage",
    "XID_MARKER": "xid",
    "clip": "common",
    "clock_event_names": "clocks",
    "describe_processes": "processes",
    "dumps": "encode",
    "encode_sample": "encode",
    "parse_args": "main",
    "parse_diskstats": "proc",
    "parse_ib_rate": "ib",
    "parse_ib_state": "ib",
    "parse_kernel_log": "xid",
    "parse_loadavg": "proc",
    "parse_meminfo": "proc",
    "parse_mounts": "proc",
    "parse_net_dev": "net",
    "parse_proc_stat": "proc",
    "parse_smi_gpus": "smi",
    "parse_smi_rejected_field": "smi",
    "parse_uid": "proc",
    "parse_uptime": "proc",
    "parse_xid_message": "xid",
    "pci_key": "xid",
    "smi_value": "smi",
    "statvfs_may_hang": "proc",
    "stream": "main",
    "xid_name": "xid",
}


def __getattr__(name: str) -> object:
    module = _HOMES.get(name)
    if module is None:
        raise AttributeError("module %r has no attribute %r" % (__name__, name))
    from importlib import import_module

    return getattr(import_module(__name__ + "." + module), name)


__all__ = [
    "CLIPPED",
    "COUNTER_RESET",
    "FIRST_SAMPLE",
    "MAX_COMMAND_BYTES",
    "MAX_DISKS",
    "MAX_FILESYSTEMS",
    "MAX_NICS",
    "MAX_PROCESSES_PER_GPU",
    "MAX_PROCESSES_PER_SAMPLE",
    "MAX_SAMPLE_BYTES",
    "MAX_TEXT_BYTES",
    "NET_DEV_FIELDS",
    "NVML_DEADLINE_S",
    "PROBE_VERSION",
    "PSEUDO_FSTYPES",
    "SHRUNK_LIST_ITEMS",
    "SMI_GPU_FIELDS",
    "SMI_NOT_IN_CSV",
    "XID_MARKER",
    "CallTimedOut",
    "DeadlineRunner",
    "Host",
    "NvmlReader",
    "OtherAccelerators",
    "ProcessInfo",
    "Sampler",
    "Storage",
    "clip",
    "clock_event_names",
    "describe_processes",
    "dumps",
    "encode_sample",
    "parse_args",
    "parse_diskstats",
    "parse_ib_rate",
    "parse_ib_state",
    "parse_kernel_log",
    "parse_loadavg",
    "parse_meminfo",
    "parse_mounts",
    "parse_net_dev",
    "parse_proc_stat",
    "parse_smi_gpus",
    "parse_smi_rejected_field",
    "parse_uid",
    "parse_uptime",
    "parse_xid_message",
    "pci_key",
    "smi_value",
    "statvfs_may_hang",
    "stream",
    "xid_name",
]
