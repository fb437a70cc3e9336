from __future__ import annotations

import pytest

from aiconsole.nodeset import NodeSetError, expand, fold


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("node1", ["node1"]),
        ("gpu[01-03]", ["gpu01", "gpu02", "gpu03"]),
        ("n[8-10]", ["n8", "n9", "n10"]),
        ("n[1,3,5-6]", ["n1", "n3", "n5", "n6"]),
        ("rack[1-2]-n[01-02]", ["rack1-n01", "rack1-n02", "rack2-n01", "rack2-n02"]),
        ("a,b,a", ["a", "b"]),
        ("gpu[1-5]!gpu3", ["gpu1", "gpu2", "gpu4", "gpu5"]),
        ("gpu[1-5]!gpu[2-4],gpu3", ["gpu1", "gpu5", "gpu3"]),
        (" login01 , gpu[1-2] ", ["login01", "gpu1", "gpu2"]),
    ],
)
def test_expand(text: str, expected: list[str]) -> None:
    assert expand(text) == expected


def test_groups() -> None:
    groups = {"gpu": ["g1", "g2"], "login": ["l1"]}
    assert expand("@gpu,@login!g2", groups.__getitem__) == ["g1", "l1"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("gpu[1-", "unclosed '['"),
        ("gpu1]", "unbalanced ']'"),
        ("gpu[5-1]", "goes backwards"),
        ("gpu[a-b]", "bad range"),
        ("n[1-1000000]", "more than"),
        ("a,,b", "empty term"),
        ("", "empty node set"),
        ("node;rm -rf /", "not a valid host name"),
        ("$(reboot)", "not a valid host name"),
        ("-oProxyCommand=x", "not a valid host name"),
        ("@gpu", "no inventory defines groups"),
    ],
)
def test_bad_node_sets_say_what_is_wrong(text: str, message: str) -> None:
    with pytest.raises(NodeSetError, match=message.replace("[", r"\[").replace("$", r"\$")):
        expand(text)


def test_fold_is_the_inverse_for_display() -> None:
    names = expand("gpu[01-04],gpu[07-08],login1")
    assert fold(names) == "gpu[01-04,07-08],login1"
    assert set(expand(fold(names))) == set(names)
