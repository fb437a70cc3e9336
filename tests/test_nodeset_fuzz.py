"""Property tests: whatever the text, expanding it gives plain host names or a NodeSetError,
never another exception (no RecursionError, ValueError, MemoryError from a short typo)."""

from __future__ import annotations

from hypothesis import example, given
from hypothesis import strategies as st

from aiconsole.nodeset import HOST_NAME, MAX_HOSTS, NodeSetError, expand, fold

GROUPS = {"gpu": ("g1", "g2"), "login": ("l1",)}


def lookup(name: str) -> tuple[str, ...]:
    if name not in GROUPS:
        raise NodeSetError(f"unknown group @{name}")
    return GROUPS[name]


def expand_or_refuse(text: str) -> None:
    try:
        names = expand(text, lookup)
    except NodeSetError as error:
        assert "\n" not in str(error)
        return
    assert len(names) <= MAX_HOSTS
    assert len(names) == len(set(names))
    assert all(HOST_NAME.fullmatch(name) for name in names)
    assert set(expand(fold(names), lookup)) == set(names) if names else True


@given(st.text())
def test_any_text(text: str) -> None:
    expand_or_refuse(text)


@given(st.text(alphabet="[]-,!/&^@ 0123456789n_\n\t+١", max_size=40))
@example("[\n]")  # an empty bracket's message once carried the newline
@example("1[\n1]")
def test_text_made_of_node_set_syntax(text: str) -> None:
    expand_or_refuse(text)


@given(
    st.lists(
        st.tuples(
            st.sampled_from(["n", "[", "]", "-", ",", "!", "@gpu", "x"]),
            st.integers(0, 10**6).map(str),
        ),
        max_size=12,
    )
)
def test_numbers_of_any_size(tokens: list[tuple[str, str]]) -> None:
    expand_or_refuse("".join(a + b for a, b in tokens))


@given(
    st.lists(
        st.tuples(
            st.sampled_from(["[", "]", "9", "1-99999,", "n", ",", "-"]), st.integers(1, 5000)
        ),
        max_size=8,
    )
)
def test_long_runs_of_one_token(runs: list[tuple[str, int]]) -> None:
    # Deep brackets, numbers of thousands of digits, ranges repeated many times.
    expand_or_refuse("".join(token * count for token, count in runs))


@given(
    st.integers(1, 3000),
    st.integers(1, 6000),
    st.sampled_from(["n{open}1{close}", "n[1-{digits}]", "n[{digits}]", "n{digits}"]),
)
def test_deep_brackets_and_long_numbers(depth: int, digits: int, shape: str) -> None:
    expand_or_refuse(shape.format(open="[" * depth, close="]" * depth, digits="9" * digits))
