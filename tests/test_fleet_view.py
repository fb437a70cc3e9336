"""Filter, sort and group rules of the fleet table, without a terminal."""

from __future__ import annotations

from msgspec.structs import replace

from aiconsole.fleet_view import FleetView, arrange, matches, natural_key
from aiconsole.summary import HostSummary

BLANK = HostSummary(
    "h", "ok", None, 0.5, None, None, None, 0, None, None, None, None, None, None, None
)


def host(
    name: str, status: str = "ok", cpu: float | None = None, reason: str | None = None
) -> HostSummary:
    return replace(BLANK, name=name, status=status, cpu_percent=cpu, reason=reason)


def names(
    view: FleetView, hosts: list[HostSummary], groups: dict[str, str] | None = None
) -> list[list[str]]:
    return [[s.name for s in section.hosts] for section in arrange(hosts, view, groups)]


def test_host_names_sort_naturally() -> None:
    assert sorted(["gpu10", "gpu2", "gpu1", "rack2-n1", "rack10-n1"], key=natural_key) == [
        "gpu1",
        "gpu2",
        "gpu10",
        "rack2-n1",
        "rack10-n1",
    ]


def test_hosts_without_a_value_sort_last_in_both_directions() -> None:
    hosts = [host("a", cpu=50), host("b"), host("c", cpu=10), host("d", cpu=90)]
    assert names(FleetView(sort="cpu"), hosts) == [["c", "a", "d", "b"]]
    assert names(FleetView(sort="cpu", descending=True), hosts) == [["d", "a", "c", "b"]]


def test_sort_steps_through_the_columns_then_back_to_inventory_order() -> None:
    view = FleetView()
    seen = []
    for _ in range(4):
        view = view.next_sort(["host", "status", "cpu"])
        seen.append(view.sort)
    assert seen == ["host", "status", "cpu", None]
    assert view.sorted_by("cpu").sorted_by("cpu").descending


def test_filter_words_all_match_name_status_or_reason() -> None:
    down = host("gpu07", "unreachable", reason="connection refused (sshd not running?)")
    keyed = host("gpu08", "host_key_refused")
    assert matches(down, "gpu0 refused")
    assert matches(keyed, "key refused") and matches(keyed, "host_key")
    assert not matches(down, "gpu07 stale")
    assert not matches(down, "!refused") and matches(host("gpu01"), "!refused")


def test_groups_keep_sort_order_inside_and_put_problems_first() -> None:
    hosts = [host("n1", cpu=5), host("n2", "stale"), host("n3", cpu=1), host("n4", "auth_failed")]
    by_status = arrange(hosts, FleetView(sort="cpu", group_by="status"))
    assert [(s.label, [h.name for h in s.hosts]) for s in by_status] == [
        ("auth failed", ["n4"]),
        ("stale", ["n2"]),
        ("ok", ["n3", "n1"]),
    ]
    racks = {"n1": "rack1", "n3": "rack1", "n2": "rack2"}
    assert names(FleetView(group_by="group"), hosts, racks) == [["n1", "n3"], ["n2"], ["n4"]]
