"""A small client for Prometheus's HTTP query API: stdlib HTTP in a thread, msgspec decoding.

Every request asks for gzip (an instant query over a large fleet is megabytes of JSON that
compresses ~20x) unless the server is on this machine (see ``compression`` in
:class:`~aiconsole.prometheus.settings.PrometheusSettings`), carries the configured bearer
token or basic-auth credentials (read from files, never from the config itself), and
verifies TLS (an extra CA may be given; turning verification off is not offered). Failures
become :class:`PrometheusUnavailable` with one line saying what and where, never a
traceback.
"""

from __future__ import annotations

import asyncio
import base64
import gzip
import ssl
import urllib.error
import urllib.parse
import urllib.request
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Generic, TypeVar

import msgspec

from aiconsole.prometheus.settings import PrometheusSettings
from aiconsole.text import clean

L = TypeVar("L")
S = TypeVar("S")

MAX_BODY = 512 * 1024 * 1024
"""Refuse answers larger than this once decompressed (a wrong URL can stream forever)."""


class PrometheusUnavailable(Exception):
    """The server could not be asked or did not answer usefully (one-line reason)."""


class _Sample(msgspec.Struct, array_like=True):
    at: float
    value: str


class _Series(msgspec.Struct, Generic[L]):
    metric: L
    value: _Sample


class _Data(msgspec.Struct, Generic[S], rename="camel"):
    result_type: str
    result: list[S]


class _Answer(msgspec.Struct, Generic[S]):
    status: str
    data: _Data[S] | None = None
    error: str | None = None


class FleetLabels(msgspec.Struct, gc=False):
    """The only labels a fleet query's answer carries (decoded straight into a struct: at
    10,000 hosts a dict per series is a measurable share of a refresh).

    The fleet structs are left out of the cyclic garbage collector (``gc=False``: they hold
    only strings and numbers, so they cannot form cycles): decoding 130,000 series makes
    hundreds of thousands of objects, whose tracking set off collection passes that cost more
    than the decoding itself."""

    hostname: str = ""
    Hostname: str = ""
    instance: str = ""
    job: str = ""
    aiconsole_field: str = ""


class FleetSample(msgspec.Struct, array_like=True, gc=False):
    at: float
    value: float
    """Prometheus sends the number as text; it is parsed while decoding (see
    :data:`_fleet_decoder`), which at 10,000 hosts spares a string and a ``float()`` per
    series."""


class FleetSeries(msgspec.Struct, gc=False):
    """One series of a fleet answer: ``.metric`` (:class:`FleetLabels`), ``.value.value``."""

    metric: FleetLabels
    value: FleetSample


_decoder = msgspec.json.Decoder(_Answer[_Series[dict[str, str]]])
# Lenient only in that numbers may arrive as strings, as Prometheus writes every sample value
# ("0.5", "NaN", "-Inf"; "+Inf" is rewritten "Inf" first, the one spelling it would refuse).
_fleet_decoder = msgspec.json.Decoder(_Answer[FleetSeries], strict=False)


@dataclass(frozen=True)
class Series:
    labels: dict[str, str]
    """Label values exactly as Prometheus sent them (untrusted: clean before showing)."""
    at: float
    """Sample time (for an instant query: the evaluation time, unless timestamp() was used)."""
    value: float


class PrometheusClient:
    def __init__(self, settings: PrometheusSettings) -> None:
        self.settings = settings
        self.url = settings.url
        encoding = "gzip" if settings.wants_gzip() else "identity"
        self._headers = {"Accept-Encoding": encoding, "Accept": "application/json"}
        self._context = ssl.create_default_context(cafile=settings.ca_file)
        self._credentials_read = False

    def _authorization(self) -> str | None:
        settings = self.settings
        try:
            if settings.bearer_token_file:
                token = Path(settings.bearer_token_file).read_text().strip()
                return f"Bearer {token}"
            if settings.username and settings.password_file:
                password = Path(settings.password_file).read_text().rstrip("\n")
                pair = f"{settings.username}:{password}".encode()
                return "Basic " + base64.b64encode(pair).decode()
        except OSError as error:
            raise PrometheusUnavailable(
                f"prometheus: cannot read credentials: {error.strerror}: {error.filename}"
            ) from None
        return None

    async def query(self, promql: str, timeout: float | None = None) -> list[Series]:
        """An instant query, evaluated now; runs the blocking HTTP call in a worker thread."""
        return await asyncio.to_thread(self.query_sync, promql, timeout)

    def query_sync(self, promql: str, timeout: float | None = None) -> list[Series]:
        answer = self._ask(promql, timeout, _decoder)
        result = []
        for series in answer:
            try:
                value = float(series.value.value)
            except ValueError:
                continue
            result.append(Series(series.metric, series.value.at, value))
        return result

    async def query_fleet(self, promql: str, timeout: float | None = None) -> list[FleetSeries]:
        """An aggregated fleet query, decoded lean (values stay text until used)."""
        return await asyncio.to_thread(self.query_fleet_sync, promql, timeout)

    def query_fleet_sync(self, promql: str, timeout: float | None = None) -> list[FleetSeries]:
        return self._ask(promql, timeout, _fleet_decoder, fleet=True)

    def _ask(
        self,
        promql: str,
        timeout: float | None,
        decoder: msgspec.json.Decoder[_Answer[S]],
        fleet: bool = False,
    ) -> list[S]:
        timeout = self.settings.timeout if timeout is None else timeout
        body = urllib.parse.urlencode({"query": promql, "timeout": f"{timeout:g}s"}).encode()
        headers = dict(self._headers)
        headers["Content-Type"] = "application/x-www-form-urlencoded"
        authorization = self._authorization()
        if authorization:
            headers["Authorization"] = authorization
        request = urllib.request.Request(
            f"{self.url}/api/v1/query", data=body, headers=headers, method="POST"
        )
        raw = self._fetch(request, timeout)
        if fleet and b'"+Inf"' in raw:  # rare: spares copying megabytes on every answer
            raw = raw.replace(b'"+Inf"', b'"Inf"')
        try:
            answer = decoder.decode(raw)
        except msgspec.DecodeError as error:
            raise PrometheusUnavailable(f"{self._where()}: not a query answer: {error}") from None
        if answer.status != "success" or answer.data is None:
            why = clean(answer.error or "no data", 300)
            raise PrometheusUnavailable(f"{self._where()}: query failed: {why}")
        if answer.data.result_type != "vector":
            raise PrometheusUnavailable(
                f"{self._where()}: expected a vector, got {clean(answer.data.result_type, 40)}"
            )
        return answer.data.result

    def _fetch(self, request: urllib.request.Request, timeout: float) -> bytes:
        try:
            with urllib.request.urlopen(
                request, timeout=timeout + 2, context=self._context
            ) as response:
                raw: bytes = response.read(MAX_BODY + 1)
                encoding = response.headers.get("Content-Encoding", "")
        except urllib.error.HTTPError as error:
            detail = ""
            try:
                problem = msgspec.json.decode(error.read(64 * 1024), type=_Answer)
                detail = f": {clean(problem.error or '', 300)}" if problem.error else ""
            except (msgspec.DecodeError, OSError):
                pass
            raise PrometheusUnavailable(
                f"{self._where()}: HTTP {error.code} {clean(error.reason or '', 80)}{detail}"
            ) from None
        except urllib.error.URLError as error:
            reason = error.reason
            text = reason.strerror if isinstance(reason, OSError) and reason.strerror else reason
            raise PrometheusUnavailable(f"{self._where()}: {clean(str(text), 300)}") from None
        except (OSError, ValueError) as error:  # timeouts, resets, bad URLs
            raise PrometheusUnavailable(
                f"{self._where()}: {type(error).__name__}: {clean(str(error), 300)}"
            ) from None
        if len(raw) > MAX_BODY:
            raise PrometheusUnavailable(f"{self._where()}: answer larger than {MAX_BODY} bytes")
        if encoding == "gzip":
            try:
                raw = gzip.decompress(raw)
            except (OSError, EOFError, zlib.error) as error:
                raise PrometheusUnavailable(f"{self._where()}: bad gzip: {error}") from None
        return raw

    def _where(self) -> str:
        return f"prometheus {clean(self.url, 200)}"
