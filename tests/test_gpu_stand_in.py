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
from aiconsole.probe.nvml_kept import ENERGY_KEEP_S
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
        "cpu_percent": None,
        "rss_bytes": None,
        "workload": None,
        "gpu_util_percent": None,  # this stand-in GPU keeps no per-process samples
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
    nvml_config.set(device_count=1).gpu(
        0, processes=f"{os.getpid()}:1024", clocks_event_reasons=0x4
    )
    gpu = probe_gpu_section(env)["gpus"][0]
    assert gpu["memory_used_bytes"] == 20 * 1024**3  # through the v1 call
    assert [p["pid"] for p in gpu["processes"]] == [os.getpid()]  # through _v2
    assert gpu["clock_event_reasons"] == ["sw_power_cap"]  # through the "throttle" name
    # The same model as from a current driver, field for field and reason for reason.
    current = probe_gpu_section(gpu_env)["gpus"][0]
    assert {k: v for k, v in gpu.items() if k != "processes"} == {
        k: v for k, v in current.items() if k != "processes"
    }


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


def test_every_depth_field_reaches_snapshot_json(
    gpu_env: dict[str, str], nvml_config: NvmlConfig
) -> None:
    nvml_config.set(device_count=2, driver_version="550.54.15", cuda_driver_version=12040)
    nvml_config.gpu(
        0,
        clocks_event_reasons="0x44",  # software power cap + hardware thermal slowdown
        ecc_corrected_volatile=3,
        ecc_uncorrected_aggregate=1,
        remapped_rows="2,1,1,0",
        nvlink="1,1,0,1",
        pstate=2,
        mig_mode=1,
        pcie_gen=4,
    )
    nvml_config.gpu(1, ecc_mode=0, fan_speed=55, retired_pages_sbe=2, retired_pages_dbe=0)
    code, stdout, stderr = run_aiconsole("snapshot", "--json", env=gpu_env)
    assert code == 0, stderr
    section = json.loads(stdout)["hosts"][0]["sample"]["gpu"]
    assert section["cuda_driver_version"] == "12.4"
    first, second = section["gpus"]
    assert first["clock_event_reasons"] == ["sw_power_cap", "hw_thermal_slowdown"]
    assert (first["sm_clock_max_mhz"], first["memory_clock_mhz"]) == (1980, 2619)
    assert first["memory_clock_max_mhz"] == 2619
    assert first["performance_state"] == 2
    assert first["energy_j"] == 987654.321
    assert first["energy_session_j"] == 0.0  # the same reading as the probe's first
    assert first["ecc_enabled"] is True
    assert (first["ecc_corrected_volatile"], first["ecc_uncorrected_aggregate"]) == (3, 1)
    assert (first["remapped_rows_correctable"], first["remapped_rows_uncorrectable"]) == (2, 1)
    assert (first["remap_pending"], first["remap_failure"]) == (True, False)
    assert (first["nvlink_links_up"], first["nvlink_links_total"]) == (3, 4)
    assert first["mig_enabled"] is True
    assert (first["pcie_link_gen"], first["pcie_link_gen_max"]) == (4, 5)
    assert (first["pcie_link_width"], first["pcie_link_width_max"]) == (16, 16)
    assert first["fan_speed_percent"] is None
    assert first["unavailable"]["fan_speed_percent"] == "Not Supported"
    assert first["retired_pages_single_bit"] is None  # Hopper remaps rows instead
    assert second["fan_speed_percent"] == 55.0
    assert second["ecc_enabled"] is False
    assert second["ecc_corrected_volatile"] is None
    assert second["unavailable"]["ecc_corrected_volatile"] == "ECC is disabled"
    assert (second["retired_pages_single_bit"], second["retired_pages_double_bit"]) == (2, 0)
    assert second["clock_event_reasons"] == []  # none active


def test_energy_over_the_session_and_process_cpu_from_the_second_sample(
    nvml_in_process: NvmlConfig,
) -> None:
    busy = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        nvml_in_process.set(device_count=1).gpu(0, processes=f"{busy.pid}:1024", energy_mj=1000)
        # The energy counter is asked every ENERGY_KEEP_S: the reader's clock passes that.
        now = [0.0]
        reader = NvmlReader(ProcessInfo(Host("/")), monotonic=lambda: now[0])
        first = reader.read()["gpus"][0]
        nvml_in_process.gpu(0, processes=f"{busy.pid}:1024", energy_mj=251000)
        subprocess.run([sys.executable, "-c", "import time; time.sleep(0.3)"], check=True)
        now[0] += ENERGY_KEEP_S
        second = reader.read()["gpus"][0]
    finally:
        busy.kill()
        busy.wait()
    assert first["processes"][0]["cpu_percent"] is None
    assert first["processes"][0]["rss_bytes"] > 0
    assert second["energy_session_j"] == 250.0
    assert second["energy_j"] == 251.0
    assert second["processes"][0]["cpu_percent"] > 10  # a busy loop: most of one core
