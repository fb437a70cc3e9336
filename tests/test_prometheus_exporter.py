"""``aiconsole serve``: dcgm-exporter names, content negotiation, scrapes that never collect,
and a real Prometheus reading back what ``snapshot --json`` says."""

from __future__ import annotations

import asyncio
import gzip
import socket
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import msgspec
import pytest
from prometheus_client.parser import text_string_to_metric_families

from aiconsole.collectors.prometheus import PrometheusSource
from aiconsole.exporter import dcgm
from aiconsole.exporter.server import MetricsServer, Published, start
from aiconsole.model import FleetSnapshot, SlurmCluster, SlurmJob
from aiconsole.prometheus.settings import PrometheusSettings
from aiconsole.store import FleetStore
from tests.conftest import REPO, NvmlConfig, run_aiconsole
from tests.prometheus_server import PrometheusServer, free_port, poll, scrape_config
from tests.synthetic import fleet_store

OPENMETRICS = "application/openmetrics-text; version=1.0.0; charset=utf-8"


def samples(text: str) -> dict[str, list[tuple[dict[str, str], float]]]:
    found: dict[str, list[tuple[dict[str, str], float]]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found.setdefault(sample.name, []).append((sample.labels, sample.value))
    return found


@pytest.fixture
def served() -> Iterator[tuple[MetricsServer, Published]]:
    published = Published()
    server = start(("127.0.0.1", 0), published)
    yield server, published
    server.shutdown()
    server.server_close()


def get(
    server: MetricsServer, path: str = "/metrics", **headers: str
) -> tuple[bytes, dict[str, str]]:
    host, port = server.server_address[:2]
    request = urllib.request.Request(f"http://{host!s}:{port}{path}", headers=headers)
    with urllib.request.urlopen(request, timeout=30) as answer:
        return answer.read(), dict(answer.headers)


def synthetic_snapshot(hosts: int = 6) -> FleetSnapshot:
    return fleet_store(hosts=hosts, gpus_per_host=4).snapshot()


def test_gpu_series_carry_dcgm_names_units_and_labels(
    served: tuple[MetricsServer, Published],
) -> None:
    server, published = served
    snapshot = synthetic_snapshot()
    published.publish(snapshot)
    body, headers = get(server)
    assert headers["Content-Type"].startswith("text/plain; version=0.0.4")
    found = samples(body.decode())
    host = next(h for h in snapshot.hosts if h.status == "ok" and h.sample and h.sample.gpu.gpus)
    assert host.sample is not None
    gpu = host.sample.gpu.gpus[1]
    labels = {
        "gpu": "1",
        "UUID": gpu.uuid,
        "pci_bus_id": gpu.bus_id,
        "device": "nvidia1",
        "modelName": gpu.name,
        "Hostname": host.name,
        "hostname": host.name,
    }

    def value(name: str) -> float:
        matches = [v for lab, v in found[name] if lab == labels]
        assert len(matches) == 1, (name, found.get(name, [])[:3])
        return matches[0]

    assert gpu.memory_used_bytes is not None and gpu.memory_total_bytes is not None
    assert gpu.energy_j is not None
    assert value("DCGM_FI_DEV_FB_USED") == gpu.memory_used_bytes / 2**20  # MiB, as DCGM
    assert value("DCGM_FI_DEV_FB_FREE") == (gpu.memory_total_bytes - gpu.memory_used_bytes) / 2**20
    assert value("DCGM_FI_DEV_GPU_UTIL") == gpu.util_gpu_percent
    assert value("DCGM_FI_DEV_GPU_TEMP") == gpu.temperature_c
    assert value("DCGM_FI_DEV_POWER_USAGE") == gpu.power_draw_w
    assert value("DCGM_FI_DEV_SM_CLOCK") == gpu.sm_clock_mhz
    assert value("DCGM_FI_DEV_XID_ERRORS") == 0
    assert value("DCGM_FI_DEV_UNCORRECTABLE_REMAPPED_ROWS") == gpu.remapped_rows_uncorrectable
    assert value("DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION") == pytest.approx(gpu.energy_j * 1000)
    # NVLink payload per second summed over the GPU's links, in bytes, as DCGM's profiling
    # fields: GPU 1 of the synthetic fleet moves 18 x 512 MiB/s in and half that out.
    assert value("DCGM_FI_PROF_NVLINK_RX_BYTES") == 18 * 512 * 2**20
    assert value("DCGM_FI_PROF_NVLINK_TX_BYTES") == 18 * 256 * 2**20
    # Every GPU series has exactly dcgm-exporter's labels (and hostname), nothing per job.
    for field in dcgm.FIELDS:
        for lab, _ in found.get(field.name, []):
            assert set(lab) == set(dcgm.GPU_LABELS)


def test_unknown_values_have_no_series_and_xids_show_the_last_one(
    served: tuple[MetricsServer, Published],
) -> None:
    server, published = served
    snapshot = synthetic_snapshot()
    published.publish(snapshot)
    found = samples(get(server)[0].decode())
    # Host 5 (fault 4 in the synthetic fleet) lost GPU 3 after an XID 79; host 6 has no driver.
    lost_host = snapshot.hosts[4].name
    lost = {"Hostname": lost_host, "gpu": "3"}

    def for_gpu(name: str) -> list[float]:
        return [v for lab, v in found.get(name, []) if lost.items() <= lab.items()]

    assert for_gpu("DCGM_FI_DEV_GPU_UTIL") == []  # unknown: no series, not 0
    assert for_gpu("aiconsole_gpu_lost") == [1.0]
    assert for_gpu("DCGM_FI_DEV_XID_ERRORS") == [79.0]
    no_driver = snapshot.hosts[5].name
    assert not [lab for lab, _ in found["DCGM_FI_DEV_GPU_UTIL"] if lab["Hostname"] == no_driver]
    status = {lab["hostname"]: lab["status"] for lab, _ in found["aiconsole_host_status"]}
    assert status[snapshot.hosts[2].name] == "unreachable"
    up = {lab["hostname"]: v for lab, v in found["aiconsole_host_up"]}
    assert up[snapshot.hosts[2].name] == 0 and up[snapshot.hosts[0].name] == 1


def test_the_gpus_job_is_an_info_series_to_join_on(
    served: tuple[MetricsServer, Published],
) -> None:
    server, published = served
    snapshot = synthetic_snapshot(2)
    host = snapshot.hosts[0].name
    job = SlurmJob(
        job_id="4242",
        name="llama",
        user="alice",
        state="RUNNING",
        partition="gpu",
        nodes=(host,),
        gpu_indices={host: (0, 2)},
    )
    cluster = SlurmCluster(name="prod", status="ok", jobs=(job,))
    published.publish(msgspec.structs.replace(snapshot, clusters=(cluster,)))
    found = samples(get(server)[0].decode())
    info = sorted(
        (lab["hostname"], lab["gpu"], lab["job_id"], lab["user"])
        for lab, _ in found["aiconsole_gpu_job_info"]
    )
    assert info == [(host, "0", "4242", "alice"), (host, "2", "4242", "alice")]
    assert all("job_id" not in lab for lab, _ in found["DCGM_FI_DEV_GPU_UTIL"])
    assert found["aiconsole_slurm_jobs"] == [({"cluster": "prod", "state": "RUNNING"}, 1.0)]


def test_openmetrics_on_request_and_gzip(served: tuple[MetricsServer, Published]) -> None:
    server, published = served
    published.publish(synthetic_snapshot())
    body, headers = get(server, Accept=OPENMETRICS)
    assert headers["Content-Type"].startswith("application/openmetrics-text")
    text = body.decode()
    assert text.endswith("# EOF\n")
    assert "# TYPE aiconsole_network_receive_errors counter" in text
    assert "aiconsole_network_receive_errors_total{" in text
    assert "# UNIT aiconsole_memory_total_bytes bytes" in text
    zipped, headers = get(server, **{"Accept-Encoding": "gzip"})
    assert headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(zipped).startswith(b"# HELP")


def test_scrapes_read_the_published_snapshot_and_follow_new_ones(
    served: tuple[MetricsServer, Published],
) -> None:
    server, published = served
    first = synthetic_snapshot()
    published.publish(first)
    body = get(server)[0]
    assert get(server)[0] == body  # nothing new published: the very same bytes
    host = first.hosts[0]
    assert host.sample is not None
    hotter = msgspec.structs.replace(host.sample.gpu.gpus[0], temperature_c=99.0)
    section = msgspec.structs.replace(host.sample.gpu, gpus=(hotter, *host.sample.gpu.gpus[1:]))
    changed = msgspec.structs.replace(
        host, sample=msgspec.structs.replace(host.sample, gpu=section)
    )
    published.publish(msgspec.structs.replace(first, hosts=(changed, *first.hosts[1:])))

    def shows_new_temperature() -> bool:
        found = samples(get(server)[0].decode())
        return any(
            lab["Hostname"] == host.name and lab["gpu"] == "0" and v == 99.0
            for lab, v in found["DCGM_FI_DEV_GPU_TEMP"]
        )

    poll(shows_new_temperature, 30, "the new snapshot never reached /metrics")


def test_a_stuck_scraper_blocks_neither_publishing_nor_other_scrapes(
    served: tuple[MetricsServer, Published],
) -> None:
    server, published = served
    published.publish(synthetic_snapshot(32))
    host, port = server.server_address[:2]
    stuck = []
    for _ in range(4):  # each asks for a large body, then never reads it
        sock = socket.create_connection((str(host), port))
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
        stuck.append(sock)
    half = socket.create_connection((str(host), port))  # and one sends half a request
    half.sendall(b"GET /metr")
    stuck.append(half)
    try:
        for _ in range(3):
            published.publish(synthetic_snapshot(32))
            assert samples(get(server)[0].decode())["aiconsole_host_up"]
    finally:
        for sock in stuck:
            sock.close()


def test_snapshot_json_never_imports_prometheus_client(no_gpu_env: dict[str, str]) -> None:
    program = (
        "import sys; from aiconsole.cli import main; "
        "code = main(['snapshot', '--json', '--window', '0']); "
        "sys.stderr.write('LOADED' if 'prometheus_client' in sys.modules else 'CLEAN')"
    )
    result = subprocess.run(
        [sys.executable, "-c", program], env=no_gpu_env, cwd=REPO, capture_output=True, text=True
    )
    assert result.stderr.endswith("CLEAN"), result.stderr


def test_serve_with_a_bad_address_says_so_in_one_line(no_gpu_env: dict[str, str]) -> None:
    code, _, stderr = run_aiconsole("serve", "--listen", "nowhere", env=no_gpu_env)
    assert code == 64  # a bad option value is a usage error
    assert stderr.strip() == "aiconsole: error: --listen: 'nowhere' is not HOST:PORT"


# -- a real Prometheus scraping `aiconsole serve` --------------------------------------------

DASHBOARD_QUERIES = {
    # What the usual dcgm-exporter Grafana dashboard asks (its panels and template variables,
    # with $instance and $gpu set to "all").
    "GPU temperature": 'DCGM_FI_DEV_GPU_TEMP{instance=~".*", gpu=~".*"}',
    "GPU average temperature": 'avg(DCGM_FI_DEV_GPU_TEMP{instance=~".*", gpu=~".*"})',
    "GPU power usage": 'DCGM_FI_DEV_POWER_USAGE{instance=~".*", gpu=~".*"}',
    "GPU power total": 'sum(DCGM_FI_DEV_POWER_USAGE{instance=~".*", gpu=~".*"})',
    "GPU SM clocks": 'DCGM_FI_DEV_SM_CLOCK{instance=~".*", gpu=~".*"} * 1000000',
    "GPU utilization": 'DCGM_FI_DEV_GPU_UTIL{instance=~".*", gpu=~".*"}',
    "GPU framebuffer used": 'DCGM_FI_DEV_FB_USED{instance=~".*", gpu=~".*"}',
    "memory used %": "DCGM_FI_DEV_FB_USED / (DCGM_FI_DEV_FB_USED + DCGM_FI_DEV_FB_FREE) * 100",
    "per host": "sum by (Hostname) (DCGM_FI_DEV_POWER_USAGE)",
    "per host, lower case": "max by (hostname, gpu) (DCGM_FI_DEV_GPU_TEMP)",
    "remapped rows": "max by (Hostname, gpu) (DCGM_FI_DEV_UNCORRECTABLE_REMAPPED_ROWS)",
    "XIDs": "DCGM_FI_DEV_XID_ERRORS",
    "variable: instance": "count by (instance) (DCGM_FI_DEV_GPU_TEMP)",
    "variable: gpu": "count by (gpu) (DCGM_FI_DEV_GPU_TEMP)",
}


def test_prometheus_scraping_serve_reads_back_the_snapshot(
    gpu_env: dict[str, str], nvml_config: NvmlConfig, tmp_path: Path
) -> None:
    nvml_config.set(device_count=2).gpu(0).gpu(1, util_gpu="12", temperature="71")
    code, stdout, stderr = run_aiconsole("snapshot", "--json", env=gpu_env)
    assert code == 0, stderr
    expected = msgspec.json.decode(stdout, type=FleetSnapshot).hosts[0]
    assert expected.sample is not None
    port = free_port()
    serve = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "aiconsole",
            "--interval",
            "0.5",
            "serve",
            "--listen",
            f"127.0.0.1:{port}",
        ],
        env=gpu_env,
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    prometheus = PrometheusServer(
        tmp_path / "prometheus", scrape_config({"aiconsole": [f"127.0.0.1:{port}"]})
    )
    try:
        prometheus.wait_ready()
        prometheus.wait_for_series("DCGM_FI_DEV_GPU_UTIL", count=2)
        host = expected.name

        def one(promql: str) -> float:
            result = prometheus.query(promql)
            assert len(result) == 1, (promql, result)
            return float(result[0]["value"][1])

        for gpu in expected.sample.gpu.gpus:
            where = (
                f'{{Hostname="{host}", hostname="{host}", gpu="{gpu.index}", UUID="{gpu.uuid}"}}'
            )
            assert gpu.memory_used_bytes is not None
            assert one(f"DCGM_FI_DEV_GPU_UTIL{where}") == gpu.util_gpu_percent
            assert one(f"DCGM_FI_DEV_GPU_TEMP{where}") == gpu.temperature_c
            assert one(f"DCGM_FI_DEV_POWER_USAGE{where}") == gpu.power_draw_w
            assert one(f"DCGM_FI_DEV_SM_CLOCK{where}") == gpu.sm_clock_mhz
            assert one(f"DCGM_FI_DEV_FB_USED{where}") == gpu.memory_used_bytes / 2**20
        memory = expected.sample.memory
        assert one(f'aiconsole_memory_total_bytes{{hostname="{host}"}}') == memory.total_bytes
        assert one(f'aiconsole_cpu_count{{hostname="{host}"}}') == expected.sample.cpu.count
        assert one(f'aiconsole_host_up{{hostname="{host}"}}') == 1
        for title, promql in DASHBOARD_QUERIES.items():
            assert prometheus.query(promql), f"dashboard panel {title!r} ({promql}) is empty"
        # And back in: the Prometheus source reads aiconsole's own series as a fleet.
        store = FleetStore()
        asyncio.run(PrometheusSource(PrometheusSettings(url=prometheus.url), store).poll_once())
        read = store.get(host)
        assert read is not None and read.status == "ok" and read.sample is not None
        assert read.sample.cpu.count == expected.sample.cpu.count
        assert read.sample.memory.total_bytes == memory.total_bytes
        totals = read.sample.gpu.totals
        assert totals is not None and totals.count == 2
        assert totals.util_mean_percent == (87 + 12) / 2
    finally:
        prometheus.stop()
        serve.terminate()
        _, err = serve.communicate(timeout=30)
    assert serve.returncode == 0, err
    assert b"Traceback" not in err


def test_encoding_runs_in_a_child_process_that_is_replaced_if_it_dies(
    served: tuple[MetricsServer, Published],
) -> None:
    import os
    import signal

    server, published = served
    published.publish(synthetic_snapshot())
    assert samples(get(server)[0].decode())["aiconsole_host_up"]
    first = server.exposition.worker.pid
    assert first is not None and first != os.getpid()
    os.kill(first, signal.SIGKILL)
    published.publish(synthetic_snapshot(3))

    def three_hosts() -> bool:
        return len(samples(get(server)[0].decode())["aiconsole_host_up"]) == 3

    poll(three_hosts, 60, "no encoding after the encoding process died")
    assert server.exposition.worker.pid not in (None, first)
