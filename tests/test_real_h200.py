"""What a real H200 said (captured by scripts/gpu-capture): the probe's parsers, models and
schema hold against it, and its two GPU readers agree on it."""

from __future__ import annotations

import json

from jsonschema import Draft202012Validator

from aiconsole.collectors.base import decode_sample
from aiconsole.model import HostSample, json_schema
from aiconsole.probe.smi import SMI_GPU_FIELDS, parse_smi_cuda_version
from tests.conftest import FIXTURES
from tests.test_smi_fallback import SMI_FIXTURES, as_model, load_fixture

CAPTURED = FIXTURES / "real-h200"
# Values that move between two reads a second apart, and how far they may.
MOVING = {
    "util_gpu_percent": 5.0,
    "util_memory_percent": 5.0,
    "temperature_c": 2.0,
    "power_draw_w": 15.0,
    "sm_clock_mhz": 120.0,
    "memory_used_bytes": 2 * 1024**2,
}
# Every field nvidia-smi's CSV carries (the driver's version is the section's, checked apart).
COMPARED = [field for field, _, _ in SMI_GPU_FIELDS if field not in ("index", "driver_version")]


def probe_samples(name: str) -> list[HostSample]:
    lines = (CAPTURED / name).read_text().splitlines()
    return [decode_sample(json.loads(line)) for line in lines]


def test_nvidia_smi_and_nvml_agree_on_the_loaded_h200() -> None:
    gpus, driver = load_fixture("h200-r580-load.csv")
    (through_smi,) = as_model(gpus, driver).gpus
    through_nvml = probe_samples("probe-load.jsonl")[-1].gpu.gpus[0]
    assert driver == "580.159.04" and through_smi.name == "NVIDIA H200"
    for field in COMPARED:
        smi, nvml = getattr(through_smi, field), getattr(through_nvml, field)
        if field in MOVING and smi is not None and nvml is not None:
            assert abs(smi - nvml) <= MOVING[field], field
        else:
            assert smi == nvml, field
    assert through_smi.clock_event_reasons == ("sw_power_cap",)  # 693 W of a 700 W cap


def test_an_idle_h200_says_gpu_idle_and_has_no_retired_pages_but_remaps_rows() -> None:
    gpus, _ = load_fixture("h200-r580-idle.csv")
    (gpu,) = as_model(gpus, None).gpus
    assert (gpu.performance_state, gpu.clock_event_reasons) == (0, ("gpu_idle",))
    assert (gpu.util_gpu_percent, gpu.memory_used_bytes) == (0.0, 0)
    assert gpu.memory_total_bytes == 143771 * 1024**2
    assert gpu.retired_pages_single_bit is None
    assert gpu.unavailable["retired_pages_single_bit"] == "N/A"
    (idle,) = probe_samples("probe-idle.jsonl")[-1].gpu.gpus
    assert (idle.remapped_rows_correctable, idle.remap_pending) == (0, False)
    assert idle.unavailable["retired_pages_single_bit"] == "Not Supported"
    assert idle.unavailable["nvlink_links"] == "no NVLink (Not Supported)"


def test_the_probes_process_share_matches_nvidia_smi_pmon() -> None:
    rows = [
        line.split()
        for line in (CAPTURED / "pmon.txt").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    pmon = {int(row[1]): float(row[3]) for row in rows}  # pid -> sm %
    for sample in probe_samples("probe-load.jsonl"):
        (process,) = sample.gpu.gpus[0].processes
        assert process.command == "python3 -" and process.kind == "compute"
        assert process.gpu_util_percent is not None
        assert abs(process.gpu_util_percent - pmon[process.pid]) <= 5.0
    compute_apps = (CAPTURED / "query-compute-apps.csv").read_text().split(", ")
    assert int(compute_apps[1]) == process.pid
    assert process.gpu_memory_bytes == int(compute_apps[2]) * 1024**2


def test_the_snapshot_taken_on_the_h200_still_validates_against_the_published_schema() -> None:
    document = json.loads((CAPTURED / "snapshot.json").read_text())
    errors = list(Draft202012Validator(json_schema()).iter_errors(document))
    assert errors == []
    gpu = document["hosts"][0]["sample"]["gpu"]
    assert (gpu["source"], gpu["cuda_driver_version"]) == ("nvml", "13.0")


def test_the_cuda_version_is_read_from_the_real_banner() -> None:
    assert parse_smi_cuda_version((SMI_FIXTURES / "banner-r580.txt").read_text()) == "13.0"
