"""Watch streams of the test API server: chunked HTTP, one JSON event a line, as the real
server sends them (initial ADDED events, changes filtered by selectors, bookmarks, ERROR 410)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler
from typing import TYPE_CHECKING, Any

from tests.kubeserver import errors, tables
from tests.kubeserver.resources import Resource
from tests.kubeserver.selectors import SelectorError, field_matcher, label_matcher
from tests.kubeserver.state import Change

if TYPE_CHECKING:
    from tests.kubeserver.server import KubeHTTPServer

Obj = dict[str, Any]
Matcher = Callable[[Obj], bool]
DEFAULT_WATCH_SECONDS = 1800.0


class Streaming(BaseHTTPRequestHandler):
    """The parts of the request handler that read the query and stream watch events."""

    server: KubeHTTPServer
    query: dict[str, str]
    streaming = False

    def _flag(self, name: str) -> bool:
        """A boolean query parameter, read as Go's strconv.ParseBool reads it."""
        return self.query.get(name, "") in ("1", "t", "T", "true", "TRUE", "True")

    def _wants_table(self) -> bool:
        return "as=Table" in (self.headers.get("Accept") or "")

    # ---- selectors and watches ---------------------------------------------------------

    def _matcher(self, resource: Resource, namespace: str | None) -> Matcher:
        try:
            labels = label_matcher(self.query.get("labelSelector"))
            fields = field_matcher(resource.kind, self.query.get("fieldSelector"))
        except SelectorError as error:
            raise errors.bad_request(str(error)) from error

        def matches(obj: Obj) -> bool:
            in_namespace = namespace is None or obj["metadata"].get("namespace") == namespace
            return in_namespace and labels(obj) and fields(obj)

        return matches

    def _watch(self, resource: Resource, namespace: str | None) -> None:
        matches = self._matcher(resource, namespace)
        state = self.server.state
        timeout = float(self.query.get("timeoutSeconds") or DEFAULT_WATCH_SECONDS)
        deadline = time.monotonic() + timeout
        bookmarks = self._flag("allowWatchBookmarks")
        requested = self.query.get("resourceVersion") or ""
        initial = self._flag("sendInitialEvents") or requested in ("", "0")
        since = 0 if initial else _version(requested)
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        self.close_connection = True
        self.streaming = True  # from here on an error can only be an ERROR event
        try:
            if initial:
                with state.lock:
                    items, since = state.list(resource.plural, namespace)
                for obj in items:
                    if matches(obj):
                        self._event(resource, "ADDED", obj)
                if self._flag("sendInitialEvents"):
                    self._bookmark(resource, since, initial_end=True)
            next_bookmark = time.monotonic() + (state.bookmark_interval or DEFAULT_WATCH_SECONDS)
            while not state.closed:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                try:
                    changes = state.changes_after(since, min(remaining, 1.0))
                except errors.ApiError as error:
                    self._chunk({"type": "ERROR", "object": error.status()})
                    break
                for change in changes:
                    since = change.resource_version
                    if change.plural == resource.plural:
                        self._send_change(resource, change, matches)
                if bookmarks and state.bookmark_interval and time.monotonic() >= next_bookmark:
                    self._bookmark(resource, since)
                    next_bookmark = time.monotonic() + state.bookmark_interval
            if bookmarks and not state.closed:
                self._bookmark(resource, since)
            self.wfile.write(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client went away

    def _send_change(self, resource: Resource, change: Change, matches: Matcher) -> None:
        now_matches = matches(change.object)
        before = change.previous is not None and matches(change.previous)
        if change.type == "MODIFIED" and now_matches and not before:
            self._event(resource, "ADDED", change.object)
        elif change.type == "MODIFIED" and before and not now_matches:
            self._event(resource, "DELETED", change.object)
        elif now_matches:
            self._event(resource, change.type, change.object)

    def _event(self, resource: Resource, kind: str, obj: Obj) -> None:
        if self._wants_table():
            obj = tables.table(
                resource.kind,
                [obj],
                obj["metadata"]["resourceVersion"],
                self.query.get("includeObject", "Metadata"),
            )
        self._chunk({"type": kind, "object": obj})

    def _bookmark(self, resource: Resource, version: int, initial_end: bool = False) -> None:
        metadata: Obj = {"resourceVersion": str(version)}
        if initial_end:
            metadata["annotations"] = {"k8s.io/initial-events-end": "true"}
        self._chunk(
            {
                "type": "BOOKMARK",
                "object": {
                    "kind": resource.kind,
                    "apiVersion": resource.group_version,
                    "metadata": metadata,
                },
            }
        )

    def _chunk(self, event: Obj) -> None:
        data = json.dumps(event).encode() + b"\n"
        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        self.wfile.flush()


def _version(text: str) -> int:
    try:
        return int(text)
    except ValueError as error:
        raise errors.bad_request(f"invalid resource version {text!r}") from error
