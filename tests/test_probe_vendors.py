"""The probe's sample with every vendor's accelerators, NVMe health and shared mounts, read by
the real sampler from recorded trees and stand-in vendor programs (tests/recorded_hosts.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import msgspec
import pytest

from aiconsole import probe
from aiconsole.collectors.base import decode_sample
from tests.conftest import NvmlConfig
from tests.recorded_hosts import (
    HUNG_MOUNT,
    NoNvidia,
    Statvfs,
    add_mi300x,
    add_storage,
    base_tree,
    gaudi_node,
    hl_smi,
    mi300x_node,
    stand_in,
)

FIELDS = ("util_gpu_percent", "memory_used_bytes", "memory_total_bytes", "temperature_c")


def test_an_mi300x_node_reads_as_eight_amd_gpus_with_their_processes(tmp_path: Path) -> None:
    sample = mi300x_node(tmp_path)
    section = sample.gpu
    assert (section.status, section.sources) == ("ok", ("amdgpu",))
    assert section.unavailable["nvidia"] == "no NVIDIA driver"
    assert [gpu.index for gpu in section.gpus] == list(range(8))
    for gpu in section.gpus:
        assert gpu.vendor == "amd" and gpu.name == "AMD Instinct MI300X OAM"
        assert all(getattr(gpu, field) is not None for field in FIELDS)
        assert gpu.power_draw_w is not None and gpu.ecc_uncorrected_volatile is not None
        assert gpu.temperature_junction_c == gpu.temperature_c  # no edge sensor on MI300X
    sick = section.gpus[5]
    assert (sick.ecc_uncorrected_volatile, sick.ecc_corrected_volatile) == (1, 12)
    assert sick.ras_errors is not None and sick.ras_errors["umc"] == (1, 12)
    (job,) = sick.processes
    assert job.pid == 5151 and job.command == "python train.py --model llama-70b"
    assert job.gpu_memory_bytes is not None and job.gpu_util_percent is not None
    assert job.workload is not None
    assert (job.workload.kind, job.workload.id, job.workload.step) == ("slurm_job", "81234", "0")


def test_a_gaudi_node_is_read_through_hl_smi_on_the_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    section = gaudi_node(tmp_path, monkeypatch).gpu
    assert (section.status, section.sources) == ("ok", ("hl-smi",))
    assert len(section.gpus) == 8 and {gpu.vendor for gpu in section.gpus} == {"intel"}
    assert (section.gpus[4].ecc_uncorrected_volatile, section.gpus[4].ecc_corrected_volatile) == (
        2,
        17,
    )
    assert section.gpus[7].util_gpu_percent is None
    assert section.gpus[7].unavailable["util_gpu_percent"].startswith("hl-smi: ")


def test_an_hl_smi_in_a_relative_path_entry_is_never_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    hl_smi(tmp_path / "bin")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PATH", "bin")
    sampler = probe.Sampler(root=str(base_tree(tmp_path / "root")), gpu_reader=NoNvidia(),
                            statvfs=Statvfs())  # fmt: skip
    section = decode_sample(sampler.sample()).gpu
    assert section.gpus == () and section.status == "no_driver"


def test_nvme_health_from_nvme_cli_and_the_reason_without_it(tmp_path: Path) -> None:
    drives = {drive.name: drive for drive in mi300x_node(tmp_path).nvme}
    worn = drives["nvme1"].health
    assert worn is not None
    assert (worn.percentage_used, worn.media_errors, worn.available_spare_percent) == (104, 211, 7)
    assert worn.warnings == ("spare below threshold", "reliability degraded")
    assert drives["nvme0"].firmware == "GDC5902Q"
    root = base_tree(tmp_path / "plain")
    add_storage(root)
    storage = probe.Storage(probe.Host(str(root)), find=lambda _name: None, is_root=False)
    (first, _) = storage.nvme()
    assert first["health"] is None
    assert first["unavailable"]["health"] == "nvme-cli not installed; the ioctl needs root"


def test_a_hung_nfs_mount_is_reported_hung_while_the_others_answer(tmp_path: Path) -> None:
    mounts = {mount.mount: mount for mount in mi300x_node(tmp_path).shared_filesystems}
    assert set(mounts) == {"/home", HUNG_MOUNT, "/lustre"}  # local mounts are not listed
    hung = mounts[HUNG_MOUNT]
    assert (hung.answering, hung.hung, hung.statvfs_ms) == (False, True, None)
    assert hung.server == "storage02" and "hung" in hung.unavailable["statvfs_ms"]
    home = mounts["/home"]
    assert home.answering and not home.hung and home.statvfs_ms is not None
    assert home.rtt_ms is not None and home.retrans_per_s is not None
    lustre = mounts["/lustre"]
    assert lustre.kind == "lustre" and lustre.server == "lustre1"
    assert lustre.read_bytes_per_s is not None and lustre.write_bytes_per_s is not None


def test_a_mixed_nvidia_and_amd_node_lists_both(
    tmp_path: Path, nvml_in_process: NvmlConfig
) -> None:
    nvml_in_process.set(device_count=2).gpu(0).gpu(1)
    root = base_tree(tmp_path / "mixed")
    add_mi300x(root)
    sampler = probe.Sampler(root=str(root), statvfs=Statvfs(),
                            kernel_log=str(root / "no-kernel-log"))  # fmt: skip
    section = decode_sample(sampler.sample()).gpu
    assert section.status == "ok" and section.sources == ("nvml", "amdgpu")
    assert [gpu.index for gpu in section.gpus] == list(range(10))
    assert [gpu.vendor for gpu in section.gpus] == ["nvidia"] * 2 + ["amd"] * 8


def test_a_failing_accelerator_reader_costs_only_its_own_gpus(tmp_path: Path) -> None:
    class Broken:
        def add_to(self, section: dict[str, object]) -> dict[str, object]:
            raise RuntimeError("bug")

    sampler = probe.Sampler(root=str(base_tree(tmp_path / "root")), gpu_reader=NoNvidia(),
                            statvfs=Statvfs(), accelerators=Broken())  # fmt: skip
    section = decode_sample(sampler.sample()).gpu
    assert section.unavailable["accelerators"] == "read failed: RuntimeError: bug"


def test_text_in_the_new_fields_is_cleaned_at_decode(tmp_path: Path) -> None:
    """A drive model, a mount point, a RAS block name or a container id is host text."""
    raw = mi300x_node(tmp_path)
    tree: dict[str, Any] = msgspec.to_builtins(raw)
    hostile = "\x1b]52;c;cm0gLXJmIH4=\x07x"
    tree["nvme"][0]["model"] = hostile
    tree["shared_filesystems"][0]["mount"] = hostile
    tree["gpu"]["gpus"][0]["ras_errors"] = {hostile: [1, 2]}
    tree["gpu"]["gpus"][5]["processes"][0]["workload"]["id"] = hostile
    tree["gpu"]["unavailable"]["nvidia"] = hostile
    sample = decode_sample(tree)
    texts = [
        sample.nvme[0].model,
        sample.shared_filesystems[0].mount,
        *(sample.gpu.gpus[0].ras_errors or {}),
        sample.gpu.gpus[5].processes[0].workload.id,  # type: ignore[union-attr]
        sample.gpu.unavailable["nvidia"],
    ]
    for text in texts:
        assert text is not None and "\x1b" not in text and "\x07" not in text


def test_a_failing_hl_smi_is_reported_with_its_reason(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    broken = tmp_path / "bin"
    stand_in(broken, "hl-smi", "echo 'hl-smi: no devices were found' >&2\nexit 6\n")
    monkeypatch.setenv("PATH", str(broken))
    sampler = probe.Sampler(root=str(base_tree(tmp_path / "root")), gpu_reader=NoNvidia(),
                            statvfs=Statvfs())  # fmt: skip
    section = decode_sample(sampler.sample()).gpu
    assert section.status == "no_driver" and section.gpus == ()
    assert section.unavailable["intel"] == "hl-smi: no devices were found"
