"""A small Kubernetes API server for the tests, kept honest by running real kubectl against it.

It serves nodes, pods (with the policy/v1 Eviction subresource: a PodDisruptionBudget that
allows no disruption answers 429 as a real server does), PDBs, DaemonSets, Deployments,
ReplicaSets, StatefulSets, Jobs, namespaces and events over plain HTTP on 127.0.0.1:
get/list/watch (label and field selectors, resourceVersion, watch resume, bookmarks,
timeoutSeconds, 410 Gone after compaction), create/replace, patch (strategic merge, merge,
JSON patch), delete (gracePeriodSeconds), discovery, Table responses for `kubectl get`. A
controller recreates a deleted pod owned by a Job, ReplicaSet or StatefulSet on a node it
fits (taints, nodeSelector, required node affinity, free GPUs).

Start it (a context manager; `directory` receives the kubeconfig)::

    from tests.kubeserver import KubeState, drain_scenario, serve

    @pytest.fixture
    def cluster(tmp_path):
        scenario = drain_scenario()          # or KubeState() and add objects yourself
        with serve(tmp_path, scenario.state) as running:
            yield scenario, running

    running.url          # "http://127.0.0.1:PORT"
    running.kubeconfig   # Path of a kubeconfig whose current context is named "test" (token auth)
    running.state        # the KubeState: read and change the cluster from the test
    running.http.requests  # [(method, path?query), ...] every request the server received

Change the state (every method is thread-safe; watches see each change)::

    from tests.kubeserver import objects as o
    state.add(o.node("n5", gpus=8))
    ds = state.add(o.daemonset("plugin", {"app": "plugin"}))
    state.add(o.pod("p", node="n5", owner=ds, labels={"app": "plugin"}, gpus=1, emptydir=True))
    state.add(o.pdb("web", {"app": "web"}, min_available=1))  # status computed from the pods
    state.set_disruptions_allowed("default", "web", 1)      # the PDB now lets one pod go
    state.release_after("default", "web", refusals=1, allowed=1)  # allow after the first 429
    state.patch("nodes", "", "n5", "application/merge-patch+json", {"spec": {...}})
    state.delete("pods", "default", "p")
    state.compact()          # forget the history: older resourceVersions now get 410 Gone
    state.get("pods", ns, name), state.list("pods"), state.pods_on("n2")
    state.evicted            # [(namespace, name)] of successful evictions, in order
    state.eviction_refusals  # [(namespace, name)] of evictions a PDB refused with 429

`KubeState(controller=False)` turns the pod-recreating controller off;
`KubeState(deletion_delay=2.0)` keeps deleted pods Terminating for 2 s (unless the grace
period is 0); `KubeState(bookmark_interval=1.0)` sends watch bookmarks every second (else only
when a watch ends). `with state.dry_run(): ...` runs writes for their answer only (what
`?dryRun=All` does). `serve(..., require_token=True)` refuses requests without the
kubeconfig's bearer token (kubectl sends none over plain HTTP, the Python clients do).
PDB status is computed once, when the PDB is added; afterwards only evictions and
`set_disruptions_allowed` change it (there is no disruption controller).
`drain_scenario()` builds the drain test cluster (see `scenario.py`): its `evictable` set is
what `kubectl drain n2 --ignore-daemonsets --delete-emptydir-data --force` evicts;
`allow_disruptions()` / `allow_after_refusals()` unblock its PDB.
`kubectl(kubeconfig, "get", "nodes")` runs the real kubectl (see `kubectl.py`).
tests/fixtures/kubernetes/README.md says what kubectl needs from the server and why.
"""

from tests.kubeserver.cluster import CONTEXT, TOKEN, RunningServer, serve, write_kubeconfig
from tests.kubeserver.kubectl import find_kubectl, kubectl
from tests.kubeserver.scenario import DrainScenario, drain_scenario
from tests.kubeserver.state import KubeState

__all__ = [
    "CONTEXT",
    "TOKEN",
    "DrainScenario",
    "KubeState",
    "RunningServer",
    "drain_scenario",
    "find_kubectl",
    "kubectl",
    "serve",
    "write_kubeconfig",
]
