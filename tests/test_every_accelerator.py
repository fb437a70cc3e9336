"""One fleet of an AMD MI300X node, an Intel Gaudi 2 node and an NVIDIA node, each read by the
real probe sampler (recorded sysfs trees, a stand-in hl-smi on PATH, the stand-in NVML), side
by side in one snapshot: every accelerator's utilisation, memory, temperature, power and
errors; NVMe wear and media errors and a hung NFS mount, on the host screen and in
``snapshot --json``."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgspec
import pytest
from textual.pilot import Pilot
from textual.widgets import DataTable

from aiconsole.health import judge
from aiconsole.model import HostState, json_schema
from aiconsole.screens.host import HostScreen
from aiconsole.store import FleetStore
from tests.conftest import NvmlConfig
from tests.recorded_hosts import HUNG_MOUNT, gaudi_node, mi300x_node, nvidia_node
from tests.synthetic import NOW
from tests.test_host_screen_whole import columns
from tests.test_screens import fleet_rows, on_screen, static_app, wait_for

# What every accelerator must say: a value, or None with the reason beside it.
MEASURES = (
    "util_gpu_percent",
    "memory_used_bytes",
    "memory_total_bytes",
    "temperature_c",
    "power_draw_w",
    "ecc_uncorrected_volatile",
    "ecc_corrected_volatile",
)
HOSTS = {"mi300x01": "amd", "gaudi01": "intel", "h100n01": "nvidia"}


@pytest.fixture
def store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, nvml_in_process: NvmlConfig
) -> FleetStore:
    nvml_in_process.set(device_count=4)
    for index in range(4):
        nvml_in_process.gpu(index, ecc_uncorrected_volatile=2 if index == 3 else 0)
    store = FleetStore(clock=lambda: NOW)
    for sample in (
        mi300x_node(tmp_path),
        gaudi_node(tmp_path, monkeypatch),
        nvidia_node(tmp_path),
    ):
        name = sample.identity.name
        store.put(HostState(name=name, status="ok", received_at=NOW - 0.4, sample=sample))
    return store


def snapshot_json(store: FleetStore) -> dict[str, Any]:
    """As ``aiconsole snapshot --json`` writes it."""
    snapshot = store.snapshot()
    snapshot = msgspec.structs.replace(snapshot, findings=judge(snapshot))
    document: dict[str, Any] = json.loads(msgspec.json.encode(snapshot))
    return document


def test_every_vendor_side_by_side_in_snapshot_json(store: FleetStore) -> None:
    hosts = {host["name"]: host for host in snapshot_json(store)["hosts"]}
    assert set(hosts) == set(HOSTS)
    for name, vendor in HOSTS.items():
        gpus = hosts[name]["sample"]["gpu"]["gpus"]
        assert gpus and {gpu["vendor"] for gpu in gpus} == {vendor}
        for gpu in gpus:
            for field in MEASURES:
                assert gpu[field] is not None or field in gpu["unavailable"], (name, field)
        for field in MEASURES:  # and each measure is really there, not only explained
            assert any(gpu[field] is not None for gpu in gpus), (name, field)
    errors = {
        name: [gpu["ecc_uncorrected_volatile"] for gpu in host["sample"]["gpu"]["gpus"]]
        for name, host in hosts.items()
    }
    assert errors == {"mi300x01": [0] * 5 + [1, 0, 0], "gaudi01": [0] * 4 + [2, 0, 0, 0],
                      "h100n01": [0, 0, 0, 2]}  # fmt: skip


def test_nvme_wear_and_a_hung_nfs_mount_in_snapshot_json(store: FleetStore) -> None:
    sample = next(h for h in snapshot_json(store)["hosts"] if h["name"] == "mi300x01")["sample"]
    worn = next(drive for drive in sample["nvme"] if drive["name"] == "nvme1")
    assert worn["health"]["percentage_used"] == 104 and worn["health"]["media_errors"] == 211
    mounts = {mount["mount"]: mount for mount in sample["shared_filesystems"]}
    assert mounts[HUNG_MOUNT]["hung"] is True and mounts[HUNG_MOUNT]["answering"] is False
    assert mounts["/home"]["rtt_ms"] is not None


def test_the_schema_documents_the_new_fields() -> None:
    schema = json.dumps(json_schema())
    fields = ("vendor", "ras_errors", "workload", "gpu_util_percent", "sources", "nvme",
              "percentage_used", "shared_filesystems", "hung", "statvfs_ms", "rtt_ms")  # fmt: skip
    for field in fields:
        assert f'"{field}"' in schema, field


async def test_the_host_screen_shows_every_vendor_and_storage(store: FleetStore) -> None:
    app = static_app(store)
    async with app.run_test(size=(160, 120)) as pilot:

        async def table(host: str, key: str) -> list[dict[str, str]]:
            app.open_host(host)
            await wait_for(pilot, on_screen(app, HostScreen))
            await wait_for(
                pilot, lambda: app.screen.query_one(f"#{key}-table", DataTable).row_count > 0
            )
            rows = columns(app.screen.query_one(f"#{key}-table", DataTable))
            app.pop_screen()
            await pilot.pause()
            return rows

        amd = await table("mi300x01", "gpus")
        assert {row["Name"] for row in amd} == {"AMD Instinct MI300X OAM"}
        assert amd[5]["Temp"] != "–" and amd[5]["Power"] != "–"
        health = await table("mi300x01", "gpu-health")
        assert health[5]["ECC c/u"] == "12/1 UMC"  # the block: amd-smi's ECC per block
        assert (health[0]["Links"], health[6]["Links"]) == ("8/8", "7/8")  # XGMI ports up
        gaudi = await table("gaudi01", "gpus")
        assert {row["Name"] for row in gaudi} == {"Intel HL-225"}
        nvidia = await table("h100n01", "gpus")
        assert {row["Name"] for row in nvidia} == {"H100 80GB HBM3"}
        processes = await table("mi300x01", "processes")
        job = next(row for row in processes if row["PID"] == "5151")
        assert job["Job / pod"] == "job 81234.0" and job["GPU %"] == "0%"
        drives = {row["Drive"]: row for row in await table("mi300x01", "nvme")}
        assert drives["nvme1"]["Used"] == "104%" and drives["nvme1"]["Media err"] == "211"
        assert drives["nvme1"]["Warnings"] == "spare below threshold, reliability degraded"
        assert drives["nvme0"]["Power-on h"] == "17320"
        mounts = {row["Mount"]: row for row in await table("mi300x01", "shared-fs")}
        assert mounts[HUNG_MOUNT]["State"] == "HUNG"
        assert mounts["/home"]["State"] in ("answering", "retransmitting")
        assert mounts["/lustre"]["Read"] != "–"


async def test_the_fleet_lists_every_vendors_node_with_its_gpus(store: FleetStore) -> None:
    app = static_app(store)
    async with app.run_test(size=(160, 40)) as pilot:
        await pilot.pause()
        rows = {row[0]: row for row in fleet_rows(app)}
        assert {name: row[1] for name, row in rows.items()} == dict.fromkeys(HOSTS, "ok")
        assert {name: row[6] for name, row in rows.items()} == {
            "mi300x01": "8",
            "gaudi01": "8",
            "h100n01": "4",
        }


def test_mi300x_host_screen_snapshot(tmp_path: Path, snap_compare: Callable[..., bool]) -> None:
    store = FleetStore(clock=lambda: NOW)
    sample = mi300x_node(tmp_path)
    store.put(HostState(name="mi300x01", status="ok", received_at=NOW - 0.4, sample=sample))

    async def open_host(pilot: Pilot[Any]) -> None:
        await pilot.pause()
        pilot.app.open_host("mi300x01")  # type: ignore[attr-defined]
        await pilot.pause()
        await pilot.pause()

    assert snap_compare(
        static_app(store, once=True), terminal_size=(130, 100), run_before=open_host
    )
