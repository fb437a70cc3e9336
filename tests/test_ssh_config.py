"""The fleet-wide ssh config evaluation agrees with OpenSSH itself (``ssh -G``).

Configs are generated from Host and Match blocks whose options mark which block applied
(``User`` and ``Port``: the first value wins; ``IdentityFile``: every block adds one), then
for many host names the values this module resolves are compared with what the real
``ssh -G -F config NAME`` prints.
"""

from __future__ import annotations

import getpass
import os
import shlex
import shutil
import subprocess
from pathlib import Path

import asyncssh
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aiconsole.collectors import ssh_config
from aiconsole.collectors.ssh_options import HostOptions

SSH = shutil.which("ssh")
needs_ssh = pytest.mark.skipif(SSH is None, reason="OpenSSH client not installed")

NAME_CHARS = "abAB01.-"
PATTERN_CHARS = NAME_CHARS + "*?"
ALL_KEYWORDS = ("hostname", "user", "port", "identityfile")


def openssh(config: Path, host: str) -> dict[str, list[str]]:
    """What OpenSSH resolves for ``host``: each keyword's lines from ``ssh -G``."""
    assert SSH is not None
    result = subprocess.run(
        [SSH, "-G", "-F", str(config), host],
        capture_output=True,
        text=True,
        timeout=10,
        stdin=subprocess.DEVNULL,
        check=True,
    )
    values: dict[str, list[str]] = {}
    for line in result.stdout.splitlines():
        keyword, _, value = line.partition(" ")
        values.setdefault(keyword, []).append(value)
    return values


def ours(config: Path, host: str) -> dict[str, list[str]]:
    fleet = ssh_config.load([str(config)])
    assert fleet is not None, "this config should be evaluated here, not by asyncssh"
    options = fleet.resolve(host, getpass.getuser()).options()
    return {
        "hostname": [str(options.get("Hostname", host)).lower()],
        "user": [str(options.get("User") or getpass.getuser())],
        "port": [str(options.get("Port", 22))],
        "identityfile": [str(f) for f in options.get("IdentityFile", [])],
    }


def same_as_openssh(
    config: Path, hosts: list[str], keywords: tuple[str, ...] = ALL_KEYWORDS
) -> None:
    """Compare with ``ssh -G`` (which prints IdentityFile before expanding its tokens)."""
    for host in hosts:
        theirs = openssh(config, host)
        mine = ours(config, host)
        for keyword in keywords:
            assert theirs.get(keyword) == mine[keyword], (
                f"{keyword} for {host!r}:\n{config.read_text()}"
            )


# A name starting with a letter: ssh prints an all-digit one as the address it parses to.
names = st.text(NAME_CHARS, min_size=1, max_size=6).filter(lambda n: n[0].isalpha())
patterns = st.builds(
    lambda negated, text: ("!" if negated else "") + text,
    st.booleans(),
    st.text(PATTERN_CHARS, min_size=1, max_size=5),
)
pattern_lists = st.lists(patterns, min_size=1, max_size=3).map(",".join)
criteria = st.one_of(
    st.just("all"),
    st.tuples(
        st.sampled_from(["host", "originalhost", "user", "localuser", "!host", "!user"]),
        pattern_lists,
    ).map(" ".join),
)
host_lines = st.lists(patterns, min_size=1, max_size=3).map(lambda p: "Host " + " ".join(p))
match_lines = st.lists(criteria, min_size=1, max_size=2).map(
    lambda c: "Match all" if "all" in c else "Match " + " ".join(c)
)
blocks = st.lists(
    st.tuples(st.one_of(host_lines, match_lines), st.booleans(), st.sampled_from(["", "u"])),
    min_size=1,
    max_size=5,
)


def render(block_list: list[tuple[str, bool, str]]) -> str:
    text = "IdentityFile /keys/top\n"
    for number, (condition, sets_hostname, user) in enumerate(block_list, 1):
        text += f"{condition}\n  IdentityFile /keys/b{number}\n  Port {1000 + number}\n"
        if user:
            text += f"  User {user}{number}\n"
        if sets_hostname:
            text += f"  HostName n{number}-%h\n"
    return text


@needs_ssh
@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(blocks=blocks, hosts=st.lists(names, min_size=1, max_size=3))
def test_host_and_match_blocks_resolve_as_openssh_does(
    tmp_path: Path, blocks: list[tuple[str, bool, str]], hosts: list[str]
) -> None:
    config = tmp_path / "config"
    config.write_text(render(blocks))
    os.utime(config, ns=(0, config.stat().st_mtime_ns + 1))  # each example is a new version
    same_as_openssh(config, hosts)


@needs_ssh
def test_includes_follow_openssh_inside_blocks_that_apply_and_that_do_not(
    tmp_path: Path,
) -> None:
    conf_d = tmp_path / "conf.d"
    conf_d.mkdir()
    (conf_d / "20-b.conf").write_text("IdentityFile /keys/b\nHost gpu*\n  User fromb\n")
    (conf_d / "10-a.conf").write_text("IdentityFile /keys/a\nPort 2201\n")
    (tmp_path / "other").write_text("Host *\n  IdentityFile /keys/other\n  User fromother\n")
    config = tmp_path / "config"
    config.write_text(
        f"Host login*\n  Include {tmp_path}/other\n  IdentityFile /keys/login\n"
        f"Host *\n  Include {conf_d}/*.conf\n  IdentityFile /keys/after\n"
        "Match originalhost gpu1,login1 user fromb\n  Port 2299\n"
    )
    same_as_openssh(config, ["gpu1", "login1", "x"])
    assert ours(config, "gpu1")["identityfile"] == ["/keys/a", "/keys/b", "/keys/after"]


@needs_ssh
def test_percent_tokens_expand_once_with_the_final_host_port_and_user(tmp_path: Path) -> None:
    config = tmp_path / "config"
    config.write_text(
        "Host gpu*\n  HostName %h.cluster\n  Port 2222\n  User ops\n"
        "  IdentityFile /keys/%h-%p-%r-%n\n"
    )
    fleet = ssh_config.load([str(config)])
    assert fleet is not None
    options = fleet.resolve("gpu7", getpass.getuser()).options()
    assert options["Hostname"] == "gpu7.cluster"
    assert options["IdentityFile"] == ["/keys/gpu7.cluster-2222-ops-gpu7"]
    same_as_openssh(config, ["gpu7"], ("hostname", "user", "port"))


def test_the_files_are_split_once_per_version(tmp_path: Path) -> None:
    config = tmp_path / "config"
    config.write_text("Host a\n  User one\n")
    first = ssh_config.load([str(config)])
    assert first is not None and ssh_config.load([str(config)]) is first
    config.write_text("Host a\n  User two\n")
    os.utime(config, ns=(0, 10**18))
    again = ssh_config.load([str(config)])
    assert again is not first and again is not None
    assert again.resolve("a", "root").options()["User"] == "two"


@pytest.mark.parametrize(
    "line",
    [
        'Match exec "true"',
        "Match canonical",
        "Match final",
        "Match tagged x",
        "CanonicalizeHostname yes",
        "Include /etc/ssh/%h.conf",
    ],
)
async def test_what_is_not_evaluated_here_goes_to_asyncssh_per_host(
    tmp_path: Path, line: str
) -> None:
    config = tmp_path / "config"
    config.write_text(f"Host gpu1\n  User early\n  Port 2200\n{line}\n  User late\n")
    assert ssh_config.load([str(config)]) is None
    options = await HostOptions("gpu1", str(config)).resolve()
    assert (options.username, options.port) == ("early", 2200)


async def test_fleet_and_asyncssh_evaluation_give_the_same_connection_options(
    tmp_path: Path,
) -> None:
    key = tmp_path / "id"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    config = tmp_path / "config"
    config.write_text(
        f"Host gpu*\n  HostName 198.18.0.%h\n  IdentityFile {key}\n  IdentitiesOnly yes\n"
        "  ProxyJump ops@bastion:2222\n  ConnectTimeout 7\n"
        f"Host *\n  User root\n  UserKnownHostsFile {tmp_path}/kh\n  ForwardAgent yes\n"
    )
    ours_ = await HostOptions("gpu1", str(config)).resolve()
    theirs = asyncssh.SSHClientConnectionOptions(
        config=[str(config)], host="gpu1", agent_forwarding=False
    )
    for field in ("host", "port", "username", "tunnel", "connect_timeout", "agent_forward_path"):
        assert getattr(ours_, field) == getattr(theirs, field), field
    assert ours_.config.get("UserKnownHostsFile") == theirs.config.get("UserKnownHostsFile")
    assert [k.public_data for k in ours_.client_keys or []] == [
        k.public_data for k in theirs.client_keys or []
    ]


async def test_a_fleet_splits_its_config_lines_once_not_once_per_host(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The cost that grew with hosts x config lines: every line split once for the fleet."""
    config = tmp_path / "config"
    text = "Host *\n  User root\n  ConnectTimeout 5\n"
    text += "".join(f"Host gpu{n}\n  HostName 198.18.0.{n}\n" for n in range(1, 41))
    config.write_text(text)
    splits = []
    split = shlex.split

    def counting(line: str, comments: bool = False, posix: bool = True) -> list[str]:
        splits.append(line)
        return split(line, comments, posix)

    monkeypatch.setattr(shlex, "split", counting)
    resolved = [await HostOptions(f"gpu{n}", str(config)).resolve() for n in range(1, 41)]
    assert [options.host for options in resolved] == [f"198.18.0.{n}" for n in range(1, 41)]
    assert len(splits) == len(text.splitlines())
