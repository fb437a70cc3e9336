"""A synthetic fleet that moves like real telemetry, second by second (recording tests, bench).

Starts from :func:`tests.synthetic.fleet_store` and, each step, changes what a probe's next
sample would change, with the precision the probe reports it:

- clocks: ``collected_at`` (host clock, microsecond jitter), ``received_at`` and ``age_s`` on
  the console clock, ``seq`` + 1, ``uptime_s`` + 1 s (two decimals, as /proc/uptime), the
  probe's CPU time growing by a few milliseconds;
- CPU total and per-core percentages (one decimal) and load averages (two) as random walks;
  available memory in 4 KiB pages; a filesystem's usage every ten seconds or so;
- rates as the probe computes them: a whole number of bytes (or sectors) over the
  interval's real length (1 s +- a few ms), so every rate is a full-precision float;
  busy NVMe and InfiniBand ports, an idle second disk, error counters that rarely step;
- per GPU: utilisation (whole %) and power (mW / 1000) as random walks, memory used in MiB,
  temperature that drifts a degree every few seconds, SM clock mostly flat, energy counters
  growing by power x interval (mJ / 1000), throttle reasons that sometimes flip;
- per process: CPU % (one decimal) and RSS in pages; about one process start or stop per
  host every ten minutes; an XID on one host now and then.

Names, models, UUIDs, bus ids and other static fields stay as they are. Deterministic for a
given seed.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import Any

import msgspec

from aiconsole import probe
from aiconsole.model import FleetSnapshot, Gpu, GpuProcess, HostSample, HostState, XidEvent
from tests.synthetic import COMMANDS, NOW, USERS, fleet_store

replace = msgspec.structs.replace


def _walk(rng: random.Random, value: float, step: float, low: float, high: float) -> float:
    return float(min(high, max(low, value + rng.uniform(-step, step))))


class MovingFleet:
    def __init__(
        self,
        hosts: int = 256,
        seed: int = 11,
        xid_every: int = 600,
        rate_decimals: int | None = None,
    ) -> None:
        self.rng = random.Random(seed)
        self.rate_decimals = rate_decimals
        """None: rates at full float precision, as the probe reports them today; else
        rounded to this many decimals (what rounding in the probe would give)."""
        self.snapshot = fleet_store(hosts, seed=seed).snapshot()
        self.now = NOW
        self.xid_every = xid_every
        """Seconds between XIDs somewhere in the fleet (on average)."""
        self._next_pid = 50_000

    def __iter__(self) -> Iterator[FleetSnapshot]:
        while True:
            yield self.step()

    def step(self) -> FleetSnapshot:
        self.now += 1.0
        hosts = tuple(self._host(state) for state in self.snapshot.hosts)
        self.snapshot = replace(self.snapshot, generated_at=self.now, hosts=hosts)
        return self.snapshot

    def _host(self, state: HostState) -> HostState:
        rng = self.rng
        if state.status != "ok" or state.sample is None:
            if state.received_at is None:
                return state
            return replace(state, age_s=round(self.now - state.received_at, 3))
        s = state.sample
        dt = 1.0 + rng.gauss(0, 0.003)  # the interval as the host's monotonic clock saw it
        cpu = s.cpu
        cores = tuple(round(_walk(rng, c, 8, 0.0, 100.0), 1) for c in (cpu.per_core_percent or ()))
        cpu = replace(
            cpu,
            total_percent=round(sum(cores) / len(cores), 1) if cores else None,
            per_core_percent=cores,
            load1=round(_walk(rng, cpu.load1 or 0, 0.3, 0, 64), 2),
            load5=round(_walk(rng, cpu.load5 or 0, 0.1, 0, 64), 2),
            load15=round(_walk(rng, cpu.load15 or 0, 0.03, 0, 64), 2),
        )
        memory = s.memory
        if memory.total_bytes and memory.available_bytes:
            available = memory.available_bytes + 4096 * rng.randrange(-20_000, 20_000)
            memory = replace(
                memory, available_bytes=available, used_bytes=memory.total_bytes - available
            )
        filesystems = s.filesystems
        if filesystems and rng.random() < 0.1:
            fs = filesystems[0]
            used = (fs.used_bytes or 0) + 4096 * rng.randrange(0, 50_000)
            filesystems = (replace(fs, used_bytes=used), *filesystems[1:])
        disks = tuple(
            d
            if index != 1
            else replace(
                d,
                read_bytes_per_s=self._rate(512 * rng.randrange(0, 400_000), dt),
                write_bytes_per_s=self._rate(512 * rng.randrange(0, 800_000), dt),
                read_iops=self._rate(rng.randrange(0, 3000), dt),
                write_iops=self._rate(rng.randrange(0, 5000), dt),
            )
            for index, d in enumerate(s.disks)
        )
        nics = tuple(
            n
            if n.state != "up" or n.virtual
            else replace(
                n,
                rx_bytes_per_s=self._rate(rng.randrange(0, 3_000_000), dt),
                tx_bytes_per_s=self._rate(rng.randrange(0, 1_000_000), dt),
                rx_drops=(n.rx_drops or 0) + (rng.random() < 0.01),
            )
            for n in s.nics
        )
        ib_ports = tuple(
            p
            if p.state != "ACTIVE"
            else replace(
                p,
                rx_bytes_per_s=self._rate(rng.randrange(0, 20_000_000_000), dt),
                tx_bytes_per_s=self._rate(rng.randrange(0, 20_000_000_000), dt),
            )
            for p in s.ib_ports
        )
        section = replace(s.gpu, gpus=tuple(self._gpu(g, dt) for g in s.gpu.gpus))
        if section.gpus and rng.random() < len(self.snapshot.hosts) ** -1 / self.xid_every:
            section = replace(section, xid_events=(*section.xid_events, self._xid(section.gpus)))
        collected = self.now - rng.uniform(0.2, 0.6) + rng.gauss(0, 0.0005)
        sample: HostSample = replace(
            s,
            seq=s.seq + 1,
            collected_at=collected,
            probe_cpu_s=(s.probe_cpu_s or 0) + rng.uniform(0.002, 0.004),
            identity=replace(s.identity, uptime_s=round((s.identity.uptime_s or 0) + 1, 2)),
            cpu=cpu,
            memory=memory,
            filesystems=filesystems,
            disks=disks,
            nics=nics,
            ib_ports=ib_ports,
            gpu=section,
        )
        received = collected + rng.uniform(0.001, 0.05)
        return replace(
            state, received_at=received, age_s=round(self.now - received, 3), sample=sample
        )

    def _rate(self, count: int, dt: float) -> float:
        rate = count / dt
        return rate if self.rate_decimals is None else round(rate, self.rate_decimals)

    def _gpu(self, gpu: Gpu, dt: float) -> Gpu:
        if gpu.lost:
            return gpu
        rng = self.rng
        power_mw = round((gpu.power_draw_w or 0) * 1000) + rng.randrange(-15_000, 15_000)
        power_mw = min(700_000, max(60_000, power_mw))
        energy_mj = round((gpu.energy_j or 0) * 1000) + round(power_mw * dt)
        session_mj = round((gpu.energy_session_j or 0) * 1000) + round(power_mw * dt)
        temperature = gpu.temperature_c or 40.0
        if rng.random() < 0.2:
            temperature = float(min(90, max(30, temperature + rng.choice((-1, 1)))))
        reasons = gpu.clock_event_reasons
        if rng.random() < 0.01:
            reasons = () if reasons else ("sw_power_cap",)
        processes = tuple(self._process(p) for p in gpu.processes)
        if rng.random() < 1 / 4800:  # eight GPUs: about one change per host per 10 minutes
            if processes and rng.random() < 0.5:
                processes = processes[:-1]
            else:
                processes = (*processes, self._new_process())
        memory_used = gpu.memory_used_bytes
        if memory_used is not None and rng.random() < 0.3:
            memory_used = min(
                gpu.memory_total_bytes or memory_used,
                max(0, memory_used + 1024**2 * rng.randrange(-512, 512)),
            )
        return replace(
            gpu,
            util_gpu_percent=float(round(_walk(rng, gpu.util_gpu_percent or 0, 6, 0, 100))),
            util_memory_percent=float(round(_walk(rng, gpu.util_memory_percent or 0, 4, 0, 100))),
            memory_used_bytes=memory_used,
            temperature_c=temperature,
            power_draw_w=power_mw / 1000.0,
            sm_clock_mhz=gpu.sm_clock_mhz
            if rng.random() < 0.95
            else rng.choice((1410, 1755, 1980)),
            energy_j=energy_mj / 1000.0,
            energy_session_j=session_mj / 1000.0,
            clock_event_reasons=reasons,
            processes=processes,
        )

    def _process(self, process: GpuProcess) -> GpuProcess:
        rng = self.rng
        return replace(
            process,
            cpu_percent=round(_walk(rng, process.cpu_percent or 0, 5, 0, 400), 1),
            rss_bytes=(process.rss_bytes or 0) + 4096 * rng.randrange(-200, 200),
        )

    def _new_process(self) -> GpuProcess:
        self._next_pid += 1
        return GpuProcess(
            pid=self._next_pid,
            user=self.rng.choice(USERS),
            command=self.rng.choice(COMMANDS),
            gpu_memory_bytes=self.rng.randrange(1, 16) * 1024**3,
        )

    def _xid(self, gpus: tuple[Gpu, ...]) -> XidEvent:
        gpu = self.rng.choice(gpus)
        xid = self.rng.choice((48, 79, 94, 95))
        return XidEvent(
            xid=xid,
            name=probe.xid_name(xid),
            at=self.now - 0.5,
            source="nvml",
            gpu_index=gpu.index,
            bus_id=gpu.bus_id,
            uuid=gpu.uuid,
        )


def with_xid(snapshot: FleetSnapshot, host: str, xid: int, gpu_index: int = 0) -> FleetSnapshot:
    """``snapshot`` with one more XID on ``host`` (for tests that need one at a known frame)."""
    hosts: list[Any] = []
    for state in snapshot.hosts:
        if state.name == host and state.sample is not None:
            event = XidEvent(
                xid=xid,
                name=probe.xid_name(xid),
                at=snapshot.generated_at,
                source="nvml",
                gpu_index=gpu_index,
            )
            section = state.sample.gpu
            section = replace(section, xid_events=(*section.xid_events, event))
            state = replace(state, sample=replace(state.sample, gpu=section))
        hosts.append(state)
    return replace(snapshot, hosts=tuple(hosts))
