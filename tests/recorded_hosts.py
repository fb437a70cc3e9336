"""Hosts of every accelerator vendor, read by the real probe sampler from recorded trees.

Every host starts from the recorded GPU node (tests/fixtures/gpuhost: /proc, NICs, mounts)
and adds its own devices:

* an MI300X node: the amdgpu sysfs tree and DRM fdinfo processes, one of them a Slurm job's,
  a stand-in ``amd-smi`` (XGMI links, ECC per block), NVMe controllers (one worn out) and
  shared mounts (an NFS mount that hangs, one that answers with RTT and retransmissions, a
  Lustre client);
* a Gaudi 2 node: a stand-in ``hl-smi`` on PATH that prints the recorded query answer;
* an NVIDIA node: the stand-in libnvidia-ml (tests/fakenvml) through the real pynvml.

The stand-in programs are shell scripts written into a directory of the test's own.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from aiconsole import probe
from aiconsole.collectors.base import decode_sample
from aiconsole.model import HostSample

FIXTURES = Path(__file__).parent / "fixtures"
HUNG_MOUNT = "/data"
PATH = os.environ.get("PATH", os.defpath)


class NoNvidia:
    def read(self) -> dict[str, object]:
        return {"status": "no_driver", "source": "none", "reason": "no NVIDIA driver", "gpus": []}


class Statvfs:
    """statvfs of a recorded tree's mounts: every mount answers but the ``hung`` ones, which
    block (as a mount whose server is gone does) for longer than the probe's deadline."""

    f_frsize, f_blocks, f_bfree, f_bavail = 4096, 1000, 400, 300

    def __init__(self, hung: frozenset[str] = frozenset()) -> None:
        self.hung = hung

    def __call__(self, mount: str) -> Statvfs:
        if mount in self.hung:
            import time

            time.sleep(2)
        return self


def stand_in(directory: Path, name: str, script: str) -> Path:
    """An executable ``name`` in ``directory`` running the shell ``script``."""
    directory.mkdir(parents=True, exist_ok=True)
    program = directory / name
    program.write_text("#!/bin/sh\n" + script)
    program.chmod(0o755)
    return program


def base_tree(root: Path) -> Path:
    shutil.copytree(FIXTURES / "gpuhost/t0", root, symlinks=True)
    return root


def add_mi300x(root: Path) -> None:
    shutil.copytree(FIXTURES / "amd-mi300x", root, symlinks=True, dirs_exist_ok=True)
    # Process 5151 runs as step 0 of Slurm job 81234.
    shutil.copy(FIXTURES / "cgroup/slurm-v2", root / "proc/5151/cgroup")
    (root / "proc/5151/cmdline").write_text("python\0train.py\0--model\0llama-70b\0")


def add_storage(root: Path) -> None:
    """Two NVMe controllers and the shared mounts; ``nvme`` answers per controller."""
    for name, model, serial in (
        ("nvme0", "SAMSUNG MZWLR3T8HBLS-00007", "S6EXNA0T100001"),
        ("nvme1", "KIOXIA KCM6DRUL3T84", "X1N0A01VT8M8"),
    ):
        controller = root / "sys/class/nvme" / name
        controller.mkdir(parents=True)
        (controller / "model").write_text(model + "\n")
        (controller / "serial").write_text(serial + "\n")
        (controller / "firmware_rev").write_text("GDC5902Q\n")
    mounts = root / "proc/self/mounts"
    mounts.write_text(
        mounts.read_text()
        + f"storage02:/export/data {HUNG_MOUNT} nfs4 rw,relatime,vers=4.2 0 0\n"
        + "mgs@o2ib:/lustre1 /lustre lustre rw 0 0\n"
    )
    shutil.copytree(FIXTURES / "sharedfs/t0", root, dirs_exist_ok=True)


def storage_second_sample(root: Path) -> None:
    shutil.copytree(FIXTURES / "sharedfs/t1", root, dirs_exist_ok=True)


def nvme_cli(directory: Path) -> Path:
    return stand_in(
        directory,
        "nvme",
        'case "$2" in\n'
        f"  /dev/nvme0) exec /bin/cat {FIXTURES / 'nvme/smart-log-nvme0.json'} ;;\n"
        f"  /dev/nvme1) exec /bin/cat {FIXTURES / 'nvme/smart-log-nvme1-worn.json'} ;;\n"
        "esac\n"
        'echo "$2: No such file or directory" >&2\nexit 1\n',
    )


def amd_smi(directory: Path, xgmi: str = "xgmi.json", metric: str = "metric.json") -> Path:
    """``amd-smi``: the recorded answers to the probe's three questions, or a usage error."""
    recorded = FIXTURES / "amd-smi"
    return stand_in(
        directory,
        "amd-smi",
        'case "$1" in\n'
        f"  list) exec /bin/cat {recorded / 'list.json'} ;;\n"
        f"  metric) exec /bin/cat {recorded / metric} ;;\n"
        f"  xgmi) exec /bin/cat {recorded / xgmi} ;;\n"
        "esac\n"
        'echo "amd-smi: error: invalid choice: $1" >&2\nexit 2\n',
    )


def hl_smi(directory: Path) -> Path:
    return stand_in(directory, "hl-smi", f"exec /bin/cat {FIXTURES / 'gaudi2/hl-smi-query.csv'}\n")


def two_samples(
    sampler: probe.Sampler, clock: list[float], between: Callable[[], Any] | None = None
) -> HostSample:
    """The second sample (rates filled in), taken two seconds after the first."""
    sampler.sample()
    if between is not None:
        between()
    clock[0] += 2.0
    return decode_sample(sampler.sample())


def mi300x_node(
    tmp: Path, name: str = "mi300x01", tools: dict[str, Path] | None = None
) -> HostSample:
    """``tools``: the vendor programs the probe finds (default: the stand-in amd-smi)."""
    root = base_tree(tmp / name)
    if tools is None:
        tools = {"amd-smi": amd_smi(tmp / "bin-amd")}
    add_mi300x(root)
    add_storage(root)
    clock = [100.0]
    sampler = probe.Sampler(
        name=name,
        root=str(root),
        gpu_reader=NoNvidia(),
        statvfs=Statvfs(hung=frozenset({HUNG_MOUNT})),
        monotonic=lambda: clock[0],
        accelerators=probe.OtherAccelerators(
            probe.Host(str(root)),
            probe.ProcessInfo(probe.Host(str(root)), lambda: clock[0]),
            lambda: clock[0],
            find=lambda program: str(tools[program]) if program in tools else None,
        ),
        storage=probe.Storage(
            probe.Host(str(root)),
            lambda: clock[0],
            find=lambda name: str(nvme_cli(tmp / "bin-nvme")) if name == "nvme" else None,
            is_root=False,
        ),
    )
    return two_samples(sampler, clock, lambda: storage_second_sample(root))


def gaudi_node(tmp: Path, monkeypatch: pytest.MonkeyPatch, name: str = "gaudi01") -> HostSample:
    """Found the way the probe finds it on a host: ``hl-smi`` on an absolute PATH entry."""
    root = base_tree(tmp / name)
    monkeypatch.setenv("PATH", os.pathsep.join([str(hl_smi(tmp / "bin-gaudi").parent), PATH]))
    clock = [100.0]
    sampler = probe.Sampler(
        name=name,
        root=str(root),
        gpu_reader=NoNvidia(),
        statvfs=Statvfs(),
        monotonic=lambda: clock[0],
    )
    try:
        return two_samples(sampler, clock)
    finally:
        monkeypatch.setenv("PATH", PATH)


def nvidia_node(tmp: Path, name: str = "h100n01") -> HostSample:
    """NVML through the stand-in library (the caller loads it: ``nvml_in_process``)."""
    root = base_tree(tmp / name)
    clock = [100.0]
    sampler = probe.Sampler(
        name=name,
        root=str(root),
        statvfs=Statvfs(),
        kernel_log=str(root / "no-kernel-log"),
    )
    return two_samples(sampler, clock)
