"""A real Prometheus (Debian's 2.42 server) for tests and benches, on 127.0.0.1.

Each instance gets an ephemeral port, its own storage directory and a config written here;
:meth:`PrometheusServer.stop` always kills it. Waiting is done by polling its HTTP API, never
by sleeping a fixed time.
"""

from __future__ import annotations

import json
import shutil
import signal
import socket
import ssl
import subprocess
import time
import urllib.parse
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

PROMETHEUS = shutil.which("prometheus") or "/usr/bin/prometheus"
PROMTOOL = shutil.which("promtool") or "/usr/bin/promtool"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


Target = str | tuple[str, dict[str, str]]
"""``HOST:PORT``, or ``(HOST:PORT, target labels)``."""


def scrape_config(
    targets: dict[str, list[Target]], interval: str = "1s", rule_files: list[str] | None = None
) -> str:
    """A prometheus.yml scraping each job's targets over plain HTTP (JSON is valid YAML),
    with the recording rules of ``rule_files``."""
    jobs = []
    for job, entries in targets.items():
        static = []
        for entry in entries:
            target, labels = (entry, {}) if isinstance(entry, str) else entry
            static.append({"targets": [target], "labels": labels})
        jobs.append({"job_name": job, "static_configs": static})
    config = {
        "global": {"scrape_interval": interval, "scrape_timeout": interval},
        "scrape_configs": jobs,
    }
    if rule_files:
        config["rule_files"] = rule_files
    return json.dumps(config, indent=1) + "\n"


class PrometheusServer:
    def __init__(
        self,
        workdir: Path,
        config: str,
        *,
        retention: str | None = None,
        web_config: str | None = None,
        ca_file: Path | None = None,
    ) -> None:
        """``web_config``: Prometheus's web config (TLS); ``ca_file``: what to trust then."""
        self.workdir = workdir
        self.port = free_port()
        scheme = "https" if web_config else "http"
        self.url = f"{scheme}://127.0.0.1:{self.port}"
        self._context = ssl.create_default_context(cafile=str(ca_file)) if ca_file else None
        (workdir / "data").mkdir(parents=True, exist_ok=True)
        (workdir / "prometheus.yml").write_text(config)
        args = [
            PROMETHEUS,
            f"--config.file={workdir / 'prometheus.yml'}",
            f"--storage.tsdb.path={workdir / 'data'}",
            f"--web.listen-address=127.0.0.1:{self.port}",
            "--log.level=warn",
        ]
        if retention:
            args.append(f"--storage.tsdb.retention.time={retention}")
        if web_config:
            (workdir / "web.yml").write_text(web_config)
            args.append(f"--web.config.file={workdir / 'web.yml'}")
        self._log = (workdir / "prometheus.log").open("wb")
        self.process = subprocess.Popen(args, stdout=self._log, stderr=subprocess.STDOUT)

    def wait_ready(self, timeout: float = 60) -> None:
        def ready() -> bool:
            try:
                with urllib.request.urlopen(
                    f"{self.url}/-/ready", timeout=2, context=self._context
                ) as answer:
                    return bool(answer.status == 200)
            except OSError:
                return False

        poll(ready, timeout, f"Prometheus on {self.url} never became ready ({self.log_tail()})")

    def query(self, promql: str) -> list[dict[str, Any]]:
        params = urllib.parse.urlencode({"query": promql})
        with urllib.request.urlopen(
            f"{self.url}/api/v1/query?{params}", timeout=30, context=self._context
        ) as answer:
            document = json.load(answer)
        assert document["status"] == "success", document
        result: list[dict[str, Any]] = document["data"]["result"]
        return result

    def wait_for_series(
        self, promql: str, timeout: float = 60, count: int = 1
    ) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []

        def enough() -> bool:
            nonlocal found
            found = self.query(promql)
            return len(found) >= count

        poll(enough, timeout, f"{promql!r} never returned {count} series ({self.log_tail()})")
        return found

    def reload(self, config: str) -> None:
        """Replace the config and have the running server load it (SIGHUP)."""
        (self.workdir / "prometheus.yml").write_text(config)
        self.process.send_signal(signal.SIGHUP)

    def log_tail(self) -> str:
        try:
            return (self.workdir / "prometheus.log").read_text()[-800:]
        except OSError:
            return ""

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(timeout=30)
        self._log.close()


def poll(condition: Callable[[], bool], timeout: float, message: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(message)
        time.sleep(0.1)
