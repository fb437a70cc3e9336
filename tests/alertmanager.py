"""A real Alertmanager (Debian's prometheus-alertmanager) on 127.0.0.1 for the tests."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

BINARY = "/usr/bin/prometheus-alertmanager"

CONFIG = """\
route:
  receiver: nowhere
  group_wait: 0s
receivers:
  - name: nowhere
"""


def available() -> str | None:
    if shutil.which(BINARY) is None:
        return "prometheus-alertmanager not installed (apt-get install prometheus-alertmanager)"
    return None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def alertmanager(directory: Path) -> Iterator[str]:
    """Start Alertmanager with a config that routes nowhere; yield its base URL."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "alertmanager.yml").write_text(CONFIG)
    port = free_port()
    log = (directory / "alertmanager.log").open("wb")
    process = subprocess.Popen(
        [
            BINARY,
            f"--config.file={directory / 'alertmanager.yml'}",
            f"--storage.path={directory / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--cluster.listen-address=",  # no gossip port: one lone instance
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(url + "/-/ready", timeout=1) as response:
                    if response.status == 200:
                        break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(
                        "alertmanager did not start: "
                        + (directory / "alertmanager.log").read_text()
                    ) from None
                time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


def alerts(url: str, **filters: str) -> list[dict[str, object]]:
    query = "&".join(f"{k}={v}" for k, v in filters.items())
    with urllib.request.urlopen(f"{url}/api/v2/alerts?{query}", timeout=5) as response:
        result: list[dict[str, object]] = json.load(response)
    return result
