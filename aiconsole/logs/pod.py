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

from aiconsole.kubernetes.api import KubeApi, KubeUnavailable, _status_message
from aiconsole.kubernetes.names import InvalidName, check_namespace, check_pod
from aiconsole.logs.lines import LineCutter, LogUnavailable

READ_CHUNK = 64 * 1024
MAX_TAIL_LINES = 100_000


def check_container(name: str) -> str:
    """Container names are DNS labels (RFC 1123), as pod names' parts are."""
    from aiconsole.kubernetes.names import check_subdomain

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
        response = await CoreV1Api(api.client).read_namespaced_pod_log_without_preload_content(
            pod,
            namespace,
            container=container,
            follow=follow,
            tail_lines=count,
            _request_timeout=timeout,  # type: ignore[arg-type]
        )
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


async def connected(context: str, paths: str, timeout: float) -> KubeApi:
    try:
        return await KubeApi.connect(context, paths, timeout)
    except KubeUnavailable as error:
        raise LogUnavailable(str(error)) from None
