"""Diagnosis: dcgmi's JSON judged in both of its layouts, and ``aiconsole diagnose`` as an
audited action running a stand-in ``dcgmi`` that prints recorded documents."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from aiconsole.health.dcgm import parse_diag
from tests.conftest import FIXTURES, run_aiconsole

DCGMI = FIXTURES / "dcgmi"
FAKE = Path(__file__).parent / "fakedcgmi"


def test_a_passing_r1_document_passes_with_skips_allowed() -> None:
    diagnosis = parse_diag((DCGMI / "r1-pass.json").read_text())
    assert diagnosis.verdict == "pass"
    assert diagnosis.version == "3.3.5"
    assert [t.status for t in diagnosis.tests].count("skip") == 1
    assert diagnosis.summary() == "pass (9 results)"


def test_failures_name_the_test_the_gpu_and_dcgm_s_words() -> None:
    diagnosis = parse_diag((DCGMI / "r2-fail.json").read_text())
    assert diagnosis.verdict == "fail"
    assert [(t.name, t.category, t.gpus) for t in diagnosis.failures] == [
        ("PCIe", "Integration", "3"),
        ("GPU Memory", "Hardware", "3"),
    ]
    assert "double-bit ECC" in diagnosis.failures[1].messages[0]
    assert diagnosis.summary() == "fail: PCIe on GPU 3; GPU Memory on GPU 3"


def test_the_4x_layout_is_read_too() -> None:
    diagnosis = parse_diag((DCGMI / "v4-fail.json").read_text())
    assert [(t.name, t.gpus, t.status) for t in diagnosis.tests] == [
        ("software", "0", "pass"),
        ("memory", "4", "pass"),
        ("memory", "5", "fail"),
    ]
    assert diagnosis.failures[0].messages == ("Uncorrectable ECC errors found on GPU 5",)


@pytest.mark.parametrize(
    "text",
    ["", "Error: unable to connect to host engine", "[]", '{"DCGM GPU Diagnostic": {}}',
     '{"tests": [{"name": "x", "results": [{"status": "Exploded"}]}]}'],
)  # fmt: skip
def test_nothing_judgeable_is_unknown_never_pass(text: str) -> None:
    assert parse_diag(text).verdict == "unknown"


def test_text_before_the_document_and_hostile_messages() -> None:
    document = {"DCGM GPU Diagnostic": {"test_categories": [{"category": "Hardware", "tests": [
        {"name": "Memory\x1b]52;c;aGk=\x07", "results": [
            {"gpu_ids": "0", "status": "Fail", "warnings": ["\x1b[2Jbad [/x]"]}]}]}]}}  # fmt: skip
    diagnosis = parse_diag("WARNING: a banner\n" + json.dumps(document))
    (test,) = diagnosis.failures
    assert "\x1b" not in test.name and "\x1b" not in test.messages[0]
    assert test.messages[0].endswith("bad [/x]")


def diagnose_env(tmp_path: Path, document: str, status: int) -> dict[str, str]:
    env = dict(os.environ)
    env["PATH"] = os.pathsep.join([str(FAKE), env.get("PATH", os.defpath)])
    env["FAKE_DCGMI_OUTPUT"] = str(DCGMI / document)
    env["FAKE_DCGMI_STATUS"] = str(status)
    env["FAKE_DCGMI_ARGS"] = str(tmp_path / "dcgmi-args")
    env["XDG_STATE_HOME"] = str(tmp_path / "state")
    env["AICONSOLE_CONFIG"] = str(tmp_path / "config.toml")
    (tmp_path / "config.toml").write_text("")
    return env


def audit_records(tmp_path: Path) -> list[dict[str, object]]:
    log = tmp_path / "state" / "aiconsole" / "audit.jsonl"
    return [json.loads(line) for line in log.read_text().splitlines()]


def test_diagnose_passes_and_is_audited(tmp_path: Path) -> None:
    env = diagnose_env(tmp_path, "r1-pass.json", 0)
    code, stdout, stderr = run_aiconsole(
        "diagnose", "local", "--yes", "--reason", "xid 79", env=env
    )
    assert code == 0, stderr
    assert "local: pass (9 results) (exit status 0; output in " in stdout
    assert (tmp_path / "dcgmi-args").read_text() == "diag -r 1 -j\n"
    intent, outcome = audit_records(tmp_path)
    assert (intent["phase"], intent["action"], intent["reason"]) == ("intent", "diagnose", "xid 79")
    assert (outcome["phase"], outcome["ok"]) == ("outcome", True)
    saved = next((tmp_path / "state" / "aiconsole" / "diagnoses").iterdir())
    assert json.loads(saved.read_text())["DCGM GPU Diagnostic"]["version"] == "3.3.5"


def test_a_failing_diagnosis_exits_4_names_the_failures_and_is_audited_as_not_ok(
    tmp_path: Path,
) -> None:
    env = diagnose_env(tmp_path, "r2-fail.json", 1)
    (tmp_path / "config.toml").write_text('[health]\ndiagnose = "dcgmi diag -r 2 -j"\n')
    code, stdout, _ = run_aiconsole("diagnose", "local", "--yes", env=env)
    assert code == 4
    assert "FAIL PCIe GPU 3" in stdout and "FAIL GPU Memory GPU 3" in stdout
    assert (tmp_path / "dcgmi-args").read_text() == "diag -r 2 -j\n"
    _, outcome = audit_records(tmp_path)
    assert outcome["ok"] is False
    (result,) = outcome["results"]  # type: ignore[misc]
    assert result["state"] == "fail"


def test_dry_run_viewer_and_bad_host_do_nothing(tmp_path: Path) -> None:
    env = diagnose_env(tmp_path, "r1-pass.json", 0)
    code, stdout, _ = run_aiconsole("diagnose", "local", "--dry-run", env=env)
    assert code == 0 and "dry run: nothing was done" in stdout
    (tmp_path / "config.toml").write_text('[settings]\nrole = "viewer"\n')
    code, _, stderr = run_aiconsole("diagnose", "local", "--yes", env=env)
    assert code == 3 and "refused" in stderr
    # A host name that ssh would read as an option never reaches a runner.
    code, _, stderr = run_aiconsole("diagnose", "--yes", "--", "-oProxyCommand=x", env=env)
    assert code == 1 and "Traceback" not in stderr, stderr
    assert not (tmp_path / "dcgmi-args").exists()
    assert not (tmp_path / "state" / "aiconsole" / "audit.jsonl").exists()
