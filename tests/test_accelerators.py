"""AMD Instinct, Intel Gaudi, NVMe and shared-filesystem readers over recorded trees and
outputs (tests/fixtures/ACCELERATORS.md says what was typed and from which source)."""

from __future__ import annotations

import os
import shutil
import struct
from pathlib import Path

import pytest

from aiconsole import probe
from aiconsole.probe import amd
from aiconsole.probe.drm_clients import DrmClients, parse_fdinfo
from aiconsole.probe.gaudi import GaudiReader
from aiconsole.probe.mounts import SharedFilesystems, parse_mountstats
from aiconsole.probe.nvme import NvmeReader, parse_cli_json, parse_smart_log
from tests.conftest import FIXTURES


class TreeHost(probe.Host):
    """The probe's view of a host, over a recorded tree (symlinks kept as in /proc)."""

    def readlink(self, relative: str) -> str | None:
        try:
            return os.readlink(self.path(relative))
        except OSError:
            return None


MI300X = TreeHost(str(FIXTURES / "amd-mi300x"))


def test_mi300x_node_reads_eight_gpus_in_card_order_with_nvidia_field_names() -> None:
    gpus = amd.read_all(MI300X)
    assert [g["index"] for g in gpus] == list(range(8))
    first = gpus[0]
    assert (first["vendor"], first["name"], first["bus_id"]) == (
        "amd",
        "AMD Instinct MI300X OAM",
        "0000:0c:00.0",
    )
    assert first["util_gpu_percent"] == 97 and first["util_memory_percent"] == 35
    assert first["memory_total_bytes"] == 205822885888
    assert first["memory_used_bytes"] == 150 * 1024**3 + 287309824
    assert (first["sm_clock_mhz"], first["sm_clock_max_mhz"]) == (1786, 2100)
    assert (first["memory_clock_mhz"], first["memory_clock_max_mhz"]) == (1300, 1300)
    assert (first["power_draw_w"], first["power_limit_w"]) == (612.0, 750.0)
    assert (first["pcie_link_gen"], first["pcie_link_width"]) == (5, 16)
    assert first["uuid"] == "5a3c0e7f21b40000" and first["serial"] == "692251001000"


def test_mi300x_has_no_edge_sensor_so_temperature_is_the_junction_and_says_so() -> None:
    gpu = amd.read_all(MI300X)[5]
    assert (gpu["temperature_c"], gpu["temperature_junction_c"], gpu["temperature_memory_c"]) == (
        89.0,
        89.0,
        66.0,
    )
    assert "no edge sensor" in gpu["unavailable"]["temperature_edge_c"]


def test_ras_errors_are_summed_into_the_ecc_fields_and_kept_per_block() -> None:
    gpus = amd.read_all(MI300X)
    assert (gpus[5]["ecc_uncorrected_volatile"], gpus[5]["ecc_corrected_volatile"]) == (1, 12)
    assert gpus[5]["ras_errors"]["umc"] == [1, 12]
    assert (gpus[0]["ecc_uncorrected_volatile"], gpus[0]["ecc_corrected_volatile"]) == (0, 0)
    assert gpus[6]["pcie_link_width"] == 8 and gpus[6]["pcie_link_width_max"] == 16
    assert gpus[3]["sm_clock_mhz"] == 500  # idle: lowest level marked


def test_missing_files_are_none_with_a_reason(tmp_path: Path) -> None:
    root = tmp_path / "root"
    shutil.copytree(FIXTURES / "amd-mi300x", root, symlinks=True)
    device = root / "sys/class/drm/card0/device"
    for name in ("mem_busy_percent", "pp_dpm_sclk"):
        (device / name).unlink()
    shutil.rmtree(device / "hwmon")
    shutil.rmtree(device / "ras")
    gpu = amd.read_all(TreeHost(str(root)))[0]
    for field in (
        "util_memory_percent",
        "sm_clock_mhz",
        "power_draw_w",
        "temperature_c",
        "ecc_uncorrected_volatile",
    ):
        assert gpu[field] is None and gpu["unavailable"][field], field


@pytest.mark.parametrize(
    ("table", "expected"),
    [
        ("0: 500Mhz\n1: 800Mhz *\n2: 2100Mhz\n", (800, 2100)),
        ("0: 500Mhz\n", (None, 500)),
        ("", (None, None)),
        ("garbage\n1: xMhz *\n", (None, None)),
        ("0: 96Mhz *\n", (96, 96)),
    ],
)
def test_dpm_tables(table: str, expected: tuple[int | None, int | None]) -> None:
    assert amd.parse_dpm(table) == expected


def test_fdinfo_clients_are_counted_once_per_client_with_vram_and_engine_use() -> None:
    clock = [0.0]
    clients = DrmClients(MI300X, lambda: clock[0])
    first = clients.read()
    (a,) = first["0000:0c:00.0"]  # two fds, one client
    (b,) = first["0000:af:00.0"]
    assert (a["pid"], a["memory"]["vram"]) == (4242, 157286400 * 1024)
    assert b["pid"] == 5151
    assert a["engine_percent"] is None  # a rate needs two samples
    clock[0] = 1.0
    assert clients.read()["0000:0c:00.0"][0]["engine_percent"] == 0.0  # counters unchanged


def test_fdinfo_parser_ignores_non_drm_files_and_odd_values() -> None:
    assert parse_fdinfo("pos:\t0\nflags:\t02\n") is None
    client = parse_fdinfo(
        "drm-driver:\tamdgpu\ndrm-client-id:\t3\ndrm-memory-vram:\t12 TiB\n"
        "drm-engine-gfx:\tlots ns\ndrm-engine-compute:\t10 ns\ndrm-engine-capacity-gfx:\t2\n"
    )
    assert client is not None
    assert client["memory"] == {} and client["engines"] == {"compute": 10}


def gaudi_runner(*outputs: tuple[int, str]) -> tuple[list[list[str]], object]:
    calls: list[list[str]] = []
    answers = list(outputs)

    def run(argv: list[str]) -> tuple[int, str]:
        calls.append(argv)
        return answers.pop(0)

    return calls, run


def test_gaudi2_node_through_hl_smi() -> None:
    csv = (FIXTURES / "gaudi2/hl-smi-query.csv").read_text()
    calls, run = gaudi_runner((0, csv))
    section = GaudiReader(run).read()  # type: ignore[arg-type]
    assert section["status"] == "ok" and section["source"] == "hl-smi"
    gpus = section["gpus"]
    assert len(gpus) == 8
    first = gpus[0]
    assert (first["vendor"], first["name"], first["bus_id"]) == ("intel", "HL-225", "0000:19:00.0")
    assert (first["util_gpu_percent"], first["temperature_c"], first["power_draw_w"]) == (
        87,
        41,
        512,
    )
    assert first["memory_total_bytes"] == 98304 * 1024**2
    assert (gpus[4]["ecc_uncorrected_volatile"], gpus[4]["ecc_corrected_volatile"]) == (2, 17)
    assert gpus[7]["util_gpu_percent"] is None and gpus[7]["unavailable"]["util_gpu_percent"]
    assert calls[0][0] == "hl-smi" and calls[0][-1] == "--format=csv,noheader,nounits"


def test_a_field_hl_smi_rejects_is_dropped_and_the_query_asked_again() -> None:
    rejection = (FIXTURES / "gaudi2/hl-smi-rejects-field.txt").read_text()
    rows = [
        line.rsplit(",", 1)[0]
        for line in (FIXTURES / "gaudi2/hl-smi-query.csv").read_text().splitlines()
    ]
    calls, run = gaudi_runner((1, rejection), (0, "\n".join(rows) + "\n"))
    section = GaudiReader(run).read()  # type: ignore[arg-type]
    assert section["status"] == "ok" and len(calls) == 2
    assert "ecc.errors.corrected.volatile.total" not in calls[1][1]
    gpu = section["gpus"][0]
    assert gpu["ecc_corrected_volatile"] is None
    assert "rejects" in gpu["unavailable"]["ecc_corrected_volatile"]


def test_gaudi_tool_failure_is_an_error_section() -> None:
    _, run = gaudi_runner((127, "hl-smi: command not found\n"))
    section = GaudiReader(run).read()  # type: ignore[arg-type]
    assert (section["status"], section["reason"]) == ("error", "hl-smi: command not found")


def test_nvme_cli_json_healthy_and_worn() -> None:
    healthy = parse_cli_json((FIXTURES / "nvme/smart-log-nvme0.json").read_text())
    assert healthy is not None
    assert (healthy["temperature_c"], healthy["percentage_used"], healthy["media_errors"]) == (
        36,
        3,
        0,
    )
    assert healthy["warnings"] == []
    worn = parse_cli_json((FIXTURES / "nvme/smart-log-nvme1-worn.json").read_text())
    assert worn is not None
    assert worn["warnings"] == ["spare below threshold", "reliability degraded"]
    assert (worn["available_spare_percent"], worn["percentage_used"]) == (7, 104)
    assert (worn["media_errors"], worn["unsafe_shutdowns"], worn["power_on_hours"]) == (
        211,
        301,
        41902,
    )


def test_raw_health_log_layout() -> None:
    page = bytearray(512)
    struct.pack_into("<BHBBB", page, 0, 0x04, 310, 98, 10, 12)
    struct.pack_into("<QQ", page, 160, 7, 0)  # media errors
    struct.pack_into("<QQ", page, 128, 2**64 - 1, 1)  # power-on hours past 64 bits
    log = parse_smart_log(bytes(page))
    assert log is not None
    assert (log["temperature_c"], log["available_spare_percent"], log["percentage_used"]) == (
        37,
        98,
        12,
    )
    assert log["media_errors"] == 7 and log["power_on_hours"] == 2**65 - 1
    assert log["warnings"] == ["reliability degraded"]
    assert parse_smart_log(b"\0" * 100) is None


def test_nvme_reader_without_nvme_cli_and_without_root_says_why(tmp_path: Path) -> None:
    (tmp_path / "sys/class/nvme/nvme0").mkdir(parents=True)
    (tmp_path / "sys/class/nvme/nvme0/model").write_text("SAMSUNG MZQL23T8HCLS-00A07\n")
    (tmp_path / "sys/class/nvme/nvme0/firmware_rev").write_text("GDC5602Q\n")
    reader = NvmeReader(TreeHost(str(tmp_path)), lambda argv: (1, ""), is_root=False, nvme_cli=None)
    (drive,) = reader.read()
    assert (drive["model"], drive["firmware"], drive["health"]) == (
        "SAMSUNG MZQL23T8HCLS-00A07",
        "GDC5602Q",
        None,
    )
    assert drive["unavailable"]["health"] == "nvme-cli not installed; the ioctl needs root"
    json_text = (FIXTURES / "nvme/smart-log-nvme0.json").read_text()
    with_cli = NvmeReader(
        TreeHost(str(tmp_path)), lambda argv: (0, json_text), False, "/usr/sbin/nvme"
    )
    assert with_cli.read()[0]["health"]["power_on_hours"] == 17320


def test_nfs_rtt_and_retransmissions_per_interval_and_lustre_rates() -> None:
    stats = SharedFilesystems(TreeHost(str(FIXTURES / "sharedfs/t0")))
    first = stats.read(now=0.0)
    assert (
        first["/home"]["rtt_ms"] is None
        and "first sample" in first["/home"]["unavailable"]["rtt_ms"]
    )
    stats._host = TreeHost(str(FIXTURES / "sharedfs/t1"))
    second = stats.read(now=2.0)
    home = second["/home"]
    assert (home["server"], home["fstype"]) == ("storage1:/export/home", "nfs4")
    assert home["rtt_ms"] == pytest.approx(8500 / 1500)
    assert home["retrans_per_s"] == 18.0
    lustre = second["lustre:lustre1"]
    assert (lustre["read_bytes_per_s"], lustre["write_bytes_per_s"]) == (1e9, 5e6)


def test_mountstats_parser_only_counts_nfs_and_skips_malformed_lines() -> None:
    text = (FIXTURES / "sharedfs/t0/proc/self/mountstats").read_text()
    text += "\tper-op statistics\n\t  READ: x y z\n"
    mounts = parse_mountstats(text)
    assert list(mounts) == ["/home"]
    assert mounts["/home"]["ops"] == 170000 and mounts["/home"]["retrans"] == 4


def test_the_readers_run_on_python_3_8() -> None:
    import subprocess
    import sys

    readers = Path(amd.__file__).parent
    result = subprocess.run(
        [str(Path(sys.executable).parent / "vermin"), "-t=3.8-", "--violations", "--no-tips",
         "--eval-annotations", str(readers)],
        capture_output=True, text=True,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
