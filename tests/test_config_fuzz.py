"""Property tests: whatever a config file holds, loading it gives an Inventory or a one-line
ConfigError naming the file, never another exception (TypeError, RuntimeError, ...)."""

from __future__ import annotations

import json
import math
from dataclasses import fields
from pathlib import Path
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from aiconsole.config import ConfigError, Inventory, Settings, load

SETTING_NAMES = [setting.name for setting in fields(Settings)]
SCALARS = (
    st.text(max_size=20)
    | st.sampled_from(["gpu[01-04]", "@gpu", "~", "~root/x", "-v", "a&b", "strict", "viewer"])
    | st.integers(-(2**63), 2**63 - 1)
    | st.floats()
    | st.booleans()
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)
KEYS = st.sampled_from(["hosts", "settings", "groups", "clusters"]) | st.text(max_size=8)
SETTINGS = st.dictionaries(
    st.sampled_from([*SETTING_NAMES, "__dict__", "__class__", "__init__"]) | st.text(max_size=8),
    VALUES,
    max_size=4,
)
GROUPS = st.dictionaries(
    st.sampled_from(["gpu", "login", "a b", "-x"]) | st.text(max_size=6), VALUES, max_size=3
)
TOP = st.fixed_dictionaries(
    {},
    optional={
        "hosts": VALUES,
        "settings": SETTINGS | VALUES,
        "groups": GROUPS | VALUES,
        "clusters": st.dictionaries(st.text(max_size=6), VALUES, max_size=2) | VALUES,
    },
) | st.dictionaries(KEYS, VALUES, max_size=4)


def toml_string(text: str) -> str:
    # JSON escapes are TOML escapes, except that TOML wants DEL escaped too.
    return json.dumps(text, ensure_ascii=False).replace("\x7f", "\\u007f")


def toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return "nan" if math.isnan(value) else repr(value)  # inf, -inf, 1e+16: TOML too
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return toml_string(value)
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(item) for item in value) + "]"
    items = (f"{toml_string(key)} = {toml_value(item)}" for key, item in value.items())
    return "{" + ", ".join(items) + "}"


def toml_document(data: dict[str, Any]) -> str:
    """Scalars and arrays first, then each table under its own [header], as people write."""
    lines = [
        f"{toml_string(k)} = {toml_value(v)}" for k, v in data.items() if not isinstance(v, dict)
    ]
    for key, table in data.items():
        if isinstance(table, dict):
            lines.append(f"[{toml_string(key)}]")
            lines += [f"{toml_string(k)} = {toml_value(v)}" for k, v in table.items()]
    return "\n".join(lines) + "\n"


def load_or_refuse(path: Path) -> None:
    try:
        inventory = load(path)
    except ConfigError as error:
        message = str(error)
        assert message.startswith(str(path)), message
        assert len(message.splitlines()) == 1, message
        return
    assert isinstance(inventory, Inventory)
    for value in (inventory.settings.interval, inventory.settings.reconnect_max):
        assert math.isfinite(value) and value > 0


@given(TOP)
def test_toml_shaped_documents(tmp_path_factory: Any, data: dict[str, Any]) -> None:
    path = tmp_path_factory.mktemp("config") / "config.toml"
    path.write_text(toml_document(data), encoding="utf-8")
    load_or_refuse(path)


@given(st.binary(max_size=200) | st.text(max_size=200).map(str.encode))
def test_any_bytes(tmp_path_factory: Any, content: bytes) -> None:
    path = tmp_path_factory.mktemp("config") / "config.toml"
    path.write_bytes(content)
    load_or_refuse(path)
