"""The command line contract: snapshot --json, schema, exit codes, headless imports."""

from __future__ import annotations

import json
import subprocess
import sys

import msgspec
from jsonschema import Draft202012Validator

from aiconsole.model import SCHEMA_VERSION, FleetSnapshot
from tests.conftest import NvmlConfig, run_aiconsole


def test_snapshot_json_validates_against_the_published_schema(
    gpu_env: dict[str, str], nvml_config: NvmlConfig
) -> None:
    nvml_config.set(device_count=2).gpu(0).gpu(1, temperature="!3", lost=0)
    code, schema_text, _ = run_aiconsole("schema", env=gpu_env)
    assert code == 0
    schema = json.loads(schema_text)
    Draft202012Validator.check_schema(schema)
    code, stdout, stderr = run_aiconsole("snapshot", "--json", env=gpu_env)
    assert code == 0, stderr
    document = json.loads(stdout)
    errors = list(Draft202012Validator(schema).iter_errors(document))
    assert errors == []
    assert document["schema_version"] == SCHEMA_VERSION
    # And back: the JSON decodes into the model unchanged.
    snapshot = msgspec.json.decode(stdout, type=FleetSnapshot)
    assert json.loads(msgspec.json.encode(snapshot)) == document


def test_schema_rejects_a_document_of_the_wrong_shape(no_gpu_env: dict[str, str]) -> None:
    schema = json.loads(run_aiconsole("schema", env=no_gpu_env)[1])
    bad = {"schema_version": 1, "generated_at": 1.0, "hosts": [{"name": "x", "status": "exploded"}]}
    assert list(Draft202012Validator(schema).iter_errors(bad))


def test_snapshot_has_rates_by_default_and_none_without_a_window(
    no_gpu_env: dict[str, str],
) -> None:
    _, stdout, _ = run_aiconsole("snapshot", "--json", env=no_gpu_env)
    cpu = json.loads(stdout)["hosts"][0]["sample"]["cpu"]
    assert cpu["total_percent"] is not None
    _, stdout, _ = run_aiconsole("snapshot", "--json", "--window", "0", env=no_gpu_env)
    cpu = json.loads(stdout)["hosts"][0]["sample"]["cpu"]
    assert cpu["total_percent"] is None
    assert cpu["unavailable"]["total_percent"].startswith("first sample")


def test_snapshot_text_output(no_gpu_env: dict[str, str]) -> None:
    code, stdout, _ = run_aiconsole("snapshot", env=no_gpu_env)
    assert code == 0
    header, row = stdout.splitlines()[:2]
    assert header.split()[:2] == ["HOST", "STATUS"]
    assert row.split()[1] == "ok"


def test_bad_arguments_give_one_line_errors_not_tracebacks(no_gpu_env: dict[str, str]) -> None:
    code, _, stderr = run_aiconsole("snapshot", "--window", "-1", env=no_gpu_env)
    assert code == 64  # a usage error (EX_USAGE), never mistaken for a degraded fleet (2)
    assert stderr.strip() == "aiconsole: error: --window must be >= 0"
    code, _, stderr = run_aiconsole("--interval", "0", env=no_gpu_env)
    assert code == 64 and "Traceback" not in stderr and "--interval" in stderr


def test_snapshot_and_schema_never_import_textual(no_gpu_env: dict[str, str]) -> None:
    script = (
        "import sys\n"
        "from aiconsole.cli import main\n"
        "assert main(['snapshot', '--json', '--window', '0']) == 0\n"
        "assert main(['schema']) == 0\n"
        "import aiconsole.collectors.local, aiconsole.probe, aiconsole.store, aiconsole.actions\n"
        "loaded = sorted(m for m in sys.modules if m.split('.')[0] in ('textual', 'rich'))\n"
        "print(loaded, file=sys.stderr)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], env=no_gpu_env, capture_output=True, text=True, check=True
    )
    assert result.stderr.strip() == "[]"
    assert json.loads(result.stdout.splitlines()[0])["hosts"]  # it did print a snapshot


def test_bad_action_targets_are_refused_before_any_contact(no_gpu_env: dict[str, str]) -> None:
    # "--slurm nowhere.invalid" would fail to connect: the names are refused before that.
    for args, message in (
        (["drain", "n1;reboot", "--reason", "x"], "is not a valid host name"),
        (["requeue", "1;id"], "invalid job id"),
        (["drain", "n1", "--reason", "a\nb"], "control characters"),
    ):
        code, _, stderr = run_aiconsole(*args, "--slurm", "nowhere.invalid", env=no_gpu_env)
        assert code == 1
        assert message in stderr and "Traceback" not in stderr


def test_read_only_refuses_to_act(no_gpu_env: dict[str, str]) -> None:
    code, _, stderr = run_aiconsole(
        "drain", "n1", "--reason", "x", "--read-only", "--slurm", "local", env=no_gpu_env
    )
    assert code == 3 and "read-only" in stderr
