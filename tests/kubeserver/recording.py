"""The drain scenario as recorded JSON (tests/fixtures/kubernetes/drain-scenario.json): the
objects a `kubectl get ... -o json` of each kind returns, with the values that change from run
to run (uids, resourceVersions, timestamps) made stable. Regenerate with
`.venv/bin/python -m tests.kubeserver.recording > tests/fixtures/kubernetes/drain-scenario.json`."""

from __future__ import annotations

import json
import re
import uuid
from pathlib import Path
from typing import Any

from tests.kubeserver.resources import RESOURCES
from tests.kubeserver.scenario import drain_scenario
from tests.kubeserver.state import KubeState

Obj = dict[str, Any]
FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "kubernetes" / "drain-scenario.json"
STABLE_TIME = "2026-01-01T00:00:00Z"
_TIME_KEYS = ("creationTimestamp", "timeAdded", "lastTransitionTime", "lastHeartbeatTime")
_UID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def _stable(value: Any, uids: dict[str, str]) -> Any:
    if isinstance(value, dict):
        out: Obj = {}
        for key, item in value.items():
            if key in _TIME_KEYS:
                out[key] = STABLE_TIME
            elif key == "resourceVersion":
                out[key] = "1"
            elif key == "uid" and isinstance(item, str) and _UID.match(item):
                out[key] = uids.setdefault(
                    item, str(uuid.uuid5(uuid.NAMESPACE_OID, str(len(uids))))
                )
            else:
                out[key] = _stable(item, uids)
        return out
    if isinstance(value, list):
        return [_stable(item, uids) for item in value]
    return value


def record(state: KubeState) -> Obj:
    """Every object of the state, kind by kind, as one `v1` List with stable volatile fields."""
    items: list[Obj] = []
    for resource in RESOURCES:
        items += state.list(resource.plural)[0]
    uids: dict[str, str] = {}
    return {
        "apiVersion": "v1",
        "kind": "List",
        "metadata": {"resourceVersion": ""},
        "items": [_stable(item, uids) for item in items],
    }


def render(state: KubeState) -> str:
    return json.dumps(record(state), indent=1, sort_keys=True) + "\n"


if __name__ == "__main__":
    print(render(drain_scenario().state), end="")
