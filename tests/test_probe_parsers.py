"""The probe's parsers and sampler against recorded /proc and /sys trees."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from aiconsole import probe
from aiconsole.collectors.base import decode_sample
from tests.conftest import FIXTURES

GPU_HOST = FIXTURES / "gpuhost"


class NoGpus:
    """The probe's GPU reader interface, for trees recorded on hosts without GPUs."""

    def read(self) -> dict[str, object]:
        return {"status": "no_driver", "source": "none", "reason": "recorded host", "gpus": []}


class FakeStatvfs:
    """statvfs answers for mount points of a recorded tree (the test machine has other mounts)."""

    def __init__(self, hung: set[str] = frozenset()) -> None:  # type: ignore[assignment]
        self.hung = hung

    def __call__(self, mount: str) -> object:
        if mount in self.hung:
            import time

            time.sleep(2)
        if mount == "/boot/efi":
            raise PermissionError(13, "Permission denied")

        class Result:
            f_frsize = 4096
            f_blocks = 1000
            f_bfree = 400
            f_bavail = 300

        return Result()


def sampler_over(root: Path, clock: list[float], **options: object) -> probe.Sampler:
    return probe.Sampler(
        root=str(root),
        gpu_reader=NoGpus(),
        statvfs=FakeStatvfs(),
        monotonic=lambda: clock[0],
        clock=lambda: 1_700_000_000.0 + clock[0],
        **options,
    )


@pytest.fixture
def two_samples(tmp_path: Path) -> tuple[dict[str, object], dict[str, object]]:
    """Sample the recorded GPU host at t0, then 2 s later at t1."""
    root = tmp_path / "root"
    shutil.copytree(GPU_HOST / "t0", root)
    clock = [100.0]
    sampler = sampler_over(root, clock)
    first = sampler.sample()
    shutil.copytree(GPU_HOST / "t1", root, dirs_exist_ok=True)
    clock[0] = 102.0
    second = sampler.sample()
    return first, second


def test_proc_stat_counts_iowait_as_idle_and_excludes_guest() -> None:
    text = "cpu  10 1 5 100 20 0 2 0 7 3\ncpu0 10 1 5 100 20 0 2 0 7 3\nintr 1\n"
    assert probe.parse_proc_stat(text) == {"cpu": (138, 120), "cpu0": (138, 120)}


def test_meminfo_converts_kilobytes_and_keeps_plain_counts() -> None:
    info = probe.parse_meminfo("MemTotal:  1024 kB\nHugePages_Total:   4\n")
    assert info == {"MemTotal": 1024 * 1024, "HugePages_Total": 4}


def test_mounts_drop_pseudo_filesystems_and_unescape_spaces() -> None:
    text = (GPU_HOST / "t0/proc/self/mounts").read_text()
    mounts = probe.parse_mounts(text)
    assert [m[1] for m in mounts] == ["/", "/boot/efi", "/raid", "/home", "/mnt/scratch space"]
    assert ("storage01:/export/home", "/home", "nfs4") in mounts


def test_net_dev_reads_both_directions() -> None:
    counters = probe.parse_net_dev((GPU_HOST / "t0/proc/net/dev").read_text())
    assert counters["eno1"]["rx_errors"] == 3
    assert counters["eno1"]["rx_drops"] == 12
    assert counters["eno1"]["tx_drops"] == 1
    assert counters["eno1"]["tx_bytes"] == 3_000_000_000


@pytest.mark.parametrize(
    ("text", "expected"),
    [("200 Gb/sec (4X HDR)", 200.0), ("2.5 Gb/sec (1X SDR)", 2.5), ("unknown", None)],
)
def test_ib_rate(text: str, expected: float | None) -> None:
    assert probe.parse_ib_rate(text) == expected


def test_first_sample_reports_rates_unavailable_not_zero(
    two_samples: tuple[dict[str, object], dict[str, object]],
) -> None:
    sample = decode_sample(two_samples[0])
    assert sample.cpu.total_percent is None
    assert sample.cpu.per_core_percent is None
    assert sample.cpu.unavailable["total_percent"] == probe.FIRST_SAMPLE
    nvme = next(d for d in sample.disks if d.name == "nvme0n1")
    assert nvme.read_bytes_per_s is None and "read_bytes_per_s" in nvme.unavailable
    eno1 = next(n for n in sample.nics if n.name == "eno1")
    assert eno1.rx_bytes_per_s is None and eno1.unavailable["rx_bytes_per_s"] == probe.FIRST_SAMPLE
    assert all(port.rx_bytes_per_s is None for port in sample.ib_ports)


def test_second_sample_rates_match_recorded_deltas(
    two_samples: tuple[dict[str, object], dict[str, object]],
) -> None:
    sample = decode_sample(two_samples[1])
    # Deltas written into the recorded trees: see tests/fixtures/README.md.
    assert sample.cpu.per_core_percent == (50.0, 100.0, 0.0, 25.0)
    assert sample.cpu.total_percent == 43.8
    assert sample.cpu.count == 4
    assert (sample.cpu.load1, sample.cpu.load5, sample.cpu.load15) == (12.52, 11.87, 10.04)
    nvme = next(d for d in sample.disks if d.name == "nvme0n1")
    assert (nvme.read_iops, nvme.write_iops) == (500.0, 250.0)
    assert (nvme.read_bytes_per_s, nvme.write_bytes_per_s) == (512_000.0, 1_024_000.0)
    eno1 = next(n for n in sample.nics if n.name == "eno1")
    assert (eno1.rx_bytes_per_s, eno1.tx_bytes_per_s) == (1_000_000.0, 500_000.0)
    assert not eno1.unavailable


def test_disks_are_whole_devices_without_loops_or_partitions(
    two_samples: tuple[dict[str, object], dict[str, object]],
) -> None:
    sample = decode_sample(two_samples[1])
    assert [d.name for d in sample.disks] == ["md0", "nvme0n1", "nvme1n1"]


def test_nics_skip_loopback_and_flag_virtual_ones(
    two_samples: tuple[dict[str, object], dict[str, object]],
) -> None:
    nics = {n.name: n for n in decode_sample(two_samples[1]).nics}
    assert set(nics) == {"eno1", "ib0", "docker0", "vethab12cd"}
    assert nics["eno1"].speed_mbps == 25_000 and not nics["eno1"].virtual
    assert nics["vethab12cd"].virtual and nics["docker0"].virtual
    assert nics["docker0"].state == "down"
    assert nics["docker0"].speed_mbps is None and "speed_mbps" in nics["docker0"].unavailable


def test_infiniband_ports_state_rate_counters(
    two_samples: tuple[dict[str, object], dict[str, object]],
) -> None:
    ports = {(p.device, p.port): p for p in decode_sample(two_samples[1]).ib_ports}
    hdr = ports[("mlx5_0", 1)]
    assert (hdr.state, hdr.phys_state, hdr.link_layer) == ("ACTIVE", "LinkUp", "InfiniBand")
    assert hdr.rate == "200 Gb/sec (4X HDR)" and hdr.rate_gbps == 200.0
    # port_rcv_data counts 4-byte words: 5,000,000 words in 2 s = 10 MB/s.
    assert (hdr.rx_bytes_per_s, hdr.tx_bytes_per_s) == (10_000_000.0, 5_000_000.0)
    assert (hdr.symbol_errors, hdr.link_downed) == (0, 0)
    roce = ports[("mlx5_1", 1)]
    assert (roce.state, roce.phys_state, roce.link_layer) == ("DOWN", "Disabled", "Ethernet")
    assert (roce.symbol_errors, roce.link_downed) == (17, 2)


def test_filesystems_report_sizes_and_reasons(
    two_samples: tuple[dict[str, object], dict[str, object]],
) -> None:
    filesystems = {f.mount: f for f in decode_sample(two_samples[1]).filesystems}
    root = filesystems["/"]
    assert (root.size_bytes, root.used_bytes, root.free_bytes) == (
        4096 * 1000,
        4096 * 600,
        4096 * 300,
    )
    efi = filesystems["/boot/efi"]
    assert efi.size_bytes is None and efi.unavailable["size_bytes"] == "Permission denied"


def test_hung_network_mount_does_not_hang_the_probe(tmp_path: Path) -> None:
    root = tmp_path / "root"
    shutil.copytree(GPU_HOST / "t0", root)
    sampler = probe.Sampler(
        root=str(root),
        gpu_reader=NoGpus(),
        statvfs=FakeStatvfs(hung={"/home"}),
    )
    home = next(f for f in sampler.sample()["filesystems"] if f["mount"] == "/home")
    assert home["unavailable"]["size_bytes"].startswith("statvfs did not answer")
    # While the first call is still stuck, the next sample does not ask (or wait) again.
    home = next(f for f in sampler.sample()["filesystems"] if f["mount"] == "/home")
    assert home["unavailable"]["size_bytes"] == "statvfs still hung from an earlier sample"


def test_identity_and_memory(two_samples: tuple[dict[str, object], dict[str, object]]) -> None:
    sample = decode_sample(two_samples[1])
    assert sample.identity.hostname == "gpu-node-07"
    assert sample.identity.kernel == "5.15.0-105-generic"
    assert sample.identity.uptime_s == 356014.44
    assert sample.identity.probe_version == probe.PROBE_VERSION
    assert sample.memory.total_bytes == 2113389856 * 1024
    assert sample.memory.used_bytes == (2113389856 - 1900000000) * 1024
    assert sample.memory.swap_used_bytes == (8388604 - 8000000) * 1024
    assert sample.seq == 1


def test_counter_reset_is_reported_not_negative(tmp_path: Path) -> None:
    root = tmp_path / "root"
    shutil.copytree(GPU_HOST / "t1", root)
    clock = [0.0]
    sampler = sampler_over(root, clock)
    sampler.sample()
    shutil.copytree(GPU_HOST / "t0", root, dirs_exist_ok=True)  # counters go backwards
    clock[0] = 2.0
    sample = decode_sample(sampler.sample())
    eno1 = next(n for n in sample.nics if n.name == "eno1")
    assert eno1.rx_bytes_per_s is None
    assert eno1.unavailable["rx_bytes_per_s"] == probe.COUNTER_RESET


def test_missing_files_give_reasons_not_exceptions(tmp_path: Path) -> None:
    (tmp_path / "proc").mkdir()
    sample = decode_sample(sampler_over(tmp_path, [0.0]).sample())
    assert sample.cpu.total_percent is None
    assert sample.cpu.unavailable["total_percent"] == "/proc/stat unreadable"
    assert sample.memory.total_bytes is None
    assert sample.filesystems == () and sample.nics == () and sample.ib_ports == ()


def test_an_idle_disk_nic_and_port_report_a_rate_of_zero_not_a_reset(tmp_path: Path) -> None:
    """Counters that did not move are a rate of 0: only a counter that went *down* is a reset."""
    root = tmp_path / "root"
    shutil.copytree(GPU_HOST / "t0", root)
    clock = [0.0]
    sampler = sampler_over(root, clock)
    sampler.sample()
    clock[0] = 2.0
    sample = decode_sample(sampler.sample())  # the same files: nothing moved
    nvme = next(d for d in sample.disks if d.name == "nvme0n1")
    assert (nvme.read_iops, nvme.write_iops, nvme.read_bytes_per_s) == (0.0, 0.0, 0.0)
    assert nvme.unavailable == {}
    eno1 = next(n for n in sample.nics if n.name == "eno1")
    assert (eno1.rx_bytes_per_s, eno1.tx_bytes_per_s) == (0.0, 0.0)
    assert "rx_bytes_per_s" not in eno1.unavailable
    port = next(p for p in sample.ib_ports if p.device == "mlx5_0")
    assert (port.rx_bytes_per_s, port.unavailable) == (0.0, {})


def cpu_lines(busy: list[int], idle: list[int]) -> str:
    """/proc/stat with these cumulative busy and idle jiffies per core, in the kernel's order."""
    lines = [f"cpu  {sum(busy)} 0 0 {sum(idle)} 0 0 0 0 0 0"]
    lines += [
        f"cpu{n} {b} 0 0 {i} 0 0 0 0 0 0" for n, (b, i) in enumerate(zip(busy, idle, strict=True))
    ]
    return "\n".join(lines) + "\n"


def test_per_core_order_is_numeric_past_ten_cores(tmp_path: Path) -> None:
    (tmp_path / "proc").mkdir()
    stat = tmp_path / "proc/stat"
    cores = 12
    stat.write_text(cpu_lines([0] * cores, [100] * cores))
    clock = [0.0]
    sampler = sampler_over(tmp_path, clock)
    sampler.sample()
    # Core n is busy 5n % of the next 100 jiffies: a lexicographic order (cpu10 before cpu2)
    # would show in the list.
    busy = [5 * n for n in range(cores)]
    stat.write_text(cpu_lines(busy, [100 + 100 - b for b in busy]))
    clock[0] = 1.0
    sample = decode_sample(sampler.sample())
    assert sample.cpu.count == cores
    assert sample.cpu.per_core_percent == tuple(float(b) for b in busy)
