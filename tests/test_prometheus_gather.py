"""Grouping the fleet answers by host (pure: series in, figures out)."""

from __future__ import annotations

from aiconsole.prometheus.client import FleetLabels, FleetSample, FleetSeries
from aiconsole.prometheus.fleet import HostFigures, HostKey, HostKeys, gather


def series(value: float, **labels: str) -> FleetSeries:
    return FleetSeries(metric=FleetLabels(**labels), value=FleetSample(at=1.0, value=value))


def test_each_series_goes_to_its_host_by_hostname_then_dcgm_hostname_then_instance() -> None:
    answers = [
        [
            series(45.5, Hostname="gpu1", instance="10.0.0.1:9400", aiconsole_field="gpu_util"),
            series(61.0, Hostname="gpu1", instance="10.0.0.1:9400", aiconsole_field="gpu_temp"),
            series(7.0, Hostname="gpu2", aiconsole_field="gpu_util"),
        ],
        [
            series(0.25, hostname="gpu1", instance="10.0.0.1:9100", aiconsole_field="cpu_busy"),
            # both labels: node_exporter's spelling wins, as in HostKeys.of
            series(3.0, hostname="gpu2", Hostname="other", aiconsole_field="load1"),
            series(9.0, instance="[fe80::1]:9100", aiconsole_field="load1"),
            series(1.0, hostname="gpu1"),  # no field: not a figure of ours
        ],
    ]
    for keys in (HostKeys(), HostKeys()):
        for _ in range(2):  # a second refresh finds the keys already made
            hosts = gather(keys, answers, [])
            assert sorted(hosts) == ["fe80::1", "gpu1", "gpu2"]
            assert hosts["gpu1"].values == {"gpu_util": 45.5, "gpu_temp": 61.0, "cpu_busy": 0.25}
            assert hosts["gpu2"].values == {"gpu_util": 7.0, "load1": 3.0}
            assert hosts["fe80::1"].key == HostKey("fe80::1", "instance", "fe80::1")
            assert "other" not in hosts


def test_failing_targets_and_slow_figures_join_their_hosts() -> None:
    keys = HostKeys()
    answers = [[series(1.0, hostname="a", aiconsole_field="at")]]
    down = [series(0.0, hostname="b", job="node", instance="b:9100")]
    hosts = gather(keys, answers, down, slow={"a": {"cpus": 8.0}, "zzz": {"cpus": 2.0}})
    assert hosts["a"].values == {"at": 1.0, "cpus": 8.0}
    assert hosts["b"].targets_down == ["node (b:9100)"] and not hosts["b"].values
    assert "zzz" not in hosts  # slow figures alone do not make a host


def test_a_host_has_data_only_from_figures_that_show_it_is_still_there() -> None:
    key = HostKey("a", "hostname", "a")
    assert not HostFigures(key, {"cpu_busy": 0.5, "rx": 1.0, "gpu_count": 8.0}).has_data
    assert HostFigures(key, {"cpu_busy": 0.5, "load1": 1.0}).has_data
    assert not HostFigures(key).has_data


def test_the_newest_sample_time_is_the_latest_of_the_time_figures() -> None:
    key = HostKey("a", "hostname", "a")
    assert HostFigures(key, {"load1": 1.0}).at() is None
    assert HostFigures(key, {"a_at": 5.0}).at() == 5.0
    assert HostFigures(key, {"at": 3.0, "a_at": 5.0, "gpu_at": 4.0}).at() == 5.0
    assert HostFigures(key, {"at": 7.0, "gpu_at": 4.0}).at() == 7.0
    assert HostFigures(key, {"gpu_at": 9.0, "at": 7.0}).at() == 9.0


def test_a_hosts_nics_are_virtual_exactly_where_the_fleet_queries_leave_them_out() -> None:
    from aiconsole.prometheus.detail import virtual_nic

    virtual = ("lo", "veth12ab", "docker0", "br-1f2e", "virbr0", "cni0", "flannel.1", "cali9f")
    for device in (*virtual, "tunl0"):
        assert virtual_nic(device), device
    for device in ("eth0", "ens5f0", "ib0", "bond0", "xlo"):
        assert not virtual_nic(device), device
