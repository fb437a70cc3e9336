"""Kubernetes reading cost: list + watch of a large cluster from the test API server.

The server runs in a child process (its CPU is not the console's): N nodes, M pods. Measured
here, in the console's process: the time and CPU to the first full picture, then, while the
server changes C pods a second, the console's CPU and RSS per published update and per pod
change. Baseline in the same run: ``kubectl get pods -A -o json`` (wall, CPU, max RSS), and
how long a cancelled watch keeps its connection: ``kubernetes.aio`` as aiconsole uses it
against the sync client's watch in a thread. Prints figures; asserts nothing.

    .venv/bin/python bench/kubernetes.py --nodes 1000 --pods 20000 --rate 100 --seconds 20
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

# Run as a script, this file's folder comes first on sys.path, where this very file would
# shadow the ``kubernetes`` package: put the repository there instead.
HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]
sys.path.insert(0, str(HERE.parent))


def serve_forever(directory: Path, nodes: int, pods: int, rate: float) -> None:
    """The child: build the cluster, print the kubeconfig path, churn pods on 'churn'."""
    from tests.kubeserver import KubeState, serve
    from tests.kubeserver import objects as o

    class BenchState(KubeState):
        # The test server deep-copies every object on every list page; that is the test
        # server's cost, not a real API server's, so lists hand out shallow copies here.
        def list(self, plural: str, namespace: str | None = None):  # type: ignore[no-untyped-def,override]
            with self.lock:
                items = [
                    dict(obj)
                    for (space, _), obj in sorted(self._objects[plural].items())
                    if namespace is None or space == namespace
                ]
                return items, self._version

    state = BenchState(controller=False)
    state.add(o.namespace("bench"))
    owner = state.add(o.replicaset("work", {"app": "work"}, namespace="bench", replicas=pods))
    for n in range(nodes):
        state.add(o.node(f"gpu{n:04d}", gpus=8))
    for p in range(pods):
        state.add(
            o.pod(f"work-{p:05d}", node=f"gpu{p % nodes:04d}", namespace="bench", owner=owner,
                  labels={"app": "work"}, gpus=p % 3)
        )  # fmt: skip
    with serve(directory, state) as running:
        print(running.kubeconfig, flush=True)
        for line in sys.stdin:
            if line.strip() == "churn":
                threading.Thread(target=churn, args=(state, pods, rate), daemon=True).start()


def churn(state: object, pods: int, rate: float) -> None:
    """Change ``rate`` pods a second (a restart count bump, as a crash-looping pod does)."""
    count = 0
    started = time.monotonic()
    while True:
        name = f"work-{random.randrange(pods):05d}"
        count += 1
        patch = {"metadata": {"annotations": {"bench/tick": str(count)}}}
        state.patch("pods", "bench", name, "application/merge-patch+json", patch)  # type: ignore[attr-defined]
        delay = started + count / rate - time.monotonic()
        if delay > 0:
            time.sleep(delay)


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def established_to(port: int) -> int:
    lines = Path("/proc/net/tcp").read_text().splitlines()[1:]
    return sum(1 for f in map(str.split, lines) if f[2].endswith(f":{port:04X}") and f[3] == "01")


async def watch_and_churn(
    kubeconfig: str, server: subprocess.Popen[str], args: argparse.Namespace
) -> None:
    from aiconsole.collectors.kubernetes import KubeCollector
    from aiconsole.store import FleetStore

    store = FleetStore()
    cpu0, wall0 = time.process_time(), time.perf_counter()
    collector = KubeCollector("test", store, kubeconfig=kubeconfig, timeout=120)
    task = asyncio.create_task(collector.run())
    while True:
        cluster = store.kube("test")
        if cluster is not None and cluster.status == "ok" and len(cluster.pods) == args.pods:
            break
        await asyncio.sleep(0.01)
    print(
        f"aiconsole list+watch: first full picture ({len(cluster.nodes)} nodes, "
        f"{len(cluster.pods)} pods) in {time.perf_counter() - wall0:.2f} s wall, "
        f"{time.process_time() - cpu0:.2f} s console CPU, RSS {rss_mb():.0f} MB"
    )
    await asyncio.sleep(2)  # settle
    assert server.stdin is not None
    server.stdin.write("churn\n")
    server.stdin.flush()
    publishes0, cpu1, wall1 = collector.publishes, time.process_time(), time.perf_counter()
    versions0 = collector._pods.version if collector._pods else None
    await asyncio.sleep(args.seconds)
    cpu, wall = time.process_time() - cpu1, time.perf_counter() - wall1
    updates = collector.publishes - publishes0
    changes = args.rate * wall
    print(
        f"aiconsole at {args.rate:g} pod changes/s for {wall:.0f} s: console CPU "
        f"{100 * cpu / wall:.1f}% of a core; {updates} published updates, "
        f"{1000 * cpu / max(updates, 1):.1f} ms CPU per update, "
        f"{1e6 * cpu / changes:.0f} us CPU per pod change; RSS {rss_mb():.0f} MB "
        f"(resourceVersion {versions0} -> {collector._pods.version if collector._pods else None})"
    )
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    await collector.aclose()


def kubectl_baseline(kubeconfig: str) -> None:
    from tests.kubeserver import find_kubectl

    binary = find_kubectl()
    if binary is None:
        print("kubectl: not found, no baseline")
        return
    started = time.perf_counter()
    child = subprocess.Popen(
        [binary, "--kubeconfig", kubeconfig, "get", "pods", "-A", "-o", "json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "HOME": str(Path(kubeconfig).parent)},
    )
    assert child.stdout is not None
    data = child.stdout.read()
    _, _, usage = os.wait4(child.pid, 0)
    wall = time.perf_counter() - started
    # Counted, not parsed: parsing ~100 MB here would inflate the console's peak RSS below.
    items = data.count(b'"kind": "Pod"')
    print(
        f"kubectl get pods -A -o json: {items} pods in {wall:.2f} s wall, "
        f"{usage.ru_utime + usage.ru_stime:.2f} s CPU, max RSS {usage.ru_maxrss / 1024:.0f} MB "
        "(one picture, no updates: each refresh costs this again)"
    )


async def one_list(kubeconfig: str) -> None:
    from aiconsole.collectors.kubernetes import KubeCollector
    from aiconsole.store import FleetStore

    collector = KubeCollector("test", FleetStore(), kubeconfig=kubeconfig, timeout=120)
    cpu0, wall0 = time.process_time(), time.perf_counter()
    cluster = await collector.poll_once()
    print(
        f"aiconsole one-shot list (snapshot): {len(cluster.pods)} pods, {cluster.status}"
        f"{' ' + cluster.reason if cluster.reason else ''}, in "
        f"{time.perf_counter() - wall0:.2f} s wall, {time.process_time() - cpu0:.2f} s CPU"
    )
    await collector.aclose()


async def cancel_release(kubeconfig: str, port: int) -> None:
    """How long a cancelled watch keeps its connection (server timeoutSeconds=4)."""
    from aiconsole.kubernetes.api import KubeApi

    api = await KubeApi.connect("test", kubeconfig)

    async def consume() -> None:
        async for _ in api.watch("/api/v1/nodes", {}, 4):
            pass

    task = asyncio.create_task(consume())
    while established_to(port) < 1:
        await asyncio.sleep(0.005)
    started = time.perf_counter()
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    while established_to(port) > 0:
        await asyncio.sleep(0.005)
    aio = time.perf_counter() - started
    await api.close()

    from kubernetes import client, config, watch

    api_client = config.new_client_from_config(config_file=kubeconfig, context="test")
    core = client.CoreV1Api(api_client)

    def blocking_watch() -> None:
        for _ in watch.Watch().stream(core.list_node, timeout_seconds=4):
            pass

    task = asyncio.create_task(asyncio.to_thread(blocking_watch))
    while established_to(port) < 1:
        await asyncio.sleep(0.005)
    started = time.perf_counter()
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    while established_to(port) > 0 and time.perf_counter() - started < 10:
        await asyncio.sleep(0.005)
    sync = time.perf_counter() - started
    api_client.close()
    print(
        f"cancelled watch lets go of its connection: kubernetes.aio (aiconsole) after "
        f"{aio * 1000:.0f} ms; sync client in a thread after {sync:.2f} s (timeoutSeconds=4)"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--nodes", type=int, default=1000)
    parser.add_argument("--pods", type=int, default=20000)
    parser.add_argument("--rate", type=float, default=100.0, help="pod changes per second")
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--serve", metavar="DIR", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve_forever(Path(args.serve), args.nodes, args.pods, args.rate)
        return
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        server = subprocess.Popen(
            [sys.executable, __file__, "--serve", tmp, "--nodes", str(args.nodes),
             "--pods", str(args.pods), "--rate", str(args.rate)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        )  # fmt: skip
        assert server.stdout is not None
        kubeconfig = server.stdout.readline().strip()
        url = json.loads(Path(kubeconfig).read_text())["clusters"][0]["cluster"]["server"]
        print(
            f"test API server: {args.nodes} nodes, {args.pods} pods, built in "
            f"{time.perf_counter() - started:.0f} s ({url})"
        )
        try:
            kubectl_baseline(kubeconfig)
            asyncio.run(one_list(kubeconfig))
            asyncio.run(cancel_release(kubeconfig, int(url.rsplit(":", 1)[1])))
            asyncio.run(watch_and_churn(kubeconfig, server, args))
        finally:
            server.kill()
            server.wait()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"console max RSS over the run: {peak:.0f} MB")


if __name__ == "__main__":
    main()
