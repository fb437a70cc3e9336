"""Find a real `kubectl` and run it against a test server."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path


def find_kubectl() -> str | None:
    """`$KUBECTL`, else the kubectl on PATH (the machine's own, or Debian's kubernetes-client,
    which scripts/test installs where there is none)."""
    for candidate in (os.environ.get("KUBECTL"), shutil.which("kubectl")):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    return None


def kubectl(
    kubeconfig: Path, *args: str, timeout: float = 120, binary: str | None = None
) -> subprocess.CompletedProcess[str]:
    """Run `kubectl ARGS` with only this kubeconfig and a private discovery cache (a reused
    ephemeral port must not serve another server's cached discovery)."""
    program = binary or find_kubectl()
    if program is None:
        raise FileNotFoundError("no kubectl found")
    env = {
        "PATH": os.environ.get("PATH", os.defpath),
        "HOME": str(kubeconfig.parent),
        "KUBECONFIG": str(kubeconfig),
        "KUBECACHEDIR": str(kubeconfig.parent / "kube-cache"),
    }
    return subprocess.run(
        [
            program,
            "--kubeconfig",
            str(kubeconfig),
            "--cache-dir",
            str(kubeconfig.parent / "kube-cache"),
            *args,
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def kubectl_version(binary: str | None = None) -> tuple[int, int]:
    """(major, minor) of the kubectl client; (0, 0) when there is none."""
    program = binary or find_kubectl()
    if program is None:
        return (0, 0)
    result = subprocess.run(
        [program, "version", "--client", "-o", "json"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    info = json.loads(result.stdout)["clientVersion"]
    return int(info["major"]), int(info["minor"].rstrip("+"))
