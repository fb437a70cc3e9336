"""Turn the fleet queries' answers into one :class:`HostSample` per host.

Everything here is pure: series in, model out. Label values come from whatever Prometheus
scraped and are cleaned once, here, where they enter (:func:`aiconsole.text.clean`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from aiconsole.model import Cpu, GpuSection, GpuTotals, HostSample, Identity, Memory, Nic
from aiconsole.prometheus.client import FleetLabels, FleetSeries
from aiconsole.text import clean

PROBE_VERSION = "prometheus"
"""What :attr:`Identity.probe_version` says for a host read from Prometheus."""
MIB = 1024 * 1024
NAME_LIMIT = 253
NOT_ON_THEIR_OWN = frozenset(
    {"cpu_busy", "rx", "tx", "gpu_count", "gpu_fb_total", "cpus", "mem_total"}
)
"""Fields that do not show a host is still there: rates outlive their series by the rate
window, and the once-a-minute figures by up to a minute."""
_PORT = re.compile(r"^\[?(.*?)\]?:\d+$")


@dataclass(frozen=True)
class HostKey:
    name: str
    """Cleaned host name: what the console shows and keys the store by."""
    label: str
    """The label the name came from: ``hostname``, ``Hostname`` or ``instance``."""
    raw: str
    """The label's value as Prometheus has it (for drill-down matchers)."""


def host_key(hostname: str, hostname_dcgm: str, instance: str) -> HostKey | None:
    """The host a series belongs to: ``hostname``, else ``Hostname``, else ``instance``."""
    if hostname:
        return HostKey(clean(hostname, NAME_LIMIT), "hostname", hostname)
    if hostname_dcgm:
        return HostKey(clean(hostname_dcgm, NAME_LIMIT), "Hostname", hostname_dcgm)
    if not instance:
        return None
    match = _PORT.match(instance)
    raw = match.group(1) if match else instance
    return HostKey(clean(raw, NAME_LIMIT), "instance", raw)


class HostKeys:
    """Remembers the key of each label value seen: every refresh sees the same ones again,
    and at 10,000 hosts cleaning them anew each time would be a measurable cost. One table
    per label, looked up by the value alone (no tuple to build per series)."""

    LIMIT = 200_000

    def __init__(self) -> None:
        self.by_hostname: dict[str, HostKey] = {}
        self.by_dcgm_hostname: dict[str, HostKey] = {}
        """The keys of ``hostname`` and ``Hostname`` label values seen so far (read only:
        :func:`gather` looks them up without a call)."""
        self._instance: dict[str, HostKey | None] = {}

    def of(self, labels: FleetLabels) -> HostKey | None:
        value = labels.hostname
        if value:
            key = self.by_hostname.get(value)
            if key is None:
                key = HostKey(clean(value, NAME_LIMIT), "hostname", value)
                self.by_hostname[value] = key
            return key
        value = labels.Hostname
        if value:
            key = self.by_dcgm_hostname.get(value)
            if key is None:
                key = HostKey(clean(value, NAME_LIMIT), "Hostname", value)
                self.by_dcgm_hostname[value] = key
            return key
        try:
            return self._instance[labels.instance]
        except KeyError:
            found = self._instance[labels.instance] = host_key("", "", labels.instance)
            return found

    def forget_if_large(self) -> None:
        """Start afresh past :data:`LIMIT` keys (label values that keep changing)."""
        if len(self.by_hostname) + len(self.by_dcgm_hostname) + len(self._instance) > self.LIMIT:
            self.by_hostname.clear()
            self.by_dcgm_hostname.clear()
            self._instance.clear()


@dataclass
class HostFigures:
    """What the fleet answers said about one host, field by field."""

    key: HostKey
    values: dict[str, float] = field(default_factory=dict)
    targets_down: list[str] = field(default_factory=list)

    def lacks_slow_fields(self) -> bool:
        """Read this refresh but not in the last once-a-minute read: a host new since."""
        v = self.values
        gpus_new = "gpu_util" in v and "gpu_count" not in v
        return gpus_new or ("mem_available" in v and "cpus" not in v)

    @property
    def has_data(self) -> bool:
        """Some series read in this refresh (see :data:`NOT_ON_THEIR_OWN`)."""
        return not NOT_ON_THEIR_OWN.issuperset(self.values)

    def at(self) -> float | None:
        """The newest sample's time."""
        get = self.values.get
        newest = get("at")
        for other in (get("a_at"), get("gpu_at")):
            if other is not None and (newest is None or other > newest):
                newest = other
        return newest


def gather(
    keys: HostKeys,
    answers: Iterable[Iterable[FleetSeries]],
    down: Iterable[FleetSeries],
    slow: dict[str, dict[str, float]] | None = None,
) -> dict[str, HostFigures]:
    """Group the fleet answers by host; ``down`` is the ``up == 0`` answer: the scrape
    targets that fail; ``slow`` the once-a-minute figures, already grouped
    (:func:`group_by_host`: they are the same for a minute of refreshes, so they are grouped once).
    Runs once per series per refresh: kept to plain loops."""
    hosts: dict[str, HostFigures] = {}
    keys.forget_if_large()
    key_of = keys.of
    # The usual labels, looked up here without a call (precedence as in HostKeys.of).
    by_hostname, by_dcgm_hostname = keys.by_hostname, keys.by_dcgm_hostname
    for answer in answers:
        for series in answer:
            labels = series.metric
            field = labels.aiconsole_field
            if not field:
                continue
            hostname = labels.hostname
            key = by_hostname.get(hostname) if hostname else by_dcgm_hostname.get(labels.Hostname)
            if key is None:
                key = key_of(labels)
                if key is None:
                    continue
            found = hosts.get(key.name)
            if found is None:
                found = hosts[key.name] = HostFigures(key)
            found.values[field] = series.value.value
    if slow:
        for name, found in hosts.items():
            figures = slow.get(name)
            if figures is not None:
                found.values.update(figures)
    for series in down:
        labels = series.metric
        key = key_of(labels)
        if key is None:
            continue
        found = hosts.get(key.name)
        if found is None:
            found = hosts[key.name] = HostFigures(key)
        job = clean(labels.job or "?", 80)
        found.targets_down.append(f"{job} ({clean(labels.instance or '?', 120)})")
    return hosts


def group_by_host(keys: HostKeys, answer: Iterable[FleetSeries]) -> dict[str, dict[str, float]]:
    """One answer's figures per host name: field -> value."""
    grouped: dict[str, dict[str, float]] = {}
    for series in answer:
        labels = series.metric
        key = keys.of(labels)
        if key is not None and labels.aiconsole_field:
            grouped.setdefault(key.name, {})[labels.aiconsole_field] = series.value.value
    return grouped


def _first(value: float | None, get: Callable[[str], float | None], other: str) -> float | None:
    """``value``, else the figure named ``other`` (asked only when needed)."""
    return get(other) if value is None else value


def sample_of(figures: HostFigures, seq: int, now: float, at: float | None) -> HostSample:
    """The host's sample; ``at``: its newest sample's time (:meth:`HostFigures.at`, which
    the caller has already asked). Runs for every host whose figures changed."""
    v = figures.values
    get = v.get
    name = figures.key.name
    unavailable: dict[str, str] = {}
    # node_exporter's figure, else aiconsole's own exporter's.
    cpus = _first(get("cpus"), get, "a_cpus")
    busy = _first(get("cpu_busy"), get, "a_cpu_busy")
    if cpus is None:
        unavailable["count"] = "no node_exporter CPU series in Prometheus"
    cpu = Cpu(
        count=0 if cpus is None else round(cpus),
        total_percent=None if busy is None else round(max(0.0, min(1.0, busy)) * 100, 2),
        load1=get("load1"),
        unavailable=unavailable,
    )
    total = _first(get("mem_total"), get, "a_mem_total")
    available = _first(get("mem_available"), get, "a_mem_available")
    memory = Memory(
        total_bytes=None if total is None else round(total),
        available_bytes=None if available is None else round(available),
        used_bytes=None if total is None or available is None else round(total - available),
        unavailable={} if total is not None else {"total_bytes": "no memory series"},
    )
    count = get("gpu_count")
    # The count is read once a minute: the GPUs are there if this refresh read their figures.
    if count and ("gpu_util" in v or "gpu_fb_used" in v or "gpu_temp" in v):
        used = get("gpu_fb_used")
        fb_total = get("gpu_fb_total")
        totals = GpuTotals(
            count=round(count),
            util_mean_percent=get("gpu_util"),
            memory_used_bytes=None if used is None else round(used * MIB),
            memory_total_bytes=None if fb_total is None else round(fb_total * MIB),
            temperature_max_c=get("gpu_temp"),
            power_draw_w=get("gpu_power"),
        )
        gpu = GpuSection(status="ok", source="dcgm-exporter", totals=totals)
    else:
        gpu = GpuSection(
            status="no_driver", reason="no dcgm-exporter series for this host in Prometheus"
        )
    nics: tuple[Nic, ...] = ()
    if "rx" in v or "tx" in v:
        nics = (Nic(name="(all)", rx_bytes_per_s=v.get("rx"), tx_bytes_per_s=v.get("tx")),)
    return HostSample(
        seq=seq,
        collected_at=at if at is not None else now,
        identity=Identity(
            name=name,
            hostname=name,
            probe_version=PROBE_VERSION,
        ),
        cpu=cpu,
        memory=memory,
        nics=nics,
        gpu=gpu,
    )
