"""Differential test: our node-set parser against ClusterShell's ``NodeSet``, the syntax the
README promises.

For every pattern: where ClusterShell refuses, we refuse; where both accept, both give the same
hosts; where ClusterShell accepts and we refuse, the refusal is one of the kinds listed in
``DELIBERATE_REFUSALS``, recognised here from the pattern itself (and ClusterShell's answer), not
from our own parser's code.
"""

from __future__ import annotations

import re

import pytest
from ClusterShell.NodeSet import RESOLVER_NOGROUP, NodeSet, NodeSetException
from ClusterShell.RangeSet import RangeSetException
from hypothesis import example, given
from hypothesis import strategies as st

from aiconsole.nodeset import DELIBERATE_REFUSALS, MAX_HOSTS, NodeSetError, expand, fold

PLAIN_HOST = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


def clustershell(text: str) -> set[str] | None:
    """ClusterShell's hosts for ``text``, or None where it refuses the pattern."""
    try:
        return {str(node) for node in NodeSet(text, resolver=RESOLVER_NOGROUP)}
    except (NodeSetException, RangeSetException):
        return None
    except (TypeError, ValueError):
        # ClusterShell 1.10 crashes on a few inputs (n0[-1]): a set it cannot read either.
        return None


def ours(text: str) -> tuple[list[str] | None, str]:
    try:
        return expand(text), ""
    except NodeSetError as error:
        return None, str(error)


def _brackets(text: str) -> list[str]:
    return re.findall(r"\[([^\[\]]*)\]", text)


def _terms(text: str) -> list[str]:
    """The terms between top-level ``,`` and ``!`` (all names of a set are checked, even
    those a later ``!`` removes)."""
    return re.split(r"[,!](?![^\[]*\])", text)


def deliberate(text: str, theirs: set[str], error: str) -> bool:
    """True when our refusal of a set ClusterShell accepts is one of the documented kinds."""
    every_name = {name for term in _terms(text) for name in clustershell(term) or ()}
    if re.search(r"[&^]", text) and "not supported" in error:
        return True
    if not text.strip() and error == "empty node set":
        return True
    if "not a valid host name" in error and any(
        not PLAIN_HOST.fullmatch(name) or len(name) > 253 for name in every_name
    ):
        return True
    lenient_number = re.compile(r"[+_]|(^|,)\s*-|-[^,]*-|[^\x00-\x7f]")
    if "bad range" in error and any(lenient_number.search(inside) for inside in _brackets(text)):
        return True
    if re.search(r"beside|stepped range", error) and re.search(r"[0-9]\[|\][0-9]", text):
        return True
    if "needs a range" in error and any(
        re.fullmatch(r"\s*[0-9]+\s*/.*", piece)
        for inside in _brackets(text)
        for piece in inside.split(",")
    ):
        return True
    if "different widths" in error and any(
        re.fullmatch(r"\s*0\s*-\s*00+\s*(/.*)?", piece)
        for inside in _brackets(text)
        for piece in inside.split(",")
    ):
        return True
    if "empty range" in error and any(
        not piece.strip() for inside in _brackets(text) for piece in inside.split(",")
    ):
        return True
    if "more than" in error:
        return sum(len(clustershell(term) or ()) for term in _terms(text)) > MAX_HOSTS
    return False


def check(text: str) -> None:
    theirs = clustershell(text)
    names, error = ours(text)
    if theirs is None:
        assert names is None, f"ClusterShell refuses {text!r}; we expanded it to {names}"
    elif names is not None:
        assert len(names) == len(set(names)), f"duplicates in {names}"
        assert set(names) == theirs, f"{text!r}: we {sorted(names)}, ClusterShell {sorted(theirs)}"
    else:
        assert deliberate(text, theirs, error), f"{text!r}: we refuse ({error}), ClusterShell not"


# ClusterShell's own documented examples: its NodeSet/RangeSet docstrings and the nodeset guide.
DOCUMENTED = [
    "cluster[5,10-42]",
    "cluster[0-10/2]",
    "cluster[0-10/2],othername[7-9,120-300]",
    "node[0-10],node[14-16]",
    "node[0-10]!node[8-10]",
    "node[0-10]&node[5-13]",
    "node[0-10]^node[5-13]",
    "blue[1-50]",
    "blue[1-50]!blue[36-40]",
    "cluster[1-30]",
    "cluster[2-5,8-31]",
    "cs[01-03]",
    "forbin[3,4-10]-ilo",
    "node[0-9,20]",
    "node[1-2345]",
    "tiger[1-30,35]",
    "node[1-5,7]-ib[1-2]",
    "node[1-5,7]-ipmi",
    "node[13-15,17-19]",
    "node1-ipmi,node2-ipmi,node3-ipmi",
    "dc[1-2]n[1-99]",
    "da[2-3]c[1-2]p[1-2]",
]

# The examples of malformed sets, and edges of padding, steps and brackets.
EDGES = [
    "n[[1-3]]",
    "n[1[0-1]]",
    "n[1-010]",
    "n[08-012]",
    "n6[1-4][3-4]",
    "0[7-10]",
    "n[١-٣]",
    "comp-[1-2]-[1-3]",
    "n[09-10]",
    "n[0-10]",
    "n[00-100]",
    "n[0-01]",
    "n[1,01]",
    "n[1-2]3",
    "n[8-10]0",
    "n[0-10]1",
    "n6[1-4]",
    "n6[8-10]",
    "n0[1-3]",
    "n0[8-10]",
    "n1[01-03]",
    "n[1-9/2]0",
    "n[ 1 - 3 ]",
    "n[ 1 - 2 ]0",
    "n[1-2]0[3-4]",
    "n[1-2]x0[8-10]",
    "n[1-3/0]",
    "n[1/2]",
    "n[5/1]",
    "n[-1]",
    "n[+1-2]",
    "n[1_0]",
    "n[1-2-3]",
    "n[]",
    "n[1,]",
    "a,,b",
    "n[1-3]!",
    "!n1",
    "n1!n[0-5]",
    "n[1-2]]x[",
    "-v",
    "-oBatchMode",
    "n [1-2]",
    "",
    " a , b ",
]


@pytest.mark.parametrize("text", DOCUMENTED + EDGES)
def test_agrees_with_clustershell(text: str) -> None:
    check(text)


@pytest.mark.parametrize(("text", "what"), DELIBERATE_REFUSALS)
def test_each_deliberate_refusal_is_one_clustershell_accepts(text: str, what: str) -> None:
    assert clustershell(text) is not None, f"ClusterShell refuses {text!r} too: not a deviation"
    names, error = ours(text)
    assert names is None, f"{text!r} ({what}) should be refused"
    theirs = clustershell(text)
    assert theirs is not None
    assert deliberate(text, theirs, error), error


# Generated patterns. Numbers stay small so ClusterShell builds every set quickly.
NUMBERS = st.sampled_from(["0", "1", "2", "3", "7", "8", "9", "10", "11", "00", "01", "08", "09"])
MORE_NUMBERS = NUMBERS | st.sampled_from(["010", "012", "99", "100", "+1", "1_0", "١", " 2 ", ""])


@st.composite
def pieces(draw: st.DrawFn) -> str:
    low = draw(MORE_NUMBERS)
    if draw(st.booleans()):
        return low
    high = draw(MORE_NUMBERS)
    step = draw(st.sampled_from(["", "", "", "/2", "/1", "/0", "/ 3"]))
    return f"{low}-{high}{step}"


@st.composite
def terms(draw: st.DrawFn) -> str:
    parts = [draw(st.sampled_from(["n", "gpu", "rack", "a-", "x.y", "", "n0", "n1", "-", "n "]))]
    for _ in range(draw(st.integers(0, 2))):
        inside = ",".join(draw(st.lists(pieces(), min_size=1, max_size=3)))
        parts.append(f"[{inside}]")
        parts.append(draw(st.sampled_from(["", "-", "x", "0", "1", "-n", "1a", "-ib", "["])))
    return "".join(parts)


@st.composite
def node_sets(draw: st.DrawFn) -> str:
    text = draw(terms())
    for _ in range(draw(st.integers(0, 2))):
        text += draw(st.sampled_from([",", ",", "!", ", ", "&", "^", ",,"])) + draw(terms())
    return text


@given(node_sets())
@example("n[1-2]0")
@example("n1[08-10]")
def test_generated_patterns_agree_with_clustershell(text: str) -> None:
    check(text)


@given(st.text(alphabet="n01289[]-,!/ x&^", max_size=12))
def test_generated_strings_agree_with_clustershell(text: str) -> None:
    check(text)


SHAPES = st.sampled_from(["n{}", "gpu{}", "comp-{}-{}", "r{}n{}", "n{}-ib{}", "{}a", "x{}y{}z{}"])


@given(
    st.lists(
        st.tuples(SHAPES, st.lists(st.sampled_from(["0", "1", "2", "3", "9", "10", "01", "09"]))),
        max_size=30,
    )
)
def test_fold_round_trips_through_both_parsers(shapes: list[tuple[str, list[str]]]) -> None:
    names = set()
    for shape, numbers in shapes:
        count = shape.count("{}")
        if len(numbers) >= count:
            names.add(shape.format(*numbers[:count]))
    if not names:
        return
    folded = fold(names)
    assert set(expand(folded)) == names
    assert clustershell(folded) == names


def test_fold_folds_every_dimension() -> None:
    names = expand("comp-[1-2]-[1-3],rack[1-2]-n[01-16]")
    assert fold(names) == "comp-[1-2]-[1-3],rack[1-2]-n[01-16]"


def test_cap_is_on_the_whole_set() -> None:
    per_term = "n[1-60000]"
    assert len(expand(per_term)) == 60_000
    with pytest.raises(NodeSetError, match=f"more than {MAX_HOSTS} hosts"):
        expand(f"{per_term},m[1-60000]")
