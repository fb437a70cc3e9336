"""Container logs of the test API server: ``GET .../pods/NAME/log`` with ``container``,
``tailLines`` and ``follow``, answered as the real server answers (text/plain; chunked while
following, until the container ends; the real error messages for a missing pod, a pod with
several containers and no ``container``, an unknown container).

Tests write lines with ``state.logs.write(namespace, pod, container, *lines)`` and end a
container's log with ``state.logs.end(...)``.
"""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler
from typing import TYPE_CHECKING

from tests.kubeserver import errors

if TYPE_CHECKING:
    from tests.kubeserver.server import KubeHTTPServer

Key = tuple[str, str, str]


class PodLogs:
    """Every container's log lines (bytes, each with its newline), thread-safe."""

    def __init__(self) -> None:
        self._lines: dict[Key, list[bytes]] = {}
        self._ended: set[Key] = set()
        self._changed = threading.Condition()

    def write(self, namespace: str, pod: str, container: str, *lines: str | bytes) -> None:
        with self._changed:
            log = self._lines.setdefault((namespace, pod, container), [])
            for line in lines:
                data = line.encode() if isinstance(line, str) else line
                log.append(data if data.endswith(b"\n") else data + b"\n")
            self._changed.notify_all()

    def end(self, namespace: str, pod: str, container: str) -> None:
        with self._changed:
            self._ended.add((namespace, pod, container))
            self._changed.notify_all()

    def tail(self, key: Key, count: int | None) -> tuple[list[bytes], int]:
        """The last ``count`` lines (all with None) and the position after them."""
        with self._changed:
            log = self._lines.get(key, [])
            start = 0 if count is None else max(0, len(log) - count)
            return log[start:], len(log)

    def after(self, key: Key, position: int, timeout: float) -> tuple[list[bytes], int, bool]:
        """Lines written after ``position`` (waiting up to ``timeout`` for some), the new
        position, and whether the container has ended."""
        with self._changed:
            self._changed.wait_for(
                lambda: len(self._lines.get(key, [])) > position or key in self._ended, timeout
            )
            log = self._lines.get(key, [])
            return log[position:], len(log), key in self._ended


class LogSubresource(BaseHTTPRequestHandler):
    """The ``log`` subresource of pods, for the server's request handler."""

    server: KubeHTTPServer
    query: dict[str, str]
    streaming = False

    def _pod_log(self, namespace: str, name: str) -> None:
        state = self.server.state
        pod = state.get("pods", namespace, name)  # 404 "pods \"x\" not found" as the real one
        containers = [c["name"] for c in pod["spec"].get("containers", [])]
        container = self.query.get("container") or ""
        if not container:
            if len(containers) != 1:
                raise errors.bad_request(
                    f"a container name must be specified for pod {name}, choose one of: "
                    f"[{' '.join(containers)}]"
                )
            container = containers[0]
        elif container not in containers:
            raise errors.bad_request(f"container {container} is not valid for pod {name}")
        tail_text = self.query.get("tailLines")
        count = None
        if tail_text is not None:
            count = int(tail_text)
            if count < 0:
                raise errors.bad_request("tailLines: Invalid value: must be >= 0")
        key = (namespace, name, container)
        lines, position = state.logs.tail(key, count)
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        self.close_connection = True
        self.streaming = True
        try:
            self._chunk_bytes(b"".join(lines))
            follow = self.query.get("follow", "") in ("1", "t", "T", "true", "TRUE", "True")
            while follow and not state.closed:
                new, position, ended = state.logs.after(key, position, 1.0)
                self._chunk_bytes(b"".join(new))
                if ended:
                    break
            self.wfile.write(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client stopped following

    def _chunk_bytes(self, data: bytes) -> None:
        if data:
            self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
            self.wfile.flush()


def pod_log_request(kind: str, method: str, subresource: str, name: str | None) -> bool:
    return kind == "Pod" and method == "GET" and subresource == "log" and name is not None
