"""When did the recording rules last evaluate? Recorded figures change only then.

The rules (:mod:`aiconsole.prometheus.rules`) compute the fleet's per-host figures once per
rule interval (15 s by default); a console refreshing every few seconds would read the same
~100,000 recorded series several times over, at about a second of the server's CPU each time
for a 10,000-host fleet. Every rule of a group is written at the group's evaluation time, so
the timestamp of one recorded series (a "marker": a series seen in the last full read) says
whether anything recorded changed; asking for it is one tiny query.
"""

from __future__ import annotations

from collections.abc import Sequence

from aiconsole.prometheus import queries
from aiconsole.prometheus.client import FleetSeries, PrometheusClient


class RulesClock:
    def __init__(self, client: PrometheusClient) -> None:
        self._client = client
        self._marker: str | None = None
        self.read_at: float | None = None
        """The evaluation the last full read saw (None: unknown, so read in full)."""

    def choose_marker(self, answers: Sequence[Sequence[FleetSeries]]) -> None:
        """Take a series of a full read's answers as the marker (empty matchers stand for
        labels the series lacks, as PromQL reads them)."""
        for answer in answers:
            for series in answer:
                labels = series.metric
                if labels.aiconsole_field:
                    matchers = ", ".join(
                        f'{name}="{queries.escape(value)}"'
                        for name, value in (
                            (queries.FIELD, labels.aiconsole_field),
                            ("hostname", labels.hostname),
                            ("Hostname", labels.Hostname),
                            ("instance", labels.instance),
                        )
                    )
                    self._marker = f"timestamp({queries.RECORDED}{{{matchers}}})"
                    return
        self._marker = None

    async def evaluated_at(self) -> float | None:
        """The marker's evaluation time now; None without a marker or when it is gone (the
        host left, or the rules stopped): then the fleet must be read in full."""
        if self._marker is None:
            return None
        answer = await self._client.query_fleet(self._marker)
        return answer[0].value.value if len(answer) == 1 else None

    def unchanged(self, evaluated_at: float | None) -> bool:
        return evaluated_at is not None and evaluated_at == self.read_at
