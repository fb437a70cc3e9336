"""Health findings as one low-cardinality gauge: how many, by rule, severity and subject.

``aiconsole_findings{rule, severity, hostname, cluster}`` counts the findings in force that
nobody acknowledged or silenced (so alert rules on it follow the console's own mutes). The
labels are bounded by the rules, the hosts and the clusters; the finding's free text
(summary, evidence, the jobs it hits) stays in the console and ``health --json``: as labels,
every new wording would start a new series. ``hostname`` is empty for findings about a
scheduler node or a whole cluster, ``cluster`` for findings about a host.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

from aiconsole.exporter.hosts import Metric, gauge
from aiconsole.health.silences import muted
from aiconsole.model import FleetSnapshot

LABELS = ["rule", "severity", "hostname", "cluster"]


def finding_families(snapshot: FleetSnapshot) -> Iterator[Metric]:
    family = gauge(
        "aiconsole_findings",
        "Health findings in force, not acknowledged or silenced, by rule and subject.",
        LABELS,
    )
    counts = Counter(
        (f.rule, f.severity, f.subject.host or "", f.subject.cluster or "")
        for f in snapshot.findings
        if not muted(f)
    )
    for labels, count in sorted(counts.items()):
        family.add_metric(list(labels), float(count))
    yield family
