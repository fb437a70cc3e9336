"""The probe's nvidia-smi path: recorded-format parsing, and the same model as NVML."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import msgspec
import pytest

from aiconsole.model import Gpu, GpuSection
from aiconsole.probe import (
    SMI_GPU_FIELDS,
    SMI_NOT_IN_CSV,
    parse_smi_gpus,
    parse_smi_rejected_field,
)
from aiconsole.probe.smi import parse_smi_cuda_version
from tests.conftest import FIXTURES, NvmlConfig, probe_without_pynvml

SMI_FIXTURES = FIXTURES / "nvidia-smi"


def load_fixture(name: str) -> tuple[list[dict], str | None]:
    header, _, body = (SMI_FIXTURES / name).read_text().partition("\n")
    names = header.removeprefix("# query: ").split(",")
    by_name = {
        name: (field, convert) for field, names_, convert in SMI_GPU_FIELDS for name in names_
    }
    query = [(by_name[name][0], name, by_name[name][1]) for name in names]
    return parse_smi_gpus(body, query, {})


def as_model(gpus: list[dict], driver: str | None) -> GpuSection:
    return msgspec.convert(
        {"status": "ok", "source": "nvidia-smi", "driver_version": driver, "gpus": gpus},
        GpuSection,
    )


def test_h100_rows_parse_into_the_model_with_na_fields_explained() -> None:
    gpus, driver = load_fixture("h100-r550.csv")
    section = as_model(gpus, driver)
    assert driver == "550.54.15"
    assert [gpu.index for gpu in section.gpus] == list(range(8))
    second = section.gpus[1]
    assert second.bus_id == "00000000:29:00.0"
    assert second.memory_total_bytes == 81559 * 1024**2
    assert second.memory_used_bytes == 9004 * 1024**2
    assert (second.util_gpu_percent, second.power_draw_w, second.power_limit_w) == (
        13.0,
        100.41,
        700.0,
    )
    assert (second.performance_state, second.clock_event_reasons) == (0, ())
    assert (second.pcie_link_gen, second.pcie_link_width) == (5, 16)
    assert second.ecc_enabled is True and second.mig_enabled is False
    assert second.fan_speed_percent is None
    assert second.unavailable["fan_speed_percent"] == "N/A"
    assert second.retired_pages_double_bit is None
    assert second.unavailable["energy_j"] == SMI_NOT_IN_CSV


def test_old_driver_throttle_field_and_retired_pages() -> None:
    gpus, driver = load_fixture("v100-r470.csv")
    first = as_model(gpus, driver).gpus[0]
    assert driver == "470.182.03"
    assert first.clock_event_reasons == ("sw_power_cap",)
    assert (first.ecc_corrected_volatile, first.ecc_uncorrected_aggregate) == (12, 1)
    assert (first.retired_pages_single_bit, first.retired_pages_double_bit) == (2, 1)
    assert first.retired_pages_pending is True
    assert first.mig_enabled is None


def test_geforce_without_ecc_and_not_supported_values() -> None:
    gpus, _ = load_fixture("rtx3090-r535.csv")
    gpu = as_model(gpus, None).gpus[0]
    assert gpu.fan_speed_percent == 30.0
    assert gpu.performance_state == 8
    assert gpu.clock_event_reasons == ("gpu_idle",)
    assert gpu.memory_clock_max_mhz is None
    assert gpu.unavailable["memory_clock_max_mhz"] == "Not Supported"
    assert gpu.ecc_enabled is None and gpu.ecc_corrected_volatile is None
    assert (gpu.pcie_link_gen, gpu.pcie_link_gen_max) == (1, 4)


def test_lost_gpu_line_stands_for_the_gpu_at_its_position() -> None:
    gpus, _ = load_fixture("lost-gpu.csv")
    healthy, lost = as_model(gpus, None).gpus
    assert (healthy.lost, healthy.name) == (False, "NVIDIA A100-SXM4-80GB")
    assert (lost.index, lost.lost) == (1, True)
    assert "GPU is lost" in lost.unavailable["gpu"]


def test_rejected_field_is_named() -> None:
    text = (SMI_FIXTURES / "rejected-field.txt").read_text()
    assert parse_smi_rejected_field(text) == "clocks_event_reasons.active"
    assert parse_smi_rejected_field("No devices were found") is None


# ---- the probe program on a host with nvidia-smi but no pynvml ----------------------------


def probe_gpu(command: list[str], env: dict[str, str]) -> GpuSection:
    result = subprocess.run(
        [*command, "--count", "1"], env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    return msgspec.convert(json.loads(result.stdout)["gpu"], GpuSection)


NVML_ONLY = {
    "energy_j",
    "energy_session_j",
    "nvlink_links_up",
    "nvlink_links_total",
    "nvlink_links",
}


def comparable(gpu: Gpu) -> dict:
    """Everything both paths read; the values of the fields only NVML has are checked apart."""
    fields = msgspec.structs.asdict(gpu)
    fields.pop("unavailable")
    for field in NVML_ONLY:
        fields.pop(field)
    fields["processes"] = [
        (p.pid, p.kind, p.user, p.command, p.gpu_memory_bytes) for p in gpu.processes
    ]
    return fields


def configure_machine(config: NvmlConfig) -> None:
    me = os.getpid()
    config.set(device_count=3, driver_version="550.54.15")
    config.gpu(0, processes=f"{me}:{3 * 1024**3}", clocks_event_reasons=0x4)
    config.gpu(1, ecc_mode=0, util_gpu=5, fan_speed=40, pstate=8, mig_mode=1)
    config.gpu(
        2,
        ecc_corrected_volatile=7,
        ecc_uncorrected_aggregate=2,
        remapped_rows="3,1,1,0",
        retired_pages_single_bit="!3",
        pcie_gen=3,
        clocks_event_reasons=0x48,
    )


def test_nvidia_smi_fallback_gives_the_same_model_as_nvml(
    gpu_env: dict[str, str], smi_env: dict[str, str], nvml_config: NvmlConfig
) -> None:
    configure_machine(nvml_config)
    through_nvml = probe_gpu([sys.executable, "-m", "aiconsole.probe"], gpu_env)
    through_smi = probe_gpu(probe_without_pynvml(), smi_env)
    assert (through_nvml.source, through_smi.source) == ("nvml", "nvidia-smi")
    assert through_smi.status == "ok"
    assert through_smi.driver_version == through_nvml.driver_version == "550.54.15"
    assert len(through_smi.gpus) == 3
    for nvml_gpu, smi_gpu in zip(through_nvml.gpus, through_smi.gpus, strict=True):
        assert comparable(smi_gpu) == comparable(nvml_gpu)
        for field in NVML_ONLY:
            assert getattr(smi_gpu, field) is None
            assert smi_gpu.unavailable[field] == SMI_NOT_IN_CSV
    # The depth values really went through (not None on both sides).
    third = through_smi.gpus[2]
    assert third.clock_event_reasons == ("hw_slowdown", "hw_thermal_slowdown")
    assert (third.remapped_rows_correctable, third.remap_pending) == (3, True)
    assert through_smi.gpus[1].mig_enabled is True
    assert through_smi.gpus[0].processes[0].pid == os.getpid()


def test_fields_an_older_nvidia_smi_rejects_are_retried_without_them(
    smi_env: dict[str, str], nvml_config: NvmlConfig
) -> None:
    configure_machine(nvml_config)
    env = dict(
        smi_env,
        FAKE_SMI_REJECT="clocks_event_reasons.active,enforced.power.limit,pcie.link.gen.max",
    )
    section = probe_gpu(probe_without_pynvml(), env)
    assert section.status == "ok"
    gpu = section.gpus[2]
    # Older names answer for the renamed fields...
    assert gpu.clock_event_reasons == ("hw_slowdown", "hw_thermal_slowdown")
    assert gpu.power_limit_w == 700.0
    # ...and a field with no older name is unavailable, saying why; the rest still read.
    assert gpu.pcie_link_gen_max is None
    assert gpu.unavailable["pcie_link_gen_max"] == 'this nvidia-smi rejects "pcie.link.gen.max"'
    assert gpu.pcie_link_gen == 3


def test_lost_gpu_through_nvidia_smi_while_the_others_report(
    smi_env: dict[str, str], nvml_config: NvmlConfig
) -> None:
    configure_machine(nvml_config)
    nvml_config.gpu(1, lost=1)
    section = probe_gpu(probe_without_pynvml(), smi_env)
    assert [gpu.lost for gpu in section.gpus] == [False, True, False]
    assert section.gpus[2].util_gpu_percent == 87.0


def test_neither_pynvml_nor_nvidia_smi_is_no_driver(tmp_path: Path) -> None:
    env = {"PATH": str(tmp_path), "HOME": str(tmp_path)}  # no nvidia-smi anywhere on it
    section = probe_gpu(probe_without_pynvml(), env)
    if os.path.exists("/proc/driver/nvidia/version"):
        pytest.skip("this machine has an NVIDIA driver loaded")
    assert (section.status, section.source) == ("no_driver", "none")
    assert section.reason is not None and "no NVIDIA driver" in section.reason


def test_nvidia_smi_without_a_driver_is_no_driver(
    smi_env: dict[str, str], nvml_config: NvmlConfig
) -> None:
    nvml_config.set(init="!9")  # driver not loaded: the stand-in nvidia-smi cannot talk to it
    section = probe_gpu(probe_without_pynvml(), smi_env)
    assert section.status == "no_driver"
    assert section.reason is not None and "communicate with the NVIDIA driver" in section.reason


def test_nvidia_smi_in_the_working_directory_is_never_run(
    smi_env: dict[str, str], nvml_config: NvmlConfig, tmp_path: Path
) -> None:
    """An empty PATH entry (``PATH=:/usr/bin``, or a trailing ``:``) means the working
    directory to a shell; whoever controls that directory must not get code run by the probe."""
    configure_machine(nvml_config)
    planted = tmp_path / "planted"
    planted.mkdir()
    marker = tmp_path / "ran"
    trap = planted / "nvidia-smi"
    trap.write_text(f"#!/bin/sh\n{shutil.which('touch')} {marker}\n")
    trap.chmod(0o755)
    real = Path(smi_env["PATH"].split(os.pathsep)[0])
    env = dict(smi_env, PATH=os.pathsep.join(["", "relative/bin", "/nonexistent"]))
    result = subprocess.run(
        [*probe_without_pynvml(), "--count", "1"],
        env=env,
        cwd=planted,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert not marker.exists()
    assert json.loads(result.stdout)["gpu"]["source"] == "none"
    # The same directory named by its absolute path is searched as usual.
    env["PATH"] = os.pathsep.join(["", str(real)])
    assert probe_gpu(probe_without_pynvml(), env).source == "nvidia-smi"


def test_cuda_version_is_read_from_the_banner_or_explained() -> None:
    banner = (SMI_FIXTURES / "banner-r550.txt").read_text()
    assert parse_smi_cuda_version(banner) == "12.4"
    assert parse_smi_cuda_version(banner.replace("12.4 ", "N/A  ")) is None
    assert parse_smi_cuda_version("No devices were found") is None


def test_nvidia_smi_fallback_reports_the_cuda_version(
    smi_env: dict[str, str], nvml_config: NvmlConfig
) -> None:
    nvml_config.set(device_count=1, cuda_driver_version=12060)
    section = probe_gpu(probe_without_pynvml(), smi_env)
    assert (section.source, section.cuda_driver_version) == ("nvidia-smi", "12.6")
    assert "cuda_driver_version" not in section.unavailable


def test_nvidia_smi_fallback_without_a_cuda_version_says_why(
    smi_env: dict[str, str], nvml_config: NvmlConfig
) -> None:
    nvml_config.set(device_count=1, cuda_driver_version="!3")  # NVML_ERROR_NOT_SUPPORTED
    section = probe_gpu(probe_without_pynvml(), smi_env)
    assert section.status == "ok" and section.cuda_driver_version is None
    assert section.unavailable["cuda_driver_version"] == "no CUDA Version in nvidia-smi's banner"
