"""The README's configuration examples are pieces of one file: together they load."""

from __future__ import annotations

import re
from pathlib import Path

from aiconsole.config import load

README = Path(__file__).resolve().parent.parent / "README.md"


def test_the_readme_toml_examples_combine_into_one_valid_config(tmp_path: Path) -> None:
    text = README.read_text()
    found = [
        (text[max(0, m.start() - 400) : m.start()], m.group(1))
        for m in re.finditer(r"```toml\n(.*?)```", text, flags=re.S)
    ]
    # The site policy (/etc/aiconsole/policy.toml) is another file; its example says so.
    blocks = [block for before, block in found if "policy.toml" not in before]
    assert len(found) - len(blocks) == 1 and len(blocks) >= 3
    config = tmp_path / "config.toml"
    config.write_text("\n".join(blocks))
    inventory = load(config)  # a table shown twice, or a bad key, raises ConfigError
    assert inventory.settings.role == "operator" and "prod" in inventory.clusters
