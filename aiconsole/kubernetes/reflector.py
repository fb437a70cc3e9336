"""List, then watch, one kind of object, keeping a current map of them.

The watch resumes from the last ``resourceVersion`` it saw (bookmarks included), so a watch
the server ends after its ``timeoutSeconds`` costs one request, not a relist. A ``410 Gone``
(the server no longer has that version) relists. Failures back off exponentially with
jitter up to a ceiling and are reported through ``on_error``; a success resets the backoff.
Decoding is the caller's ``convert``: an object it cannot use is dropped, not fatal.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable
from typing import Any, Generic, TypeVar

from aiconsole.kubernetes.api import OPENED, ApiError, KubeApi, KubeUnavailable

T = TypeVar("T")
MIN_WATCH_S = 1.0
"""A watch that ends sooner than this without an error still backs off before the next."""
PAGE = 500
"""Objects per list page (as kubectl): a 20,000-pod list never arrives as one giant body."""


def _key(raw: dict[str, Any]) -> str | None:
    meta = raw.get("metadata")
    if not isinstance(meta, dict) or not isinstance(meta.get("name"), str):
        return None
    namespace = meta.get("namespace")
    return f"{namespace}/{meta['name']}" if isinstance(namespace, str) else meta["name"]


def _version(raw: dict[str, Any]) -> str | None:
    meta = raw.get("metadata")
    version = meta.get("resourceVersion") if isinstance(meta, dict) else None
    return version if isinstance(version, str) else None


class Reflector(Generic[T]):
    def __init__(
        self,
        api: KubeApi,
        path: str,
        convert: Callable[[Any], T | None],
        *,
        on_change: Callable[[], None] = lambda: None,
        on_error: Callable[[str], None] = lambda _reason: None,
        watch_timeout: int = 300,
        backoff_max: float = 30.0,
    ) -> None:
        self.api = api
        self.path = path
        self.convert = convert
        self.on_change = on_change
        self.on_error = on_error
        self.watch_timeout = watch_timeout
        self.backoff_max = backoff_max
        self.objects: dict[str, T] = {}
        self.version: str | None = None
        self.synced = False
        """A full list has arrived (the map is a complete picture, not a partial one)."""
        self.relists = 0
        self.healthy = False
        """The last list or watch succeeded (no error since)."""

    async def list_once(self) -> None:
        """Replace the map with a full, paged list; remember its resourceVersion."""
        objects: dict[str, T] = {}
        token: str | None = None
        while True:
            query = {"limit": str(PAGE)}
            if token:
                query["continue"] = token
            page = await self.api.request("GET", self.path, query=query)
            for raw in page.get("items") or []:
                if isinstance(raw, dict) and (key := _key(raw)) is not None:
                    converted = self.convert(raw)
                    if converted is not None:
                        objects[key] = converted
            meta = page.get("metadata") if isinstance(page.get("metadata"), dict) else {}
            token = meta.get("continue") if isinstance(meta, dict) else None
            if not token:
                version = meta.get("resourceVersion") if isinstance(meta, dict) else None
                break
        self.objects = objects
        self.version = version if isinstance(version, str) else None
        self.synced = True
        self.healthy = True
        self.relists += 1
        self.on_change()

    async def watch_once(self) -> None:
        """Follow changes from ``self.version`` until the server ends the watch."""
        query = {"allowWatchBookmarks": "true"}
        if self.version:
            query["resourceVersion"] = self.version
        async for event in self.api.watch(self.path, query, self.watch_timeout):
            kind, raw = event.get("type"), event.get("object")
            if kind == OPENED:
                self.healthy = True
                self.on_change()
                continue
            if not isinstance(raw, dict):
                continue
            if kind == "ERROR":
                code = raw.get("code")
                message = raw.get("message")
                text = message if isinstance(message, str) else "watch error"
                raise ApiError(code if isinstance(code, int) else 500, text, raw)
            version = _version(raw)
            if version:
                self.version = version
            if kind == "BOOKMARK":
                continue
            key = _key(raw)
            if key is None:
                continue
            if kind == "DELETED":
                self.objects.pop(key, None)
            elif kind in ("ADDED", "MODIFIED"):
                converted = self.convert(raw)
                if converted is None:
                    self.objects.pop(key, None)
                else:
                    self.objects[key] = converted
            self.on_change()

    async def run(self) -> None:
        """List and watch forever; never raises except on cancellation."""
        loop = asyncio.get_running_loop()
        backoff = 0.5
        while True:
            started, failed = loop.time(), False
            try:
                if not self.synced or self.version is None:
                    await self.list_once()
                await self.watch_once()
            except ApiError as error:
                if error.status == 410:
                    self.synced = False  # our version is too old: relist
                else:
                    self._failed(f"context {self.api.context}: {self.path}: {error}")
                    failed = True
            except KubeUnavailable as error:
                self._failed(str(error))
                failed = True
            if not failed and loop.time() - started >= MIN_WATCH_S:
                backoff = 0.5  # a watch that lasted ended normally: resume at once
                continue
            # Failed, or ended at once (a proxy cutting watches, a 410 right after a
            # relist): wait, so a broken server is not hammered in a tight loop.
            await asyncio.sleep(backoff * (0.5 + random.random() / 2))
            backoff = min(backoff * 2, self.backoff_max)

    def _failed(self, reason: str) -> None:
        self.healthy = False
        self.on_error(reason)
