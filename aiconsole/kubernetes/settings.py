"""The ``[kubernetes]`` table of the config file (no ``kubernetes`` import here)::

[kubernetes]
contexts = ["prod-a", "prod-b"]     # kubeconfig contexts to watch; "all" for every one
kubeconfig = "~/.kube/config"       # default: $KUBECONFIG (several files), ~/.kube/config
timeout = 5.0                       # seconds per API request
max_out_of_service = 0.25           # share of a cluster's GPU nodes out at once
# or per context: max_out_of_service = { prod-a = 0.1, prod-b = 0.25 }
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiconsole.kubernetes.names import InvalidName, check_context

Fail = Callable[[str, str], Exception]
"""(key, problem) -> the error to raise, naming the file and line."""


@dataclass(frozen=True)
class KubeSettings:
    contexts: tuple[str, ...] = ()
    kubeconfig: str | None = None
    timeout: float = 5.0
    max_out_of_service: float | None = None
    """None: ``settings.max_out_of_service``."""
    max_out_of_service_per_context: dict[str, float] = field(default_factory=dict)

    def cap_for(self, context: str, default: float) -> float:
        if context in self.max_out_of_service_per_context:
            return self.max_out_of_service_per_context[context]
        return default if self.max_out_of_service is None else self.max_out_of_service


def _share(value: Any, key: str, fail: Fail) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value <= 1:
        raise fail(key, "must be a share in (0, 1]")
    return float(value)


def parse_kubernetes(raw: Any, fail: Fail) -> KubeSettings:
    if not isinstance(raw, dict):
        raise fail("kubernetes", "must be a table")
    unknown = set(raw) - {"contexts", "kubeconfig", "timeout", "max_out_of_service"}
    if unknown:
        raise fail(
            sorted(unknown)[0], "unknown key (contexts, kubeconfig, timeout, max_out_of_service)"
        )
    contexts = raw.get("contexts", [])
    if isinstance(contexts, str):
        contexts = [contexts]
    if not isinstance(contexts, list) or not all(isinstance(c, str) for c in contexts):
        raise fail("contexts", 'must be a list of kubeconfig context names (or "all")')
    try:
        for context in contexts:
            check_context(context)
    except InvalidName as error:
        raise fail("contexts", str(error)) from None
    kubeconfig = raw.get("kubeconfig")
    if kubeconfig is not None:
        if not isinstance(kubeconfig, str):
            raise fail("kubeconfig", "must be a path")
        kubeconfig = str(Path(kubeconfig).expanduser())
    timeout = raw.get("timeout", 5.0)
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout <= 0:
        raise fail("timeout", "must be a positive number of seconds")
    cap = raw.get("max_out_of_service")
    per_context: dict[str, float] = {}
    if isinstance(cap, dict):
        per_context = {name: _share(v, "max_out_of_service", fail) for name, v in cap.items()}
        cap = None
    elif cap is not None:
        cap = _share(cap, "max_out_of_service", fail)
    return KubeSettings(
        contexts=tuple(contexts),
        kubeconfig=kubeconfig,
        timeout=float(timeout),
        max_out_of_service=cap,
        max_out_of_service_per_context=per_context,
    )
