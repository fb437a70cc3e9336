"""A pod's log through the API server, with the official client (``kubernetes.aio``).

``read_namespaced_pod_log`` with ``follow`` and ``tailLines`` is what ``kubectl logs -f``
asks for. The body is read in chunks and cut into bounded, cleaned lines, never loaded
whole: a pod can have written gigabytes. A follow ends when the container does.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import aiohttp
from kubernetes.aio.client import CoreV1Api

from aiconsole.kubernetes.api import ApiError, KubeApi, KubeUnavailable, _status_message
from aiconsole.kubernetes.names import InvalidName, check_namespace, check_pod, check_subdomain
from aiconsole.logs.lines import LineCutter, LogUnavailable

READ_CHUNK = 64 * 1024
MAX_TAIL_LINES = 100_000


def check_container(name: str) -> str:
    """Container names are DNS labels (RFC 1123), as pod names' parts are."""
    if "." in name:
        raise InvalidName(f"invalid container name {name!r}: a DNS label (no dots)")
    return check_subdomain(name, "container")


async def pod_lines(
    api: KubeApi,
    namespace: str,
    pod: str,
    *,
    container: str | None,
    count: int,
    follow: bool,
    say: Callable[[str], None],
) -> AsyncIterator[str]:
    """The pod's last ``count`` log lines, then (``follow``) new ones until it ends."""
    try:
        check_namespace(namespace)
        check_pod(pod)
        if container is not None:
            check_container(container)
    except InvalidName as error:
        raise LogUnavailable(str(error)) from None
    if not 0 <= count <= MAX_TAIL_LINES:
        raise LogUnavailable(f"lines: 0 to {MAX_TAIL_LINES}")
    where = f"context {api.context}: pod {namespace}/{pod}"
    # No total deadline when following (a log lasts); connecting still has one.
    timeout = aiohttp.ClientTimeout(
        total=None if follow else api.timeout, connect=api.timeout, sock_connect=api.timeout
    )
    try:
        # The client's read_namespaced_pod_log builds the request (path, query, auth) and
        # sends it; its public wrapper only takes a float or (connect, read) timeout and
        # hands that to aiohttp as a total deadline, which would cut a follow short. So the
        # same request is built by the client and sent with a connect-only deadline.
        core = CoreV1Api(api.client)
        request = await core._read_namespaced_pod_log_serialize(
            name=pod,
            namespace=namespace,
            container=container,
            follow=follow,
            insecure_skip_tls_verify_backend=None,
            limit_bytes=None,
            pretty=None,
            previous=None,
            since_seconds=None,
            stream=None,
            tail_lines=count,
            timestamps=None,
            _request_auth=None,
            _content_type=None,
            _headers=None,
            _host_index=0,
        )
        sent = await api.client.call_api(*request, _preload_content=False, _request_timeout=timeout)
        response = sent.response
    except (aiohttp.ClientError, OSError, asyncio.TimeoutError) as error:
        raise LogUnavailable(f"{where}: {api._unreachable(error)}") from None
    try:
        if response.status >= 400:
            message, _ = _status_message(response.status, await response.read())
            raise LogUnavailable(f"{where}: {message}")
        say(f"{where}" + (f" container {container}" if container else ""))
        cutter = LineCutter()
        try:
            while chunk := await response.content.read(READ_CHUNK):
                for line in cutter.feed(chunk):
                    yield line
        except (aiohttp.ClientError, OSError, asyncio.TimeoutError) as error:
            raise LogUnavailable(f"{where}: log stream broken: {error}") from None
        for line in cutter.finish():
            yield line
    finally:
        response.close()


DEFAULT_CONTAINER = "kubectl.kubernetes.io/default-container"


async def default_container(api: KubeApi, namespace: str, pod: str) -> str | None:
    """The container kubectl would pick: the pod's default-container annotation, else the
    first one; None when the pod names none (the server then says what it needs)."""
    try:
        found = await api.request("GET", f"/api/v1/namespaces/{namespace}/pods/{pod}")
    except ApiError as error:
        where = f"context {api.context}: pod {namespace}/{pod}"
        raise LogUnavailable(f"{where}: {error.message}") from None
    except KubeUnavailable as error:
        raise LogUnavailable(str(error)) from None
    spec = found.get("spec") if isinstance(found.get("spec"), dict) else {}
    names = [
        c["name"]
        for c in (spec or {}).get("containers") or []
        if isinstance(c, dict) and isinstance(c.get("name"), str)
    ]
    annotations = (found.get("metadata") or {}).get("annotations") or {}
    wanted = annotations.get(DEFAULT_CONTAINER) if isinstance(annotations, dict) else None
    if isinstance(wanted, str) and wanted in names:
        return wanted
    return names[0] if names else None


async def follow_pod(
    context: str,
    paths: str,
    timeout: float,
    namespace: str,
    pod: str,
    *,
    container: str | None,
    count: int,
    follow: bool,
    say: Callable[[str], None],
) -> AsyncIterator[str]:
    """:func:`pod_lines` over a connection of its own, closed when the reader stops; with no
    ``container``, the one kubectl would choose."""
    try:
        check_namespace(namespace)
        check_pod(pod)
    except InvalidName as error:
        raise LogUnavailable(str(error)) from None
    try:
        api = await KubeApi.connect(context, paths, timeout)
    except KubeUnavailable as error:
        raise LogUnavailable(str(error)) from None
    try:
        if container is None:
            container = await default_container(api, namespace, pod)
        async for line in pod_lines(
            api, namespace, pod, container=container, count=count, follow=follow, say=say
        ):
            yield line
    finally:
        await api.close()
