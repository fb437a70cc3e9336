"""``aiconsole health``: the monitoring-plugin exit codes, JSON that matches its schema, and
the findings also carried by ``snapshot --json``; on this machine with stand-in GPUs."""

from __future__ import annotations

import json
import socket

from jsonschema import Draft202012Validator

from tests.conftest import NvmlConfig, run_aiconsole


def test_a_healthy_machine_exits_0(gpu_env: dict[str, str], nvml_config: NvmlConfig) -> None:
    nvml_config.set(device_count=2).gpu(0).gpu(1)
    code, stdout, stderr = run_aiconsole("health", env=gpu_env)
    assert code == 0, stderr
    assert stdout.splitlines()[0] == "health: ok, 0 critical, 0 warning"


def test_a_lost_gpu_is_critical_exit_2_in_text_json_and_snapshot(
    gpu_env: dict[str, str], nvml_config: NvmlConfig
) -> None:
    nvml_config.set(device_count=2).gpu(0).gpu(1, lost=1)
    code, stdout, stderr = run_aiconsole("health", env=gpu_env)
    assert code == 2, stderr
    lines = stdout.splitlines()
    assert lines[0] == "health: critical, 1 critical, 0 warning"
    # The local host is named as it names itself.
    assert lines[1].split()[:3] == ["CRITICAL", socket.gethostname(), "gpu/1"]
    assert "GPU lost on GPU 1  -> drain  incident " in lines[1]

    code, stdout, _ = run_aiconsole("health", "--json", env=gpu_env)
    assert code == 2
    report = json.loads(stdout)
    schema = json.loads(run_aiconsole("schema", "--health", env=gpu_env)[1])
    Draft202012Validator.check_schema(schema)
    assert list(Draft202012Validator(schema).iter_errors(report)) == []
    assert (report["status"], report["exit_code"]) == ("critical", 2)
    (finding,) = report["findings"]
    assert (finding["rule"], finding["subject"]) == (
        "gpu.lost",
        {"kind": "gpu", "host": socket.gethostname(), "cluster": None, "name": "1"},
    )

    _, stdout, _ = run_aiconsole("snapshot", "--json", env=gpu_env)
    assert [f["rule"] for f in json.loads(stdout)["findings"]] == ["gpu.lost"]


def test_a_health_table_in_the_config_is_validated(
    no_gpu_env: dict[str, str], tmp_path: object
) -> None:
    from pathlib import Path

    config = Path(str(tmp_path)) / "config.toml"
    config.write_text("[health]\nidle_minutes = -5\n")
    code, _, stderr = run_aiconsole("--config", str(config), "health", env=no_gpu_env)
    assert code == 1
    assert "idle_minutes must be a finite number >= 0" in stderr and "Traceback" not in stderr
