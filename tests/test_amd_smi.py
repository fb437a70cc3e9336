"""What sysfs lacks on an AMD node, from amd-smi (or rocm-smi): XGMI links and ECC per block.

The tool's answers are recorded MI300X outputs in both layouts amd-smi has printed (a bare
list up to 24.x, lists under keys from ROCm 6.4 on); the tool itself is a stand-in script that
prints them, found on the probe's PATH search like the real one.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from aiconsole.model import EccBlock, HostState
from aiconsole.probe.amd_smi import (
    AMD_SMI_INTERVAL_S,
    AmdSmiReader,
    parse_list,
    parse_metric,
    parse_rocm_smi_xgmi_errors,
    parse_xgmi,
)
from aiconsole.store import FleetStore
from tests.recorded_hosts import FIXTURES, amd_smi, mi300x_node, stand_in
from tests.synthetic import NOW
from tests.test_every_accelerator import snapshot_json

RECORDED = FIXTURES / "amd-smi"
BUS_IDS = ["0000:0c:00.0", "0000:22:00.0", "0000:38:00.0", "0000:5c:00.0"]
BUS_IDS += ["0000:9f:00.0", "0000:af:00.0", "0000:bf:00.0", "0000:df:00.0"]


def recorded(name: str) -> str:
    return (RECORDED / name).read_text()


# ---- the outputs, in each version's layout ----------------------------------------------------


def test_both_metric_layouts_read_the_same() -> None:
    wrapped, bare = parse_metric(recorded("metric.json")), parse_metric(recorded("metric-24.json"))
    assert wrapped == bare and sorted(wrapped) == list(range(8))
    umc = wrapped[5]["ecc_blocks"][0]
    assert umc == {"block": "UMC", "correctable": 12, "uncorrectable": 1, "deferred": 2}
    assert [b["block"] for b in wrapped[0]["ecc_blocks"]] == [
        "UMC",
        "SDMA",
        "GFX",
        "MMHUB",
        "XGMI_WAFL",
    ]
    assert (wrapped[6]["xgmi_error"], wrapped[0]["xgmi_error"]) == ("multiple", "none")


def test_xgmi_links_in_both_layouts_and_port_status_where_reported() -> None:
    old, new = parse_xgmi(recorded("xgmi-24.json")), parse_xgmi(recorded("xgmi.json"))
    assert sorted(old) == sorted(new) == BUS_IDS
    for bus_id in BUS_IDS:
        assert old[bus_id]["links"] == new[bus_id]["links"]
    first = new[BUS_IDS[0]]["links"]
    assert [link["peer_bus_id"] for link in first] == BUS_IDS[1:]  # not itself
    assert first[0]["read_bytes"] == (1048576 + 4096) * 1024  # KB on the wire
    assert (first[0]["bit_rate_gbps"], first[0]["max_bandwidth_gbps"]) == (32.0, 512.0)
    assert len(new[BUS_IDS[6]]["links"]) == 6  # its link to GPU 7 carries nothing
    assert new[BUS_IDS[6]]["ports"] == ["up"] * 7 + ["down"]
    assert "ports" not in old[BUS_IDS[6]]  # 24.x has no link status


def test_gpu_numbers_map_to_pci_addresses_and_rocm_smi_errors_to_cards() -> None:
    assert parse_list(recorded("list.json")) == dict(enumerate(BUS_IDS))
    errors = parse_rocm_smi_xgmi_errors(recorded("rocm-smi-xgmierr.json"))
    assert errors["card6"] == "multiple" and errors["card0"] == "none"


@pytest.mark.parametrize(
    "text", ["", "not json", "[1, 2]", '{"gpu_data": "N/A"}', '[{"gpu": "x", "ecc_blocks": 3}]']
)
def test_malformed_output_reads_as_nothing(text: str) -> None:
    assert parse_metric(text) == {} and parse_xgmi(text) == {} and parse_list(text) == {}
    assert parse_rocm_smi_xgmi_errors(text) == {}


def test_na_counts_are_none_not_zero() -> None:
    text = json.dumps(
        [{"gpu": 0, "ecc_blocks": {"UMC": {"correctable_count": "N/A"}}, "xgmi_err": "N/A"}]
    )
    (block,) = parse_metric(text)[0]["ecc_blocks"]
    assert block == {"block": "UMC", "correctable": None, "uncorrectable": None, "deferred": None}
    assert parse_metric(text)[0]["xgmi_error"] is None


# ---- the reader: when it runs the tool, and what it says when it cannot ----------------------


class Tools:
    """Answers the reader's commands from the recorded files, and counts them."""

    def __init__(self, answers: dict[str, tuple[int, str]]) -> None:
        self.answers = answers
        self.asked: list[list[str]] = []

    def __call__(self, argv: list[str], timeout_s: float) -> tuple[int, str]:
        self.asked.append(argv)
        assert timeout_s <= 10  # every run has a deadline
        return self.answers.get(argv[1], (2, "amd-smi: error: invalid choice"))


def sysfs_gpus() -> list[dict[str, Any]]:
    return [
        {"index": i, "bus_id": bus_id, "ras_errors": {"umc": [0, 3]}, "unavailable": {}}
        for i, bus_id in enumerate(BUS_IDS)
    ]


AMD_SMI = {
    "list": (0, recorded("list.json")),
    "metric": (0, recorded("metric.json")),
    "xgmi": (0, recorded("xgmi.json")),
}


def test_amd_smi_runs_every_interval_and_is_repeated_in_between() -> None:
    clock = [0.0]
    tools = Tools(AMD_SMI)
    reader = AmdSmiReader(lambda name: "/opt/rocm/bin/" + name, tools, lambda: clock[0])
    names = [f"card{i}" for i in range(8)]
    for _ in range(3):
        gpus = sysfs_gpus()
        reader.add_to(gpus, names)
        clock[0] += 1.0
    assert [argv[1] for argv in tools.asked] == ["list", "metric", "xgmi"]
    assert gpus[5]["ecc_blocks"][0]["deferred"] == 2 and gpus[6]["xgmi_error"] == "multiple"
    assert len(gpus[0]["xgmi_links"]) == 7 and gpus[0]["unavailable"] == {}
    clock[0] = AMD_SMI_INTERVAL_S + 1
    reader.add_to(sysfs_gpus(), names)
    assert [argv[1] for argv in tools.asked] == ["list", "metric", "xgmi", "metric", "xgmi"]


def test_a_failing_amd_smi_leaves_sysfs_ecc_and_says_why() -> None:
    tools = Tools({"list": (0, recorded("list.json")), "metric": (-1, "")})
    tools.answers["metric"] = (-1, "amd-smi did not answer within 8 s")
    reader = AmdSmiReader(lambda name: "/usr/bin/" + name, tools, lambda: 0.0)
    gpus = sysfs_gpus()
    reader.add_to(gpus, [f"card{i}" for i in range(8)])
    gpu = gpus[0]
    assert gpu["ecc_blocks"] == [{"block": "UMC", "correctable": 3, "uncorrectable": 0}]
    assert gpu["unavailable"]["ecc_deferred"] == "amd-smi metric: amd-smi did not answer within 8 s"
    assert gpu["xgmi_error"] is None and "within 8 s" in gpu["unavailable"]["xgmi_error"]
    assert gpu["xgmi_links"] == [] and "within 8 s" in gpu["unavailable"]["xgmi_links"]


def test_rocm_smi_gives_the_xgmi_error_status_only() -> None:
    tools = Tools({"--showxgmierr": (0, recorded("rocm-smi-xgmierr.json"))})

    def find(name: str) -> str | None:
        return "/opt/rocm/bin/rocm-smi" if name == "rocm-smi" else None

    reader = AmdSmiReader(find, tools, lambda: 0.0)
    gpus = sysfs_gpus()
    reader.add_to(gpus, [f"card{i}" for i in range(8)])
    assert tools.asked == [["/opt/rocm/bin/rocm-smi", "--showxgmierr", "--json"]]
    assert gpus[6]["xgmi_error"] == "multiple" and gpus[0]["xgmi_error"] == "none"
    assert "amd-smi does" in gpus[0]["unavailable"]["xgmi_links"]


def test_without_either_tool_every_field_says_why() -> None:
    reader = AmdSmiReader(lambda name: None, Tools({}), lambda: 0.0)
    gpus = sysfs_gpus()
    gpus[1]["ras_errors"] = None
    reader.add_to(gpus, [f"card{i}" for i in range(8)])
    reason = "neither amd-smi nor rocm-smi is installed"
    assert gpus[0]["unavailable"]["xgmi_links"] == reason
    assert gpus[1]["ecc_blocks"] is None
    assert gpus[1]["unavailable"]["ecc_blocks"] == reason + "; no sysfs RAS counters either"


# ---- the probe and snapshot --json ----------------------------------------------------------


def test_the_probe_reads_xgmi_and_ecc_blocks_through_the_stand_in(tmp_path: Path) -> None:
    gpus = mi300x_node(tmp_path).gpu.gpus
    assert [gpu.bus_id for gpu in gpus] == BUS_IDS
    fifth = gpus[5]
    assert fifth.ecc_blocks is not None
    assert fifth.ecc_blocks[0] == EccBlock(block="UMC", correctable=12, uncorrectable=1, deferred=2)
    assert [link.peer_bus_id for link in gpus[0].xgmi_links] == BUS_IDS[1:]
    assert gpus[6].xgmi_error == "multiple" and gpus[6].xgmi_ports[-1] == "down"
    assert not {"xgmi_links", "xgmi_error", "ecc_blocks"} & set(gpus[0].unavailable)


def test_an_older_amd_smi_reads_the_same_without_port_status(tmp_path: Path) -> None:
    old = amd_smi(tmp_path / "bin-old", xgmi="xgmi-24.json", metric="metric-24.json")
    gpus = mi300x_node(tmp_path, tools={"amd-smi": old}).gpu.gpus
    assert gpus[5].ecc_blocks is not None and gpus[5].ecc_blocks[0].deferred == 2
    assert len(gpus[0].xgmi_links) == 7 and gpus[0].xgmi_ports == ()
    assert gpus[0].unavailable["xgmi_ports"] == "not reported by amd-smi"


def test_an_amd_smi_that_hangs_costs_its_deadline_once_and_the_gpus_still_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from aiconsole.probe import amd_smi as module

    monkeypatch.setattr(module, "AMD_SMI_TIMEOUT_S", 0.2)
    hung = stand_in(tmp_path / "bin-hung", "amd-smi", "exec sleep 5\n")
    gpus = mi300x_node(tmp_path, tools={"amd-smi": hung}).gpu.gpus
    assert len(gpus) == 8 and gpus[0].util_gpu_percent is not None
    assert gpus[0].ecc_blocks is not None  # from sysfs
    reason = gpus[0].unavailable["xgmi_links"]
    assert reason.startswith("amd-smi list: ") and reason.endswith("did not answer within 0.2 s")


def test_snapshot_json_has_the_xgmi_links_and_ecc_blocks(tmp_path: Path) -> None:
    store = FleetStore(clock=lambda: NOW)
    sample = mi300x_node(tmp_path)
    store.put(HostState(name="mi300x01", status="ok", received_at=NOW, sample=sample))
    (host,) = snapshot_json(store)["hosts"]
    gpu = host["sample"]["gpu"]["gpus"][5]
    assert gpu["ecc_blocks"][0] == {
        "block": "UMC",
        "correctable": 12,
        "uncorrectable": 1,
        "deferred": 2,
    }
    link = host["sample"]["gpu"]["gpus"][0]["xgmi_links"][0]
    assert link["peer_bus_id"] == BUS_IDS[1] and link["max_bandwidth_gbps"] == 512.0
    assert host["sample"]["gpu"]["gpus"][6]["xgmi_ports"][-1] == "down"
