"""The fleet over SSH on a real estate of namespaced sshd hosts, with faults injected."""

from __future__ import annotations

import asyncio
import json
import subprocess
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest

from aiconsole import units
from aiconsole.config import Settings
from aiconsole.fleet import Fleet, ssh_fleet
from aiconsole.model import HostState
from tests.conftest import run_aiconsole
from tests.estate import Estate, available, required

pytestmark = required(available())

HOSTS = 6


@pytest.fixture(scope="module")
def estate(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Estate]:
    with Estate(tmp_path_factory.mktemp("estate"), HOSTS) as built:
        yield built


@pytest.fixture
def config(estate: Estate, tmp_path: Path) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(
        f'hosts = "h[1-{HOSTS}]"\n\n[settings]\ninterval = 0.5\nconnect_timeout = 2\n'
        f'python = "/usr/bin/python3"\nreconnect_max = 1\nssh_config = "{estate.ssh_config}"\n'
        '\n[groups]\nodd = "h[1,3,5]"\n'
    )
    return path


def settings(estate: Estate) -> Settings:
    return Settings(
        interval=0.3,
        connect_timeout=2,
        python="/usr/bin/python3",
        reconnect_max=1.0,
        ssh_config=str(estate.ssh_config),
    )


@pytest.fixture
async def live(estate: Estate) -> AsyncIterator[Fleet]:
    """Every estate host streaming into one store, as the TUI runs them."""
    fleet = ssh_fleet([h.name for h in estate.hosts], settings(estate))
    tasks = [asyncio.create_task(c.run()) for c in fleet.collectors]
    await until(fleet, lambda hosts: all(h.status == "ok" for h in hosts.values()))
    yield fleet
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


async def until(
    fleet: Fleet, condition: Callable[[dict[str, HostState]], bool], limit: float = 40
) -> dict[str, HostState]:
    """Wait (bounded) until the fleet satisfies ``condition``; return the hosts then."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + limit
    while True:
        hosts = {h.name: h for h in fleet.store.snapshot().hosts}
        if condition(hosts):
            return hosts
        if loop.time() > deadline:
            raise AssertionError(
                "fleet never reached the expected state: "
                + "; ".join(f"{h.name}={h.status} ({h.reason})" for h in hosts.values())
            )
        await asyncio.sleep(0.1)


def seqs(hosts: dict[str, HostState]) -> dict[str, int]:
    return {name: h.sample.seq if h.sample else -1 for name, h in hosts.items()}


async def fault_then_recovery(
    fleet: Fleet,
    bad: str,
    status: str,
    reason_part: str,
    inject: Callable[[], None],
    remove: Callable[[], None],
) -> None:
    """Inject a fault; the bad host shows it while the others keep sampling; then recovery."""
    before = seqs(await until(fleet, lambda hosts: hosts[bad].status == "ok"))
    inject()
    try:
        hosts = await until(
            fleet,
            lambda hosts: hosts[bad].status == status and reason_part in (hosts[bad].reason or ""),
        )
        # Meanwhile every other host kept streaming: at least three new samples each.
        during = seqs(
            await until(
                fleet, lambda hosts: all(seqs(hosts)[n] >= before[n] + 3 for n in hosts if n != bad)
            )
        )
        assert all(during[n] > before[n] for n in during if n != bad)
        assert all(h.status == "ok" for n, h in hosts.items() if n != bad)
    finally:
        remove()
    await until(fleet, lambda hosts: hosts[bad].status == "ok")


# -- one-shot commands ---------------------------------------------------------------------


def test_snapshot_json_over_ssh_shows_every_host_by_its_own_name(
    config: Path, no_gpu_env: dict[str, str]
) -> None:
    code, stdout, stderr = run_aiconsole(
        "--config", str(config), "snapshot", "--json", env=no_gpu_env
    )
    assert code == 0, stderr
    hosts = json.loads(stdout)["hosts"]
    assert [h["name"] for h in hosts] == [f"h{n}" for n in range(1, HOSTS + 1)]
    for host in hosts:
        assert host["status"] == "ok"
        assert host["sample"]["identity"]["hostname"] == host["name"]
        assert host["sample"]["cpu"]["total_percent"] is not None  # two samples, one session
        assert host["sample"]["gpu"]["status"] in ("no_driver", "no_bindings")


def test_hosts_option_and_groups_select_hosts(config: Path, no_gpu_env: dict[str, str]) -> None:
    code, stdout, _ = run_aiconsole(
        "--config", str(config), "--hosts", "@odd!h3", "snapshot", "--json", env=no_gpu_env
    )
    assert code == 0
    assert [h["name"] for h in json.loads(stdout)["hosts"]] == ["h1", "h5"]


def test_hosts_check_prints_a_row_per_host(config: Path, no_gpu_env: dict[str, str]) -> None:
    code, stdout, stderr = run_aiconsole("--config", str(config), "hosts", "check", env=no_gpu_env)
    assert code == 0, stderr
    rows = [line.split() for line in stdout.splitlines()[1:]]
    assert [row[0] for row in rows] == [f"h{n}" for n in range(1, HOSTS + 1)]
    for row in rows:
        assert row[1] == "ok" and row[5] == "0.1.0" and row[-1] == row[0]
        assert all(value.endswith("ms") for value in row[2:5])  # RTT, SSH, CMD


def milliseconds(text: str) -> float:
    assert text.endswith("ms"), text
    return float(text.removesuffix("ms"))


def test_hosts_check_rtt_is_the_network_round_trip_not_a_command(
    estate: Estate, config: Path, no_gpu_env: dict[str, str], tmp_path: Path
) -> None:
    """RTT is the TCP connect: through a ProxyJump (no TCP connection of ours to the host) it
    is n/a, while the handshake and the command are timed as for any host."""
    h1, h3 = estate.host("h1"), estate.host("h3")
    ssh_config = tmp_path / "ssh_config"
    ssh_config.write_text(
        estate.ssh_config.read_text()
        + f"Host via1\n  HostName {h3.address}\n  ProxyJump h1\n"
        + f"  IdentityFile {estate.client_key}\n"
    )
    text = config.read_text().replace(str(estate.ssh_config), str(ssh_config))
    config.write_text(text.replace(f'hosts = "h[1-{HOSTS}]"', 'hosts = "h2,via1"'))
    code, stdout, stderr = run_aiconsole("--config", str(config), "hosts", "check", env=no_gpu_env)
    assert code == 0, stdout + stderr
    lines = stdout.splitlines()
    assert lines[0].split()[:5] == ["HOST", "STATUS", "RTT", "SSH", "CMD"]
    rows = {line.split()[0]: line.split() for line in lines[1:]}
    assert all(milliseconds(value) > 0 for value in rows["h2"][2:5])
    assert rows["via1"][2] == units.NA
    assert milliseconds(rows["via1"][3]) > 0 and milliseconds(rows["via1"][4]) > 0
    assert rows["via1"][-1] == h3.name != h1.name


def test_unreachable_host_is_a_status_and_the_rest_still_report(
    estate: Estate, config: Path, no_gpu_env: dict[str, str], tmp_path: Path
) -> None:
    ssh_config = tmp_path / "ssh_config"
    ssh_config.write_text(estate.ssh_config.read_text() + "Host ghost\n  HostName 198.18.0.250\n")
    text = config.read_text().replace(str(estate.ssh_config), str(ssh_config))
    config.write_text(text.replace(f'hosts = "h[1-{HOSTS}]"', 'hosts = "h1,ghost,h2"'))
    code, stdout, stderr = run_aiconsole(
        "--config", str(config), "--timeout", "1", "snapshot", "--json", env=no_gpu_env
    )
    assert code == 2, stderr
    hosts = {h["name"]: h for h in json.loads(stdout)["hosts"]}
    assert hosts["ghost"]["status"] == "unreachable"
    assert hosts["ghost"]["reason"]
    assert hosts["h1"]["status"] == hosts["h2"]["status"] == "ok"


def test_accept_new_records_an_unknown_key_but_never_a_changed_one(
    estate: Estate, config: Path, no_gpu_env: dict[str, str], tmp_path: Path
) -> None:
    h1 = estate.host("h1")
    own = tmp_path / "known_hosts"  # this test's own copy: h1 missing, h2 with a wrong key
    lines = estate.known_hosts.read_text().splitlines(keepends=True)
    wrong = [*lines[1].split()[:2], lines[0].split()[2]]  # h2's address, h1's key
    own.write_text(" ".join(wrong) + "\n" + "".join(lines[2:]))
    ssh_config = tmp_path / "ssh_config"
    ssh_config.write_text(estate.ssh_config.read_text().replace(str(estate.known_hosts), str(own)))
    text = config.read_text().replace(str(estate.ssh_config), str(ssh_config))
    config.write_text(text.replace(f'hosts = "h[1-{HOSTS}]"', 'hosts = "h1,h2,h3"'))

    def snapshot(*flags: str) -> dict[str, dict[str, str]]:
        code, stdout, stderr = run_aiconsole(
            "--config", str(config), *flags, "snapshot", "--json", "--window", "0", env=no_gpu_env
        )
        assert code == 2, stderr
        return {h["name"]: h for h in json.loads(stdout)["hosts"]}

    strict = snapshot()
    assert strict["h1"]["status"] == strict["h2"]["status"] == "host_key_refused"
    assert strict["h3"]["status"] == "ok"
    assert h1.address not in own.read_text()
    # Two different stories: the unknown key says how to record it, the changed one never.
    assert strict["h1"]["reason"].startswith(f"unknown host key for h1 ({h1.address})")
    assert "--accept-new-host-keys" in strict["h1"]["reason"]
    assert strict["h2"]["reason"].startswith("host key for h2 (")
    assert "has CHANGED: refused" in strict["h2"]["reason"]
    assert f"{own} line 1" in strict["h2"]["reason"]
    assert "accept" not in strict["h2"]["reason"].replace(str(own), "").lower()

    accepting = snapshot("--accept-new-host-keys")
    assert accepting["h1"]["status"] == "ok"
    assert "accepted new host key SHA256:" in accepting["h1"]["reason"]
    assert accepting["h2"]["status"] == "host_key_refused"  # changed: refused all the same
    assert accepting["h2"]["reason"] == strict["h2"]["reason"]
    recorded = [line.split() for line in own.read_text().splitlines()]
    real_key = (h1.directory / "ssh_host_ed25519_key.pub").read_text().split()[:2]
    assert [h1.address, *real_key] in recorded

    again = snapshot()  # the recorded key is now simply trusted, with no notice
    assert again["h1"]["status"] == "ok" and again["h1"]["reason"] is None


async def test_wrong_client_key_is_auth_failed(estate: Estate) -> None:
    estate.identity_overrides["h6"] = estate.wrong_key
    estate.write_ssh_config()
    try:
        fleet = ssh_fleet(["h6"], settings(estate))
        state = await fleet.collectors[0].collect_for_snapshot(0)
        assert state.status == "auth_failed"
        assert "refused our keys" in (state.reason or "")
    finally:
        estate.identity_overrides.clear()
        estate.write_ssh_config()


# -- faults while streaming ------------------------------------------------------------------


async def test_killed_sshd_turns_only_that_host_unreachable(estate: Estate, live: Fleet) -> None:
    host = estate.host("h1")

    def restart() -> None:
        estate.start_sshd(host)
        estate.wait_listening([host])

    await fault_then_recovery(
        live, "h1", "unreachable", "refused", lambda: estate.kill_sshd(host), restart
    )


async def test_link_down_goes_stale_then_unreachable(estate: Estate, live: Fleet) -> None:
    host = estate.host("h2")
    await until(live, lambda hosts: hosts["h2"].status == "ok")
    estate.link(host, up=False)
    try:
        # First stale, the last sample kept and the silence named ...
        stale = await until(live, lambda hosts: hosts["h2"].status == "stale")
        assert (stale["h2"].reason or "").startswith("no sample for ")
        assert stale["h2"].sample is not None
        # ... then unreachable once the silence outlasts the patience, and it says why.
        down = await until(live, lambda hosts: hosts["h2"].status == "unreachable")
        reason = down["h2"].reason or ""
        assert reason.startswith("no data for ") or "timed out" in reason, reason
        assert all(h.status == "ok" for n, h in down.items() if n != "h2")
    finally:
        estate.link(host, up=True)
    await until(live, lambda hosts: hosts["h2"].status == "ok")


async def test_frozen_host_is_stale_while_others_stay_on_schedule(
    estate: Estate, live: Fleet
) -> None:
    host = estate.host("h3")
    await fault_then_recovery(
        live, "h3", "stale", "no sample for", lambda: estate.freeze(host), lambda: estate.thaw(host)
    )


async def test_changed_host_key_is_refused(estate: Estate, live: Fleet) -> None:
    host = estate.host("h4")
    await fault_then_recovery(
        live,
        "h4",
        "host_key_refused",
        "known_hosts",
        lambda: estate.change_host_key(host),
        lambda: estate.write_known_hosts(),
    )


async def test_garbage_from_python3_is_a_probe_error(
    estate: Estate, live: Fleet, tmp_path: Path
) -> None:
    host = estate.host("h5")
    assert host.sshd is not None
    garbage = tmp_path / "python3"
    garbage.write_text("#!/bin/sh\nwhile :; do echo 'hello {not json'; sleep 0.2; done\n")
    garbage.chmod(0o755)
    in_host = ["nsenter", "-t", str(host.sshd.pid), "-m"]

    def inject() -> None:
        subprocess.run([*in_host, "mount", "--bind", str(garbage), "/usr/bin/python3"], check=True)
        estate.kill_sessions(host)  # the running probe ends; the reconnect meets the garbage

    def remove() -> None:
        estate.kill_sessions(host)  # the fake interpreter keeps the mount busy while it runs
        subprocess.run([*in_host, "umount", "--lazy", "/usr/bin/python3"], check=True)

    await fault_then_recovery(live, "h5", "probe_error", "undecodable probe output", inject, remove)
