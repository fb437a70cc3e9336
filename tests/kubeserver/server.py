"""The HTTP side of the test API server: routing, JSON and protobuf DeleteOptions bodies,
errors as Status objects, lists and Tables, on the stdlib's threading HTTP server."""

from __future__ import annotations

import base64
import json
from http.server import ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.kubeserver import errors, protobuf, resources, tables
from tests.kubeserver.logs import LogSubresource, pod_log_request
from tests.kubeserver.resources import Resource
from tests.kubeserver.state import KubeState
from tests.kubeserver.streaming import Streaming

Obj = dict[str, Any]


class KubeHTTPServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, state: KubeState, token: str | None) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.state, self.token = state, token
        self.requests: list[tuple[str, str]] = []  # (method, path with query), for tests


class Handler(Streaming, LogSubresource):
    protocol_version = "HTTP/1.1"
    server: KubeHTTPServer

    def log_message(self, format: str, *args: Any) -> None:
        pass  # the tests read `server.requests` instead of a log on stderr

    def do_GET(self) -> None:
        self._serve("GET")

    def do_POST(self) -> None:
        self._serve("POST")

    def do_PUT(self) -> None:
        self._serve("PUT")

    def do_PATCH(self) -> None:
        self._serve("PATCH")

    def do_DELETE(self) -> None:
        self._serve("DELETE")

    # ---- plumbing ------------------------------------------------------------------------

    def _serve(self, method: str) -> None:
        url = urlsplit(self.path)
        self.server.requests.append((method, self.path))
        self.query = {key: values[-1] for key, values in parse_qs(url.query).items()}
        try:
            body = self._read_body()
            if (
                self.server.token
                and self.headers.get("Authorization") != f"Bearer {self.server.token}"
            ):
                raise errors.ApiError(401, "Unauthorized", "Unauthorized")
            self._route(method, [p for p in url.path.split("/") if p], body)
        except Exception as error:
            if self.streaming:  # the 200 has gone out: a watch can only end
                raise
            if isinstance(error, errors.ApiError):
                failure = error
            elif isinstance(error, (ValueError, KeyError, TypeError)):
                failure = errors.bad_request(f"malformed request: {error!r}")
            else:  # a fault of the test server itself: say so in the answer too
                failure = errors.ApiError(500, "InternalError", repr(error))
            self._send(failure.code, failure.status())

    def _read_body(self) -> Any:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        if not raw:
            return None
        if (self.headers.get("Content-Type") or "").startswith(protobuf.MEDIA_TYPE):
            return protobuf.decode(raw)
        try:
            return json.loads(raw)
        except json.JSONDecodeError as error:
            raise errors.bad_request(f"the request body is not JSON: {error}") from error

    def _send(self, code: int, body: Obj) -> None:
        data = json.dumps(body).encode()
        self.send_response(code)
        # Exactly `application/json`: some clients parse error bodies only for that type.
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Audit-Id", "00000000-0000-0000-0000-000000000000")
        self.end_headers()
        self.wfile.write(data)

    def _route(self, method: str, parts: list[str], body: Any) -> None:
        discovery = self._discovery(parts) if method == "GET" else None
        if discovery is not None:
            self._send(200, discovery)
            return
        if parts[:2] == ["api", "v1"]:
            group, version, rest = "", "v1", parts[2:]
        elif len(parts) >= 3 and parts[0] == "apis":
            group, version, rest = parts[1], parts[2], parts[3:]
        else:
            raise errors.ApiError(
                404, "NotFound", "the server could not find the requested resource"
            )
        watch = self._flag("watch")
        if rest[:1] == ["watch"]:
            watch, rest = True, rest[1:]
        namespace = None
        if len(rest) >= 3 and rest[0] == "namespaces" and resources.find(group, version, rest[2]):
            namespace, rest = rest[1], rest[2:]
        resource = resources.find(group, version, rest[0]) if rest else None
        if resource is None or len(rest) > 3:
            raise errors.ApiError(
                404, "NotFound", "the server could not find the requested resource"
            )
        name = rest[1] if len(rest) > 1 else None
        subresource = rest[2] if len(rest) > 2 else ""
        if pod_log_request(resource.kind, method, subresource, name):
            assert name is not None
            self._pod_log(namespace or "", name)
            return
        if subresource not in ("", "status") and not (
            resource.kind == "Pod" and subresource == "eviction"
        ):
            raise errors.ApiError(
                404, "NotFound", "the server could not find the requested resource"
            )
        space = namespace or ""
        if method == "GET":
            self._read(resource, space, name, watch)
            return
        if _dry_run(self.query, method, subresource, body):
            # Answered once the state is put back: a client must never see the dry run's writes.
            with self.server.state.dry_run():
                code, answer = self._write(method, resource, space, name, subresource, body)
        else:
            code, answer = self._write(method, resource, space, name, subresource, body)
        self._send(code, answer)

    def _discovery(self, parts: list[str]) -> Obj | None:
        if parts == ["version"]:
            return dict(resources.SERVER_VERSION)
        if parts == ["api"]:
            return resources.core_versions()
        if parts == ["apis"]:
            return resources.group_list()
        if parts == ["api", "v1"]:
            return resources.resource_list("", "v1")
        if len(parts) == 2 and parts[0] == "apis" and parts[1] in resources.GROUPS:
            return resources.group_document(parts[1])
        if len(parts) == 3 and parts[0] == "apis":
            return resources.resource_list(parts[1], parts[2])
        return None

    def _read(self, resource: Resource, namespace: str, name: str | None, watch: bool) -> None:
        if name is None and watch:
            self._watch(resource, namespace or None)
        elif name is None:
            self._list(resource, namespace or None)
        else:
            obj = self.server.state.get(resource.plural, namespace, name)
            if self._wants_table():
                include = self.query.get("includeObject", "Metadata")
                version = obj["metadata"]["resourceVersion"]
                self._send(200, tables.table(resource.kind, [obj], version, include))
            else:
                self._send(200, obj)

    def _write(
        self,
        method: str,
        resource: Resource,
        namespace: str,
        name: str | None,
        subresource: str,
        body: Any,
    ) -> tuple[int, Obj]:
        state, plural = self.server.state, resource.plural
        if method == "POST" and name is None:
            return 201, state.create(plural, body or {}, namespace or None)
        if name is None:
            raise errors.ApiError(
                405, "MethodNotAllowed", "the server does not allow this method on a collection"
            )
        if method == "POST" and subresource == "eviction":
            return 201, state.evict(namespace, name, body or {})
        if method == "PUT":
            return 200, state.replace(plural, namespace, name, body or {}, subresource)
        if method == "PATCH":
            content_type = self.headers.get("Content-Type") or ""
            if "apply-patch" in content_type:
                raise errors.ApiError(
                    415,
                    "UnsupportedMediaType",
                    "the test server does not implement server-side apply",
                )
            return 200, state.patch(plural, namespace, name, content_type, body, subresource)
        if method == "DELETE":
            grace = self.query.get("gracePeriodSeconds")
            if grace is None and isinstance(body, dict):
                grace = body.get("gracePeriodSeconds")
            self._check_preconditions(state.get(plural, namespace, name), body)
            return 200, state.delete(plural, namespace, name, None if grace is None else int(grace))
        raise errors.ApiError(
            405,
            "MethodNotAllowed",
            "the server does not allow this method on the requested resource",
        )

    @staticmethod
    def _check_preconditions(current: Obj, body: Any) -> None:
        preconditions = (body or {}).get("preconditions") or {} if isinstance(body, dict) else {}
        uid = preconditions.get("uid")
        if uid and uid != current["metadata"]["uid"]:
            raise errors.ApiError(
                409,
                "Conflict",
                f"Precondition failed: UID in precondition: {uid}, "
                f"UID in object meta: {current['metadata']['uid']}",
            )

    # ---- list and watch ------------------------------------------------------------------

    def _list(self, resource: Resource, namespace: str | None) -> None:
        matches = self._matcher(resource, namespace)
        state = self.server.state
        exact = self.query.get("resourceVersionMatch") == "Exact"
        if exact and self.query.get("resourceVersion"):
            state.check_version(int(self.query["resourceVersion"]))
        items, version = state.list(resource.plural, namespace)
        items = [obj for obj in items if matches(obj)]
        continue_token = ""
        start = self.query.get("continue")
        if start:
            after_version, after_key = _decode_continue(start)
            state.check_version(after_version)
            items = [obj for obj in items if _key(obj) > after_key]
        limit = int(self.query.get("limit") or 0)
        if limit and len(items) > limit:
            items = items[:limit]
            continue_token = _encode_continue(version, _key(items[-1]))
        if self._wants_table():
            body = tables.table(
                resource.kind, items, str(version), self.query.get("includeObject", "Metadata")
            )
            if continue_token:
                body["metadata"]["continue"] = continue_token
            self._send(200, body)
            return
        for item in items:
            del item["kind"], item["apiVersion"]  # a real list carries them only once, on top
        metadata: Obj = {"resourceVersion": str(version)}
        if continue_token:
            metadata["continue"] = continue_token
        self._send(
            200,
            {
                "kind": f"{resource.kind}List",
                "apiVersion": resource.group_version,
                "metadata": metadata,
                "items": items,
            },
        )


def _dry_run(query: dict[str, str], method: str, subresource: str, body: Any) -> bool:
    """`?dryRun=All`, or the DeleteOptions of a DELETE or an Eviction saying `dryRun: [All]`."""
    if query.get("dryRun") == "All":
        return True
    if not isinstance(body, dict):
        return False
    if subresource == "eviction":
        options = body.get("deleteOptions")  # an Eviction body need not carry its kind
    else:
        options = body if method == "DELETE" else None
    return isinstance(options, dict) and "All" in (options.get("dryRun") or [])


def _key(obj: Obj) -> tuple[str, str]:
    """The order of a real server's lists (its storage keys): namespace, then name."""
    return obj["metadata"].get("namespace", ""), obj["metadata"]["name"]


def _encode_continue(version: int, key: tuple[str, str]) -> str:
    return base64.urlsafe_b64encode(json.dumps([version, *key]).encode()).decode()


def _decode_continue(token: str) -> tuple[int, tuple[str, str]]:
    try:
        version, namespace, name = json.loads(base64.urlsafe_b64decode(token.encode()))
    except (ValueError, TypeError) as error:
        raise errors.bad_request("continue key is not valid") from error
    return int(version), (str(namespace), str(name))
