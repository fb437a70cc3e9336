"""The order a click on a column title gives: figures by value with their units, durations by
length, names naturally, and missing values last in both directions."""

from __future__ import annotations

import pytest

from aiconsole.widgets.sort_key import sort_key


def ordered(cells: list[str], descending: bool = False) -> list[str]:
    return sorted(cells, key=lambda cell: sort_key(cell, descending=descending), reverse=descending)


@pytest.mark.parametrize(
    ("cells", "expected"),
    [
        (
            ["gpu-node-10", "gpu-node-9", "gpu-node-100"],
            ["gpu-node-9", "gpu-node-10", "gpu-node-100"],
        ),
        (["1.5G", "980M", "12K", "2.0T"], ["12K", "980M", "1.5G", "2.0T"]),
        (["977K/s", "2.7M/s", "0B/s"], ["0B/s", "977K/s", "2.7M/s"]),
        (["2h03m", "5m", "0.0s", "1d2h", "45s"], ["0.0s", "45s", "5m", "2h03m", "1d2h"]),
        (["4.0kW", "700W", "3.5kW"], ["700W", "3.5kW", "4.0kW"]),
        (["98%", "7%", "–", "55%"], ["7%", "55%", "98%", "–"]),
    ],
)
def test_ascending(cells: list[str], expected: list[str]) -> None:
    assert ordered(cells) == expected


def test_descending_keeps_missing_values_last() -> None:
    assert ordered(["7%", "", "98%", "–", "55%"], descending=True)[:3] == ["98%", "55%", "7%"]
    assert set(ordered(["7%", "", "98%", "–", "55%"], descending=True)[3:]) == {"", "–"}
