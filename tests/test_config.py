from __future__ import annotations

from pathlib import Path

import pytest

from aiconsole.config import ConfigError, load


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text)
    return path


def test_hosts_groups_and_settings(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
hosts = "login01"

[settings]
interval = 2
connect_timeout = 3.5
python = "/usr/bin/python3"

[groups]
gpu = "gpu[01-03]"
rack = ["r1-n[1-2]", "@gpu!gpu02"]
""",
    )
    inventory = load(path)
    assert inventory.hosts == ("login01", "gpu01", "gpu02", "gpu03", "r1-n1", "r1-n2")
    assert inventory.groups["rack"] == ("r1-n1", "r1-n2", "gpu01", "gpu03")
    assert inventory.settings.interval == 2.0
    assert inventory.settings.python == "/usr/bin/python3"
    assert inventory.select("@gpu!gpu01") == ["gpu02", "gpu03"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('hosts = "gpu[1-"\n', ":1: hosts: unclosed '['"),
        ('[settings]\ninterval = "fast"\n', ":2: settings.interval: must be a float"),
        ("[settings]\n\nintervall = 1\n", ":3: settings.intervall: unknown setting"),
        ('[settings]\nhost_key_policy = "yolo"\n', ":2: settings.host_key_policy: must be one of"),
        ('[settings]\nhost_key_policy = "accept-all"\n', ":2: settings.host_key_policy: must"),
        ('[groups]\ngpu = "@nope"\n', ":2: groups.gpu: unknown group @nope"),
        ('hosts = ["a;b"]\n', ":1: hosts: 'a;b'"),
        ('hostz = "a"\n', ":1: hostz: unknown key"),
        ('hosts = "a\n', "config.toml: "),
        # Names that exist on the Settings object but are no settings.
        ('[settings]\n"__dict__" = {}\n', ":2: settings.__dict__: unknown setting"),
        ('[settings]\n"__class__" = 1\n', ":2: settings.__class__: unknown setting"),
        (
            '[settings]\naudit_log = "~nouser-aiconsole/x"\n',
            ":2: settings.audit_log: cannot expand",
        ),
        ('[settings]\nssh_config = ""\n', ":2: settings.ssh_config: must be a path"),
        ('[settings]\naudit_log = "a\\u0000b"\n', ":2: settings.audit_log: must be a path"),
        ("[settings]\ninterval = nan\n", ":2: settings.interval: must be a finite number"),
        ("[settings]\nconnect_timeout = inf\n", ":2: settings.connect_timeout: must be a finite"),
        ("[settings]\nreconnect_max = -1\n", ":2: settings.reconnect_max: must be positive"),
        ("[settings]\nreconnect_max = 0.0\n", ":2: settings.reconnect_max: must be positive"),
        ('[settings]\npython = ""\n', ":2: settings.python: must be a non-empty string"),
        ('[settings]\npython = "py\\nthon"\n', ":2: settings.python: must be a non-empty string"),
        ('[clusters]\n"a\\nb" = "local"\n', "clusters.'a\\nb': cluster names are"),
        ('[groups]\n"g\\u001b[31m" = "a"\n', "groups.'g\\x1b[31m': group names are"),
        ('hosts = ["-v"]\n', ":1: hosts: '-v' (from '-v') is not a valid host name"),
        ('hosts = "a&b"\n', ":1: hosts: the '&' (intersection) operator is not supported"),
    ],
)
def test_errors_name_file_line_and_key(tmp_path: Path, text: str, message: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load(path)
    assert str(caught.value).startswith(str(path))
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load(tmp_path / "nope.toml")


def test_unreadable_files_are_config_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load(tmp_path)  # a directory
    binary = tmp_path / "config.toml"
    binary.write_bytes(b'hosts = "a"\n\xff\xfe')
    with pytest.raises(ConfigError, match=r"config.toml: not UTF-8 text \(byte 13\)"):
        load(binary)
