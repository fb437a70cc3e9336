"""The Prometheus client's transport: credentials from files, gzip, TLS verification, and the
``[prometheus]``/``[serve]`` config tables."""

from __future__ import annotations

import gzip
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from aiconsole.collectors.prometheus import PrometheusSource
from aiconsole.config import ConfigError, load
from aiconsole.prometheus.client import PrometheusClient, PrometheusUnavailable
from aiconsole.prometheus.settings import PrometheusSettings
from aiconsole.store import FleetStore
from tests.prometheus_server import PrometheusServer, scrape_config

EMPTY_VECTOR = b'{"status":"success","data":{"resultType":"vector","result":[]}}'


class Recorder(ThreadingHTTPServer):
    """Answers every query with an empty vector (gzip when asked) and keeps the headers."""

    daemon_threads = True

    def __init__(self) -> None:
        self.headers: list[dict[str, str]] = []
        super().__init__(("127.0.0.1", 0), _RecordingHandler)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _RecordingHandler(BaseHTTPRequestHandler):
    server: Recorder

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self.server.headers.append(dict(self.headers))
        body = EMPTY_VECTOR
        self.send_response(200)
        if "gzip" in self.headers.get("Accept-Encoding", ""):
            body = gzip.compress(body)
            self.send_header("Content-Encoding", "gzip")
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def recorder() -> Iterator[Recorder]:
    server = Recorder()
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()


def test_bearer_token_is_read_from_its_file_and_gzip_is_asked_for(
    recorder: Recorder, tmp_path: Path
) -> None:
    token = tmp_path / "token"
    token.write_text("s3cret-token\n")
    settings = PrometheusSettings(
        url=recorder.url, bearer_token_file=str(token), compression="gzip"
    )
    assert PrometheusClient(settings).query_sync("up") == []  # the gzipped answer, unpacked
    (headers,) = recorder.headers
    assert headers["Authorization"] == "Bearer s3cret-token"
    assert headers["Accept-Encoding"] == "gzip"


def test_a_server_on_this_machine_is_not_asked_to_compress(recorder: Recorder) -> None:
    assert PrometheusClient(PrometheusSettings(url=recorder.url)).query_sync("up") == []
    assert recorder.headers[0]["Accept-Encoding"] == "identity"


@pytest.mark.parametrize(
    ("url", "compression", "gzip"),
    [
        ("http://127.0.0.1:9090", "auto", False),
        ("http://127.8.0.3:9090", "auto", False),
        ("http://localhost:9090", "auto", False),
        ("http://[::1]:9090", "auto", False),
        ("https://prometheus.example:9090", "auto", True),
        ("http://10.0.0.5:9090", "auto", True),
        ("http://[2001:db8::1]:9090", "auto", True),
        ("http://127.0.0.1:9090", "gzip", True),
        ("https://prometheus.example:9090", "none", False),
    ],
)
def test_when_answers_are_compressed(url: str, compression: str, gzip: bool) -> None:
    assert PrometheusSettings(url=url, compression=compression).wants_gzip() is gzip


def test_basic_auth_from_a_password_file(recorder: Recorder, tmp_path: Path) -> None:
    password = tmp_path / "password"
    password.write_text("pa:ss\n")
    settings = PrometheusSettings(
        url=recorder.url, username="aiconsole", password_file=str(password)
    )
    PrometheusClient(settings).query_sync("up")
    assert recorder.headers[0]["Authorization"] == "Basic YWljb25zb2xlOnBhOnNz"


def test_a_missing_credentials_file_is_one_line(tmp_path: Path) -> None:
    settings = PrometheusSettings(
        url="http://127.0.0.1:1", bearer_token_file=str(tmp_path / "nope")
    )
    with pytest.raises(PrometheusUnavailable) as caught:
        PrometheusClient(settings).query_sync("up")
    assert str(caught.value) == (
        f"prometheus: cannot read credentials: No such file or directory: {tmp_path / 'nope'}"
    )


def make_certificate(directory: Path) -> tuple[Path, Path]:
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


async def test_tls_is_verified_and_a_given_ca_is_trusted(tmp_path: Path) -> None:
    cert, key = make_certificate(tmp_path)
    server = PrometheusServer(
        tmp_path / "prometheus",
        scrape_config({}),
        web_config=f"tls_server_config:\n  cert_file: {cert}\n  key_file: {key}\n",
        ca_file=cert,
    )
    try:
        server.wait_ready()
        untrusting = FleetStore()
        await PrometheusSource(PrometheusSettings(url=server.url), untrusting).poll_once()
        (row,) = untrusting.snapshot().hosts
        assert row.status == "unreachable"
        assert row.reason is not None and "CERTIFICATE_VERIFY_FAILED" in row.reason
        trusting = FleetStore()
        settings = PrometheusSettings(url=server.url, ca_file=str(cert))
        await PrometheusSource(settings, trusting).poll_once()
        assert trusting.snapshot().hosts == ()  # answered: an empty fleet, no error row
    finally:
        server.stop()


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text)
    return path


def test_config_prometheus_and_serve_tables(tmp_path: Path) -> None:
    inventory = load(
        write(
            tmp_path,
            '[serve]\nlisten = "0.0.0.0:9400"\n\n[prometheus]\nurl = "https://prom:9090/"\n'
            'bearer_token_file = "~/token"\ntimeout = 3\ncompression = "none"\n',
        )
    )
    assert inventory.serve_listen == "0.0.0.0:9400"
    assert inventory.prometheus is not None
    assert inventory.prometheus.url == "https://prom:9090"
    assert inventory.prometheus.bearer_token_file == str(Path("~/token").expanduser())
    assert inventory.prometheus.timeout == 3.0
    assert inventory.prometheus.compression == "none"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[prometheus]\nurl = "prom:9090"\n', "prometheus.url: 'prom:9090' is not an http"),
        ('[prometheus]\nurl = "http://p"\npassword = "x"\n', "prometheus.password: unknown key"),
        (
            '[prometheus]\nurl = "http://p"\nusername = "u"\n',
            "prometheus.username: username and password_file go together",
        ),
        ('[serve]\nlisten = "9400"\n', "serve.listen: '9400' is not HOST:PORT"),
        (
            '[prometheus]\nurl = "http://p"\ncompression = "br"\n',
            'prometheus.compression: must be "auto", "gzip" or "none"',
        ),
        (
            '[prometheus]\nurl = "https://u:secret@prom"\n',
            "prometheus.url: credentials in the URL: use username and password_file instead",
        ),
    ],
)
def test_config_errors_name_the_line_and_key(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load(write(tmp_path, text))
    assert message in str(caught.value)
    assert str(caught.value).startswith(f"{tmp_path / 'config.toml'}:")


@pytest.mark.parametrize(
    ("labels", "expected"),
    [
        ({"hostname": "gpu01", "Hostname": "pod-7", "instance": "10.0.0.1:9400"}, "gpu01"),
        ({"Hostname": "gpu02", "instance": "10.0.0.2:9400"}, "gpu02"),
        ({"instance": "gpu03.example:9100"}, "gpu03.example"),
        ({"instance": "[fd00::3]:9100"}, "fd00::3"),
        ({"hostname": "bad\x1b[2Jname"}, "bad␛[2Jname"),
    ],
)
def test_hosts_are_keyed_by_either_spelling_then_instance(
    labels: dict[str, str], expected: str
) -> None:
    from aiconsole.prometheus.client import FleetLabels
    from aiconsole.prometheus.fleet import HostKeys

    key = HostKeys().of(FleetLabels(**labels))
    assert key is not None and key.name == expected


def test_drill_down_matchers_escape_label_values() -> None:
    from aiconsole.prometheus.queries import drill_down

    query = drill_down("hostname", 'a"b\\c')
    assert 'hostname="a\\"b\\\\c"' in query and 'Hostname="a\\"b\\\\c"' in query
    assert 'instance=~"gpu\\\\.1(:[0-9]+)?"' in drill_down("instance", "gpu.1")
