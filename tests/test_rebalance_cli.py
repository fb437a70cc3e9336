"""``aiconsole rebalance`` without a cluster to reach: its options, what it refuses before
touching Slurm, and the Kubernetes hand-off when this build has none."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from aiconsole.cli import main
from aiconsole.cli_parsers import build_parser
from tests.conftest import run_aiconsole


def test_the_policy_is_required_and_named() -> None:
    with pytest.raises(SystemExit) as exit_:
        build_parser().parse_args(["rebalance"])
    assert exit_.value.code == 64
    with pytest.raises(SystemExit):
        build_parser().parse_args(["rebalance", "--policy", "tidy"])
    args = build_parser().parse_args(["rebalance", "--policy", "idle", "--slurm", "ctl"])
    assert (args.idle_util, args.idle_minutes, args.idle_action) == (1.0, 30.0, "notify")
    assert (args.yes, args.execute, args.dry_run) == (False, False, False)


def test_kubernetes_needs_its_module_and_says_so_in_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "aiconsole.cli_rebalance_kube", None)  # not in this build
    config = tmp_path / "c.toml"
    config.write_text("")
    code = main(["--config", str(config), "rebalance", "--policy", "hot", "--context", "kind"])
    assert code == 64
    assert capsys.readouterr().err == (
        "aiconsole: error: rebalance on Kubernetes is not available in this build\n"
    )


def test_a_host_that_would_be_an_option_is_refused_before_anything_runs(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text("")
    code, _stdout, stderr = run_aiconsole(
        "--config", str(config), "rebalance", "--policy", "defrag",
        "--slurm=-oProxyCommand=touch x", env=dict(os.environ),
    )  # fmt: skip
    assert code == 1, stderr
    assert stderr.startswith("aiconsole: error: invalid Slurm host '-oProxyCommand=touch x'")
    assert stderr.count("\n") == 1


def test_viewer_and_read_only_are_refused_when_acting(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text('[settings]\nrole = "viewer"\n[clusters]\nestate = "nowhere"\n')
    for extra in ((), ("--read-only",)):
        code, _stdout, stderr = run_aiconsole(
            "--config", str(config), *extra, "rebalance", "--policy", "defrag", "--yes",
            env=dict(os.environ),
        )  # fmt: skip
        assert code == 3, stderr
        assert stderr.startswith("aiconsole: refused: ")
