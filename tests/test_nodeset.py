from __future__ import annotations

import re
import tracemalloc

import pytest

from aiconsole.nodeset import MAX_HOSTS, NodeSetError, expand, fold


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
        ("gpu[2-1]", "goes backwards"),
        ("gpu[a-b]", "bad range"),
        ("n[1-1000000]", "more than"),
        ("a,,b", "empty term"),
        ("", "empty node set"),
        ("node;rm -rf /", "not a valid host name"),
        ("$(reboot)", "not a valid host name"),
        ("-oProxyCommand=x", "not a valid host name"),
        # A leading dash without '=' would reach ssh as an option just the same.
        ("-v", "not a valid host name"),
        ("-oBatchMode", "not a valid host name"),
        ("gpu[1-2],-v", "not a valid host name"),
        ("gpu[1-2]!-v", "not a valid host name"),
        ("n[[1-3]]", "nested '['"),
        ("n[1[0-1]]", "nested '['"),
        ("n[1-010]", "padded to different widths"),
        ("n[08-012]", "padded to different widths"),
        ("n6[1-4][3-4]", "must be apart"),
        ("n[1-2]0[3-4]", "must be apart"),
        ("0[7-10]", "ambiguous"),
        ("n6[8-10]", "ambiguous"),
        ("a&b", "'&' (intersection) operator is not supported"),
        ("a^b", "'^' (symmetric difference) operator is not supported"),
        ("n[١-٣]", "bad range"),
        ("n[1/2]", "needs a range"),
        ("n[1-4/0]", "at least 1"),
        ("n[]", "empty range"),
        ("@a b", "bad group name"),
        ("@gpu", "no inventory defines groups"),
    ],
)
def test_bad_node_sets_say_what_is_wrong(text: str, message: str) -> None:
    with pytest.raises(NodeSetError, match=re.escape(message)):
        expand(text)


def test_group_members_are_checked_as_host_names() -> None:
    # A trailing newline slipped through a ``$``-anchored match.
    for member in ("-v", "node1\n", "a b"):
        with pytest.raises(NodeSetError, match="not a valid host name"):
            expand("@g", {"g": [member]}.__getitem__)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("n[1-10/3]", ["n1", "n4", "n7", "n10"]),
        ("n[ 1 - 3 ]", ["n1", "n2", "n3"]),
        ("n[09-10]", ["n09", "n10"]),
        ("n0[1-3]", ["n01", "n02", "n03"]),
        ("n[1-2]3", ["n13", "n23"]),
        ("comp-[1-2]-[1-3]", [f"comp-{a}-{b}" for a in (1, 2) for b in (1, 2, 3)]),
    ],
)
def test_clustershell_syntax_that_reads_one_way(text: str, expected: list[str]) -> None:
    assert expand(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        # Each term under the cap, the set far over it (2,000,000 names in 269 characters).
        ",".join(f"r{rack}n[1-99999]" for rack in range(20)),
        # One bracket that repeats a range: counted before the list is built.
        "n[" + ",".join(["1-99999"] * 40) + "]",
        # Brackets multiply: 1,000 x 1,000.
        "r[1-1000]n[1-1000]",
        # A single term just over.
        f"n[1-{MAX_HOSTS + 1}]",
    ],
)
def test_the_cap_is_on_the_whole_set(text: str) -> None:
    with pytest.raises(NodeSetError, match=f"more than {MAX_HOSTS} hosts"):
        expand(text)


def test_a_refused_set_builds_nothing_first() -> None:
    # A bracket that repeats a range (322 characters) once built 4 million names before the
    # cap was checked; counting first keeps the refusal small.
    text = "n[" + ",".join(["1-99999"] * 40) + "]"
    tracemalloc.start()
    try:
        with pytest.raises(NodeSetError, match="more than"):
            expand(text)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 1024 * 1024


def test_the_cap_allows_exactly_the_limit() -> None:
    assert len(expand(f"n[1-{MAX_HOSTS // 2}],m[1-{MAX_HOSTS // 2}]")) == MAX_HOSTS


def test_deep_nesting_and_huge_numbers_are_plain_errors() -> None:
    with pytest.raises(NodeSetError, match="nested"):
        expand("n" + "[" * 1000 + "1" + "]" * 1000)
    with pytest.raises(NodeSetError, match="longer than"):
        expand("n[1-" + "9" * 4300 + "]")
    with pytest.raises(NodeSetError, match="longer than"):
        expand("n" + "1" * 101)


def test_fold_is_the_inverse_for_display() -> None:
    names = expand("gpu[01-04],gpu[07-08],login1")
    assert fold(names) == "gpu[01-04,07-08],login1"
    assert set(expand(fold(names))) == set(names)


@pytest.mark.parametrize(
    ("text", "folded"),
    [
        ("comp-[1-2]-[1-3]", "comp-[1-2]-[1-3]"),
        ("comp-1-[1-3],comp-2-[1-3],comp-3-1", "comp-3-1,comp-[1-2]-[1-3]"),
        ("n[09-10]", "n[09-10]"),
        ("n[9-10]", "n[9-10]"),
        ("n1,n01", "n01,n1"),
        ("rack[1-2]-n[01-16]-ib[0-1]", "rack[1-2]-n[01-16]-ib[0-1]"),
    ],
)
def test_fold_folds_every_number(text: str, folded: str) -> None:
    assert fold(expand(text)) == folded
    assert set(expand(folded)) == set(expand(text))
