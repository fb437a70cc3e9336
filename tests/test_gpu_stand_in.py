"""GPUs through the unmodified pynvml and the stand-in driver library, end to end."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import msgspec

from aiconsole.collectors.base import decode_sample
from aiconsole.model import GpuSection
from aiconsole.probe import Host, NvmlReader, ProcessInfo
from tests.conftest import NvmlConfig, run_aiconsole


def probe_output(env: dict[str, str]) -> dict:
    """One sample from the probe program, run as a child process with ``env``."""
    result = subprocess.run(
        [sys.executable, "-m", "aiconsole.probe", "--count", "1"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return json.loads(result.stdout)


def probe_gpu_section(env: dict[str, str]) -> dict:
    return probe_output(env)["gpu"]


def test_gpus_and_processes_flow_into_snapshot_json(
    gpu_env: dict[str, str], nvml_config: NvmlConfig
) -> None:
    me = os.getpid()
    nvml_config.set(device_count=2, driver_version="550.54.15")
    nvml_config.gpu(0, processes=f"{me}:{3 * 1024**3}")
    nvml_config.gpu(1, util_gpu=12, temperature=45)
    code, stdout, stderr = run_aiconsole("snapshot", "--json", env=gpu_env)
    assert code == 0, stderr
    host = json.loads(stdout)["hosts"][0]
    gpu = host["sample"]["gpu"]
    assert (gpu["status"], gpu["source"], gpu["driver_version"]) == ("ok", "nvml", "550.54.15")
    first, second = gpu["gpus"]
    assert first["name"] == "NVIDIA H100 80GB HBM3"
    assert first["uuid"] == "GPU-00000000-0000-0000-0000-000000000000"
    assert first["bus_id"] == "00000000:18:00.0"
    assert (first["util_gpu_percent"], first["util_memory_percent"]) == (87.0, 41.0)
    assert first["memory_total_bytes"] == 80 * 1024**3
    assert first["memory_used_bytes"] == 20 * 1024**3
    assert (first["temperature_c"], first["power_draw_w"], first["power_limit_w"]) == (
        64.0,
        512.0,
        700.0,
    )
    assert first["sm_clock_mhz"] == 1980
    (process,) = first["processes"]
    assert process["pid"] == me
    assert process["gpu_memory_bytes"] == 3 * 1024**3
    assert process["user"] == subprocess.check_output(["id", "-un"], text=True).strip()
    assert process["command"].split()[0] == sys.executable or "python" in process["command"]
    assert (second["util_gpu_percent"], second["temperature_c"]) == (12.0, 45.0)
    assert second["processes"] == []


def test_not_supported_fields_are_none_with_the_drivers_reason(
    gpu_env: dict[str, str], nvml_config: NvmlConfig
) -> None:
    nvml_config.set(device_count=1).gpu(0, power_usage="!3", util_gpu="!3", temperature="!3")
    gpu = probe_gpu_section(gpu_env)["gpus"][0]
    for field in ("power_draw_w", "util_gpu_percent", "util_memory_percent", "temperature_c"):
        assert gpu[field] is None
        assert gpu["unavailable"][field] == "Not Supported"
    assert gpu["memory_used_bytes"] == 20 * 1024**3  # the rest still read


def test_lost_gpu_is_flagged_while_the_others_report(
    gpu_env: dict[str, str], nvml_config: NvmlConfig
) -> None:
    nvml_config.set(device_count=3).gpu(0).gpu(1, lost=1).gpu(2, util_gpu=5)
    gpus = probe_gpu_section(gpu_env)["gpus"]
    assert [g["lost"] for g in gpus] == [False, True, False]
    assert gpus[1]["unavailable"]["handle"] == "GPU is lost"
    assert gpus[2]["util_gpu_percent"] == 5.0


def test_process_memory_not_available_is_none(
    gpu_env: dict[str, str], nvml_config: NvmlConfig
) -> None:
    nvml_config.set(device_count=1).gpu(0, processes="4000000:-")
    (process,) = probe_gpu_section(gpu_env)["gpus"][0]["processes"]
    # A PID the kernel does not have (as for a process in another PID namespace).
    assert process == {
        "pid": 4000000,
        "kind": "compute",
        "gpu_memory_bytes": None,
        "user": None,
        "command": None,
    }


def test_no_driver_is_a_status_not_an_error(no_gpu_env: dict[str, str]) -> None:
    code, stdout, stderr = run_aiconsole("snapshot", "--json", env=no_gpu_env)
    assert code == 0, stderr
    gpu = json.loads(stdout)["hosts"][0]["sample"]["gpu"]
    assert gpu["status"] == "no_driver"
    assert gpu["gpus"] == []
    assert "not found" in gpu["reason"]


def test_driver_not_loaded_at_init(gpu_env: dict[str, str], nvml_config: NvmlConfig) -> None:
    nvml_config.set(init="!9")  # NVML_ERROR_DRIVER_NOT_LOADED
    gpu = probe_gpu_section(gpu_env)
    assert gpu["status"] == "no_driver"
    assert gpu["reason"] == "NVIDIA driver is not loaded"


def test_old_driver_without_v2_memory_and_v3_processes(
    tmp_path, gpu_env: dict[str, str], nvml_config: NvmlConfig
) -> None:
    from tests.fakenvml.build import build

    old = build(tmp_path / "old", old_driver=True)
    env = dict(gpu_env, LD_LIBRARY_PATH=str(old))
    nvml_config.set(device_count=1).gpu(0, processes=f"{os.getpid()}:1024")
    gpu = probe_gpu_section(env)["gpus"][0]
    assert gpu["memory_used_bytes"] == 20 * 1024**3  # through the v1 call
    assert [p["pid"] for p in gpu["processes"]] == [os.getpid()]  # through _v2
    assert not gpu["unavailable"]


def test_in_process_reader_follows_changes_between_samples(nvml_in_process: NvmlConfig) -> None:
    nvml_in_process.set(device_count=1).gpu(0, util_gpu=10)
    reader = NvmlReader(ProcessInfo(Host("/")))
    assert reader.read()["gpus"][0]["util_gpu_percent"] == 10.0
    nvml_in_process.gpu(0, util_gpu=95)
    section = msgspec.convert(reader.read(), GpuSection)
    assert section.gpus[0].util_gpu_percent == 95.0


def test_probe_output_with_gpus_decodes_into_the_model(
    gpu_env: dict[str, str], nvml_config: NvmlConfig
) -> None:
    nvml_config.set(device_count=2).gpu(0).gpu(1, lost=1)
    sample = decode_sample(probe_output(gpu_env))
    assert [gpu.lost for gpu in sample.gpu.gpus] == [False, True]
    assert sample.gpu.gpus[0].name == "NVIDIA H100 80GB HBM3"
