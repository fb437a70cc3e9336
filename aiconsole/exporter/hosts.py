"""Host, network and scheduler families under ``aiconsole_`` names.

Per host: status and data age, CPU, memory, filesystems, NICs, InfiniBand ports. Per Slurm
cluster: reachability, node states, jobs by state, and ``aiconsole_gpu_job_info``, which
names the job holding each GPU as a separate series to join on
(``DCGM_FI_DEV_GPU_UTIL * on(hostname, gpu) group_left(job_id, user) aiconsole_gpu_job_info``)
rather than as job labels copied into every GPU series, whose count would then grow with
every job ever run.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, InfoMetricFamily

from aiconsole.model import FleetSnapshot, HostSample

Metric = GaugeMetricFamily | CounterMetricFamily | InfoMetricFamily

HOST = ["hostname"]
MEGABIT_BYTES = 1_000_000 / 8
GIGABIT_BYTES = 1_000_000_000 / 8


BASE_UNITS = ("bytes", "seconds", "ratio")


def gauge(name: str, help_text: str, labels: list[str]) -> GaugeMetricFamily:
    # OpenMetrics states the unit in a "# UNIT" line, which must be the name's suffix.
    suffix = name.rsplit("_", 1)[-1]
    return GaugeMetricFamily(
        name, help_text, labels=labels, unit=suffix if suffix in BASE_UNITS else ""
    )


def _counter(name: str, help_text: str, labels: list[str]) -> CounterMetricFamily:
    return CounterMetricFamily(name, help_text, labels=labels)


class _HostFamilies:
    """The families of one scrape, filled host by host."""

    def __init__(self) -> None:
        fs = ["hostname", "mountpoint", "device", "fstype"]
        nic = ["hostname", "device"]
        ib = ["hostname", "device", "port"]
        self.status = gauge(
            "aiconsole_host_status",
            "1 for the host's current status (the label).",
            [*HOST, "status"],
        )
        self.up = gauge("aiconsole_host_up", "1 when the host's latest sample is fresh.", HOST)
        self.age = gauge(
            "aiconsole_host_data_age_seconds", "Seconds since the host's data arrived.", HOST
        )
        self.info = InfoMetricFamily(
            "aiconsole_host", "What the host says about itself.", labels=HOST
        )
        self.uptime = gauge("aiconsole_host_uptime_seconds", "Seconds since the host booted.", HOST)
        self.cpus = gauge("aiconsole_cpu_count", "Logical CPUs.", HOST)
        self.cpu_util = gauge(
            "aiconsole_cpu_utilization_ratio", "Share of CPU time busy (0-1).", HOST
        )
        self.load1 = gauge("aiconsole_load1", "1-minute load average.", HOST)
        self.load5 = gauge("aiconsole_load5", "5-minute load average.", HOST)
        self.load15 = gauge("aiconsole_load15", "15-minute load average.", HOST)
        self.mem_total = gauge("aiconsole_memory_total_bytes", "Memory installed.", HOST)
        self.mem_available = gauge(
            "aiconsole_memory_available_bytes", "Memory available without swapping.", HOST
        )
        self.mem_used = gauge(
            "aiconsole_memory_used_bytes", "Memory in use (total - available).", HOST
        )
        self.swap_total = gauge("aiconsole_swap_total_bytes", "Swap space.", HOST)
        self.swap_used = gauge("aiconsole_swap_used_bytes", "Swap in use.", HOST)
        self.fs_size = gauge("aiconsole_filesystem_size_bytes", "Filesystem size.", fs)
        self.fs_used = gauge("aiconsole_filesystem_used_bytes", "Filesystem space used.", fs)
        self.fs_free = gauge(
            "aiconsole_filesystem_free_bytes", "Filesystem space free to unprivileged users.", fs
        )
        self.nic_up = gauge("aiconsole_network_up", "1 when the interface is up.", nic)
        self.nic_speed = gauge(
            "aiconsole_network_speed_bytes", "Link speed in bytes per second.", nic
        )
        self.nic_rx = gauge(
            "aiconsole_network_receive_bytes_per_second", "Bytes received per second.", nic
        )
        self.nic_tx = gauge(
            "aiconsole_network_transmit_bytes_per_second", "Bytes sent per second.", nic
        )
        self.nic_rx_errors = _counter(
            "aiconsole_network_receive_errors", "Receive errors since the link came up.", nic
        )
        self.nic_tx_errors = _counter(
            "aiconsole_network_transmit_errors", "Transmit errors since the link came up.", nic
        )
        self.nic_rx_drops = _counter(
            "aiconsole_network_receive_drops", "Received packets dropped.", nic
        )
        self.nic_tx_drops = _counter(
            "aiconsole_network_transmit_drops", "Packets to send dropped.", nic
        )
        self.ib_info = InfoMetricFamily(
            "aiconsole_infiniband_port", "State of an InfiniBand port.", labels=ib
        )
        self.ib_active = gauge(
            "aiconsole_infiniband_port_active", "1 when the port's state is ACTIVE.", ib
        )
        self.ib_rate = gauge(
            "aiconsole_infiniband_port_rate_bytes", "Link rate in bytes per second.", ib
        )
        self.ib_rx = gauge(
            "aiconsole_infiniband_port_receive_bytes_per_second", "Bytes received per second.", ib
        )
        self.ib_tx = gauge(
            "aiconsole_infiniband_port_transmit_bytes_per_second", "Bytes sent per second.", ib
        )
        self.ib_symbol_errors = _counter(
            "aiconsole_infiniband_port_symbol_errors", "Symbol errors on the link.", ib
        )
        self.ib_link_downed = _counter(
            "aiconsole_infiniband_port_link_downed", "Times the link went down.", ib
        )

    def all(self) -> Iterator[Metric]:
        yield from vars(self).values()

    def add_sample(self, host: str, sample: HostSample) -> None:
        h = [host]
        identity = sample.identity
        self.info.add_metric(
            h,
            {
                "host": identity.hostname,
                "kernel": identity.kernel or "",
                "probe_version": identity.probe_version,
                "driver_version": sample.gpu.driver_version or "",
            },
        )
        put(self.uptime, h, identity.uptime_s)
        cpu = sample.cpu
        self.cpus.add_metric(h, float(cpu.count))
        put(self.cpu_util, h, None if cpu.total_percent is None else cpu.total_percent / 100)
        put(self.load1, h, cpu.load1)
        put(self.load5, h, cpu.load5)
        put(self.load15, h, cpu.load15)
        memory = sample.memory
        put(self.mem_total, h, memory.total_bytes)
        put(self.mem_available, h, memory.available_bytes)
        put(self.mem_used, h, memory.used_bytes)
        put(self.swap_total, h, memory.swap_total_bytes)
        put(self.swap_used, h, memory.swap_used_bytes)
        for fs in sample.filesystems:
            labels = [host, fs.mount, fs.device, fs.fstype]
            put(self.fs_size, labels, fs.size_bytes)
            put(self.fs_used, labels, fs.used_bytes)
            put(self.fs_free, labels, fs.free_bytes)
        for nic in sample.nics:
            labels = [host, nic.name]
            if nic.state is not None:
                self.nic_up.add_metric(labels, 1.0 if nic.state == "up" else 0.0)
            put(
                self.nic_speed,
                labels,
                None if nic.speed_mbps is None else nic.speed_mbps * MEGABIT_BYTES,
            )
            put(self.nic_rx, labels, nic.rx_bytes_per_s)
            put(self.nic_tx, labels, nic.tx_bytes_per_s)
            put(self.nic_rx_errors, labels, nic.rx_errors)
            put(self.nic_tx_errors, labels, nic.tx_errors)
            put(self.nic_rx_drops, labels, nic.rx_drops)
            put(self.nic_tx_drops, labels, nic.tx_drops)
        for port in sample.ib_ports:
            labels = [host, port.device, str(port.port)]
            self.ib_info.add_metric(
                labels,
                {
                    "state": port.state or "",
                    "phys_state": port.phys_state or "",
                    "link_layer": port.link_layer or "",
                    "rate": port.rate or "",
                },
            )
            if port.state is not None:
                self.ib_active.add_metric(labels, 1.0 if port.state == "ACTIVE" else 0.0)
            put(
                self.ib_rate,
                labels,
                None if port.rate_gbps is None else port.rate_gbps * GIGABIT_BYTES,
            )
            put(self.ib_rx, labels, port.rx_bytes_per_s)
            put(self.ib_tx, labels, port.tx_bytes_per_s)
            put(self.ib_symbol_errors, labels, port.symbol_errors)
            put(self.ib_link_downed, labels, port.link_downed)


def put(
    family: GaugeMetricFamily | CounterMetricFamily, labels: list[str], value: float | None
) -> None:
    if value is not None:
        family.add_metric(labels, float(value))


def host_families(snapshot: FleetSnapshot) -> Iterator[Metric]:
    built = _HostFamilies()
    for state in snapshot.hosts:
        h = [state.name]
        built.status.add_metric([state.name, state.status], 1.0)
        built.up.add_metric(h, 1.0 if state.status == "ok" else 0.0)
        if state.age_s is not None:
            built.age.add_metric(h, state.age_s)
        if state.sample is not None:
            built.add_sample(state.name, state.sample)
    yield from built.all()


def cluster_families(snapshot: FleetSnapshot) -> Iterator[Metric]:
    cluster = ["cluster"]
    node = ["cluster", "node"]
    up = gauge("aiconsole_slurm_up", "1 when the cluster's latest read succeeded.", cluster)
    node_state = gauge(
        "aiconsole_slurm_node_state",
        "1 for the node's state as an operator names it (the label).",
        [*node, "state"],
    )
    gpus = gauge("aiconsole_slurm_node_gpus", "GPUs the node has.", node)
    gpus_used = gauge("aiconsole_slurm_node_gpus_allocated", "GPUs held by jobs.", node)
    jobs = gauge("aiconsole_slurm_jobs", "Jobs by state.", ["cluster", "state"])
    gpu_job = InfoMetricFamily(
        "aiconsole_gpu_job",
        "The Slurm job holding a GPU (join on hostname and gpu).",
        labels=["hostname", "gpu"],
    )
    for c in snapshot.clusters:
        up.add_metric([c.name], 1.0 if c.status == "ok" else 0.0)
        for n in c.nodes:
            node_state.add_metric([c.name, n.name, n.summary], 1.0)
            put(gpus, [c.name, n.name], n.gpus_total)
            put(gpus_used, [c.name, n.name], n.gpus_used)
        for state, count in Counter(job.state for job in c.jobs).items():
            jobs.add_metric([c.name, state], float(count))
        for job in c.jobs:
            for host, indices in job.gpu_indices.items():
                for index in indices:
                    gpu_job.add_metric(
                        [host, str(index)],
                        {
                            "cluster": c.name,
                            "job_id": job.job_id,
                            "user": job.user or "",
                            "job_name": job.name or "",
                            "partition": job.partition or "",
                        },
                    )
    yield from (up, node_state, gpus, gpus_used, jobs, gpu_job)
