"""List + watch against the test API server: changes arrive, 410 Gone relists, a cancelled
watch lets go of its connection at once, a dead API server holds up only its own cluster."""

from __future__ import annotations

import asyncio
import json
import socket
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from aiconsole.collectors.kubernetes import KubeCollector
from aiconsole.model import KubeCluster
from aiconsole.store import FleetStore
from tests.kubeserver import DrainScenario, RunningServer, drain_scenario, serve
from tests.kubeserver import objects as o
from tests.kubeserver.cluster import write_kubeconfig


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[tuple[DrainScenario, RunningServer]]:
    scenario = drain_scenario()
    with serve(tmp_path, scenario.state) as running:
        yield scenario, running


async def until(check: Callable[[], bool], what: str, limit: float = 20.0) -> None:
    """Wait for a condition the code under test must reach (a hang fails, not a slow run)."""
    for _ in range(int(limit / 0.02)):
        if check():
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"never happened: {what}")


def pods_of(cluster: KubeCluster | None) -> set[str]:
    return {f"{p.namespace}/{p.name}" for p in cluster.pods} if cluster else set()


def established_to(port: int) -> int:
    """Client sockets of this machine ESTABLISHED to 127.0.0.1:port (from /proc/net/tcp)."""
    count = 0
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        remote, state = fields[2], fields[3]
        if remote.endswith(f":{port:04X}") and state == "01":
            count += 1
    return count


def test_watch_follows_changes_and_relists_after_410(
    cluster: tuple[DrainScenario, RunningServer],
) -> None:
    scenario, running = cluster
    state = scenario.state

    async def scenario_run() -> None:
        store = FleetStore()
        # A 1 s server-side watch timeout: each watch ends and resumes from its version.
        collector = KubeCollector(
            "test", store, kubeconfig=str(running.kubeconfig), watch_timeout=1, min_publish=0.05
        )
        task = asyncio.create_task(collector.run())
        try:
            await until(lambda: len(pods_of(store.kube("test"))) == 12, "the first full picture")
            first = store.kube("test")
            assert first is not None and first.status == "ok"
            state.add(o.pod("fresh", node="n4", namespace="ml", gpus=2))
            await until(lambda: "ml/fresh" in pods_of(store.kube("test")), "an added pod")
            n4 = next(n for n in store.kube("test").nodes if n.name == "n4")  # type: ignore[union-attr]
            assert n4.gpu_requested == {"nvidia.com/gpu": 3}  # notebook 1 + fresh 2
            assert collector._pods is not None
            relists = collector._pods.relists
            # A change no watch has seen, then the history forgotten: 410 Gone for the watch.
            with state.lock:
                state.delete("pods", "default", "notebook")
                state.compact()
            await until(
                lambda: "default/notebook" not in pods_of(store.kube("test")), "a deleted pod"
            )
            await until(lambda: collector._pods.relists > relists, "a relist after 410")  # type: ignore[union-attr]
            assert store.kube("test").status == "ok"  # type: ignore[union-attr]
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            await collector.aclose()

    asyncio.run(scenario_run())


def test_a_cancelled_watch_lets_go_of_its_connection_at_once(
    cluster: tuple[DrainScenario, RunningServer],
) -> None:
    _, running = cluster
    port = int(running.url.rsplit(":", 1)[1])

    async def scenario_run() -> tuple[int, int]:
        from aiconsole.kubernetes.api import KubeApi
        from aiconsole.kubernetes.objects import pod_from
        from aiconsole.kubernetes.reflector import Reflector

        # Only watch requests on this connection pool: no idle kept-alive list connection
        # can be mistaken for a watch that did not let go.
        api = await KubeApi.connect("test", str(running.kubeconfig))
        watching = asyncio.Event()
        pods = Reflector(api, "/api/v1/pods", pod_from, on_change=watching.set)
        pods.synced, pods.version = True, str(running.state.resource_version)
        task = asyncio.create_task(pods.run())  # watches with a 300 s server timeout
        await asyncio.wait_for(watching.wait(), 20)
        during = established_to(port)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await asyncio.sleep(0)  # one turn of the loop, nothing like the server's 300 s
        after = established_to(port)
        await api.close()
        return during, after

    during, after = asyncio.run(scenario_run())
    assert during == 1
    assert after == 0


def test_a_dead_api_server_holds_up_only_its_own_cluster(
    cluster: tuple[DrainScenario, RunningServer], tmp_path: Path
) -> None:
    _, running = cluster
    # A server that accepts connections and never answers (the worst kind of dead).
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(16)
    dead = write_kubeconfig(
        tmp_path / "dead-config", f"http://127.0.0.1:{silent.getsockname()[1]}", context="dead"
    )

    async def scenario_run() -> tuple[str, str]:
        store = FleetStore()
        collectors = [
            KubeCollector("dead", store, kubeconfig=str(dead), timeout=30.0),
            KubeCollector("test", store, kubeconfig=str(running.kubeconfig)),
        ]
        tasks = [asyncio.create_task(c.run()) for c in collectors]
        try:
            await until(lambda: store.kube("test").status == "ok", "the live cluster read")  # type: ignore[union-attr]
            return store.kube("dead").status, store.kube("test").status  # type: ignore[union-attr]
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            for collector in collectors:
                await collector.aclose()

    try:
        assert asyncio.run(scenario_run()) == ("connecting", "ok")
    finally:
        silent.close()


def test_an_exec_plugin_token_that_expired_is_fetched_again_on_401(tmp_path: Path) -> None:
    """The exec auth plugin (EKS/GKE/AKS style) runs again when the server says 401."""
    from tests.kubeserver import TOKEN

    calls = tmp_path / "calls"
    plugin = tmp_path / "token-plugin"
    plugin.write_text(
        f"#!{sys.executable}\n"
        "import json, pathlib\n"
        f"calls = pathlib.Path({str(calls)!r})\n"
        "n = int(calls.read_text()) + 1 if calls.exists() else 1\n"
        "calls.write_text(str(n))\n"
        f"token = 'expired' if n == 1 else {TOKEN!r}\n"
        "print(json.dumps({'apiVersion': 'client.authentication.k8s.io/v1beta1',\n"
        "                  'kind': 'ExecCredential', 'status': {'token': token}}))\n"
    )
    plugin.chmod(0o755)
    scenario = drain_scenario()
    (tmp_path / "srv").mkdir()
    with serve(tmp_path / "srv", scenario.state, require_token=True) as running:
        config = json.loads(running.kubeconfig.read_text())
        config["users"][0]["user"] = {
            "exec": {
                "apiVersion": "client.authentication.k8s.io/v1beta1",
                "command": str(plugin),
                "interactiveMode": "Never",
            }
        }
        running.kubeconfig.write_text(json.dumps(config))

        async def read() -> KubeCluster:
            collector = KubeCollector("test", FleetStore(), kubeconfig=str(running.kubeconfig))
            try:
                return await collector.poll_once()
            finally:
                await collector.aclose()

        result = asyncio.run(read())
    assert (result.status, result.reason, len(result.pods)) == ("ok", None, 12)
    assert calls.read_text() == "2"  # once at start (expired), once after the 401
