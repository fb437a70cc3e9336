"""Start the test API server in a background thread and write a kubeconfig that points at it."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.kubeserver.server import KubeHTTPServer
from tests.kubeserver.state import KubeState

TOKEN = "test-token"
CONTEXT = "test"


@dataclass
class RunningServer:
    """A served cluster: `url` (http://127.0.0.1:PORT), `kubeconfig` (a file whose context
    `test` is current), `state` (read and change the cluster directly), `http` (its request log
    in `http.requests`)."""

    url: str
    kubeconfig: Path
    state: KubeState
    http: KubeHTTPServer


def write_kubeconfig(
    path: Path, url: str, token: str | None = TOKEN, context: str = CONTEXT
) -> Path:
    """A kubeconfig (JSON, which YAML readers accept) with one cluster, user and context."""
    user: dict[str, str] = {"token": token} if token else {}
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "preferences": {},
        "clusters": [{"name": context, "cluster": {"server": url}}],
        "users": [{"name": context, "user": user}],
        "contexts": [
            {
                "name": context,
                "context": {"cluster": context, "user": context, "namespace": "default"},
            }
        ],
        "current-context": context,
    }
    path.write_text(json.dumps(config, indent=2))
    return path


@contextmanager
def serve(
    directory: Path, state: KubeState | None = None, require_token: bool = False
) -> Iterator[RunningServer]:
    """Serve `state` (a fresh empty cluster when None) on 127.0.0.1 at an ephemeral port; the
    kubeconfig, written into `directory`, names a user with a bearer token. kubectl sends no
    credentials over plain HTTP (it reads them only for TLS servers), so the server accepts
    anonymous requests unless `require_token`, when every request must carry the token."""
    state = state if state is not None else KubeState()
    http = KubeHTTPServer(state, TOKEN if require_token else None)
    url = f"http://127.0.0.1:{http.server_address[1]}"
    thread = threading.Thread(target=http.serve_forever, name="kubeserver", daemon=True)
    thread.start()
    try:
        kubeconfig = write_kubeconfig(Path(directory) / "kubeconfig", url)
        yield RunningServer(url, kubeconfig, state, http)
    finally:
        state.close()  # ends open watches
        http.shutdown()
        http.server_close()
        thread.join(timeout=10)
