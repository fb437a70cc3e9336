"""A connection to one kubeconfig context, over the official client's asyncio API.

This is the only module that imports ``kubernetes`` (``kubernetes.aio``, 37.x), and it is
imported only when a Kubernetes cluster is configured. The client does what kubectl does with
a kubeconfig: several files in ``$KUBECONFIG``, contexts, client certificates, tokens, exec
and OIDC auth plugins. Requests and watches go through its configured HTTP session, but the
bodies are decoded here as plain JSON: a watch of 20,000 pods would spend most of its time
building the client's model objects, and a cancelled watch must let go of its connection at
once (the response is closed, not drained).
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
from kubernetes.aio import config as kube_config
from kubernetes.aio.client import ApiClient, Configuration

from aiconsole.text import clean

OPENED = "aiconsole:opened"
"""A pseudo event :meth:`KubeApi.watch` yields first, once the server has accepted the watch."""


class KubeUnavailable(Exception):
    """The API server could not be reached or the kubeconfig could not be used (one line)."""


class ApiError(Exception):
    """The API server answered with an error status; ``message`` is its ``Status`` message."""

    def __init__(self, status: int, message: str, body: dict[str, Any] | None = None) -> None:
        super().__init__(f"{status}: {message}")
        self.status = status
        self.message = message
        self.body = body or {}


def kubeconfig_paths(explicit: str | None = None) -> str:
    """As kubectl: the given path, else ``$KUBECONFIG`` (several, ``:``-separated), else
    ``~/.kube/config``."""
    return explicit or os.environ.get("KUBECONFIG") or str(Path.home() / ".kube" / "config")


def list_contexts(paths: str) -> tuple[list[str], str | None]:
    """Every context name in the kubeconfig files, and the current one."""
    if not any(Path(p).expanduser().exists() for p in paths.split(os.pathsep) if p):
        raise KubeUnavailable(f"no kubeconfig at {paths}")
    try:
        contexts, current = kube_config.list_kube_config_contexts(  # type: ignore[no-untyped-call]
            config_file=paths
        )
    except Exception as error:  # malformed YAML or missing keys: one line, no traceback
        raise KubeUnavailable(f"kubeconfig {paths}: {clean(str(error), 200)}") from None
    names = [c["name"] for c in contexts if isinstance(c, dict) and isinstance(c.get("name"), str)]
    current_name = current.get("name") if isinstance(current, dict) else None
    return names, current_name if isinstance(current_name, str) else None


def _status_message(status: int, data: bytes) -> tuple[str, dict[str, Any]]:
    try:
        body = json.loads(data)
    except ValueError:
        return clean(data.decode("utf-8", "replace"), 300) or f"HTTP {status}", {}
    if not isinstance(body, dict):
        return f"HTTP {status}", {}
    message = body.get("message")
    return (clean(message, 500) if isinstance(message, str) else f"HTTP {status}"), body


class KubeApi:
    """Requests to one cluster; names in paths are validated by the caller (RFC 1123)."""

    def __init__(self, context: str, client: ApiClient, timeout: float, loader: Any = None) -> None:
        self.context = context
        self.client = client
        self.timeout = timeout
        self.server: str = client.configuration.host
        self._loader = loader
        """The kubeconfig loader, to fetch fresh credentials (exec plugin, OIDC) on a 401."""
        self._refreshing = asyncio.Lock()
        self._generation = 0

    @classmethod
    async def connect(cls, context: str, paths: str, timeout: float = 10.0) -> KubeApi:
        configuration = type.__call__(Configuration)  # as the library builds its own
        try:
            loader = await asyncio.wait_for(
                kube_config.load_kube_config(  # type: ignore[no-untyped-call]
                    config_file=paths,
                    context=context,
                    client_configuration=configuration,
                    persist_config=False,
                ),
                timeout,
            )
        except asyncio.TimeoutError:
            raise KubeUnavailable(
                f"context {context}: credentials not ready within {timeout:g} s"
            ) from None
        except Exception as error:  # ConfigException, exec plugin failure, bad certificate
            raise KubeUnavailable(f"context {context}: {clean(str(error), 300)}") from None
        return cls(context, ApiClient(configuration=configuration), timeout, loader)

    async def _fresh_credentials(self) -> None:
        """Run the kubeconfig's authentication again (an exec plugin's token expires: EKS
        tokens after 15 minutes)."""
        try:
            await asyncio.wait_for(self._loader.load_and_set(self.client.configuration), 30)
        except Exception as error:  # the plugin failed: say so instead of the bare 401
            raise KubeUnavailable(
                f"context {self.context}: new credentials failed: {clean(str(error), 300)}"
            ) from None

    async def _send(
        self,
        method: str,
        path: str,
        query: dict[str, str] | None,
        body: Any,
        content_type: str,
        timeout: aiohttp.ClientTimeout,
    ) -> Any:
        async def call() -> Any:
            try:
                _, url, headers, data, _ = await self.client.param_serialize(
                    method=method,
                    resource_path=path,
                    query_params=list((query or {}).items()),
                    header_params={"Accept": "application/json", "Content-Type": content_type},
                    body=body,
                    auth_settings=["BearerToken"],
                )
                return await self.client.call_api(
                    method, url, header_params=headers, body=data, _request_timeout=timeout
                )
            except (aiohttp.ClientError, OSError, asyncio.TimeoutError) as error:
                raise KubeUnavailable(self._unreachable(error)) from None

        generation = self._generation
        response = await call()
        if response.status == 401 and self._loader is not None:
            response.response.release()
            async with self._refreshing:
                # Requests refused together share one refresh (one plugin run).
                if self._generation == generation:
                    await self._fresh_credentials()
                    self._generation += 1
            response = await call()
        return response

    def _unreachable(self, error: BaseException) -> str:
        detail = clean(str(error), 200) or type(error).__name__
        return f"context {self.context}: API server {self.server} not reachable: {detail}"

    async def request(
        self,
        method: str,
        path: str,
        *,
        query: dict[str, str] | None = None,
        body: Any = None,
        content_type: str = "application/json",
    ) -> dict[str, Any]:
        """One request; the decoded JSON object, or :class:`ApiError` for an error status."""
        timeout = aiohttp.ClientTimeout(total=self.timeout)
        try:
            response = await self._send(method, path, query, body, content_type, timeout)
            data: bytes = await response.read()
        except (aiohttp.ClientError, OSError, asyncio.TimeoutError) as error:
            raise KubeUnavailable(self._unreachable(error)) from None
        if response.status >= 400:
            message, decoded = _status_message(response.status, data)
            raise ApiError(response.status, message, decoded)
        try:
            decoded = json.loads(data)
        except ValueError:
            raise KubeUnavailable(
                f"context {self.context}: {method} {path} answered with something not JSON"
            ) from None
        if not isinstance(decoded, dict):
            raise KubeUnavailable(f"context {self.context}: {method} {path}: not a JSON object")
        return decoded

    async def watch(
        self, path: str, query: dict[str, str], server_timeout: int
    ) -> AsyncIterator[dict[str, Any]]:
        """Watch events as decoded objects, until the server ends the watch.

        The response is closed in ``finally``, so cancelling the consumer frees the
        connection at once rather than when the server's ``timeoutSeconds`` runs out.
        """
        query = {**query, "watch": "true", "timeoutSeconds": str(server_timeout)}
        # No total deadline (a watch lasts); a read deadline a little past the server's.
        timeout = aiohttp.ClientTimeout(
            total=None, connect=self.timeout, sock_read=server_timeout + self.timeout
        )
        response = await self._send("GET", path, query, None, "application/json", timeout)
        raw = response.response
        try:
            if response.status >= 400:
                message, decoded = _status_message(response.status, await response.read())
                raise ApiError(response.status, message, decoded)
            yield {"type": OPENED}  # the server accepted the watch: the picture is current
            async for line in raw.content:
                if not line.strip():
                    continue
                try:
                    event = json.loads(line)
                except ValueError:
                    raise KubeUnavailable(
                        f"context {self.context}: watch of {path} sent something not JSON"
                    ) from None
                if isinstance(event, dict):
                    yield event
        except (aiohttp.ClientError, OSError, asyncio.TimeoutError) as error:
            raise KubeUnavailable(self._unreachable(error)) from None
        finally:
            raw.close()

    async def close(self) -> None:
        await self.client.close()  # type: ignore[no-untyped-call]
