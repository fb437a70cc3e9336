"""Hysteresis: observations become findings after N bad samples and clear after M good ones.

The tracker is a value: :func:`step` takes the previous :class:`TrackerState` and returns the
next one with the findings, so the console, tests and a replay can all drive it from
snapshots alone. Events (an XID) raise at once and stay while the rule still sees them;
conditions with a minimum duration (an idle GPU) raise only once they have lasted that long.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from aiconsole.health.observe import Observation
from aiconsole.health.thresholds import Thresholds
from aiconsole.model import Finding

SEVERITY_ORDER = {"critical": 0, "warning": 1, "info": 2}


@dataclass(frozen=True)
class Track:
    observation: Observation
    first_seen: float
    last_seen: float
    bad: int
    """Bad samples in a row."""
    good: int = 0
    """Good samples in a row since it was last seen (only while raised)."""
    raised: bool = False


@dataclass(frozen=True)
class TrackerState:
    tracks: dict[str, Track] = field(default_factory=dict)
    counters: dict[str, int] = field(default_factory=dict)
    """Cumulative counters at the last evaluation, for the "rising" rules."""


def _due(track: Track, thresholds: Thresholds, now: float) -> bool:
    obs = track.observation
    if obs.event:
        return True
    if obs.min_duration_s > 0:
        return now - track.first_seen >= obs.min_duration_s and track.bad >= 2
    return track.bad >= thresholds.raise_after


def step(
    state: TrackerState,
    observations: list[Observation],
    counters: dict[str, int],
    thresholds: Thresholds,
    now: float,
) -> tuple[TrackerState, tuple[Finding, ...]]:
    """Advance the tracker by one evaluation; return the new state and the raised findings."""
    tracks: dict[str, Track] = {}
    for obs in observations:
        before = state.tracks.get(obs.key)
        if before is None:
            first = obs.since if obs.since is not None and obs.since <= now else now
            track = Track(obs, first_seen=first, last_seen=now, bad=1)
        else:
            track = Track(obs, before.first_seen, now, before.bad + 1, 0, before.raised)
        tracks[obs.key] = Track(
            track.observation,
            track.first_seen,
            track.last_seen,
            track.bad,
            0,
            track.raised or _due(track, thresholds, now),
        )
    for key, before in state.tracks.items():
        if key in tracks or not before.raised:
            continue  # seen again, or never raised: a good sample forgets it
        good = before.good + 1
        if good < thresholds.clear_after:
            tracks[key] = Track(
                before.observation, before.first_seen, before.last_seen, 0, good, True
            )
    findings = tuple(sorted((_finding(t) for t in tracks.values() if t.raised), key=order))
    return TrackerState(tracks, counters), findings


def _finding(track: Track) -> Finding:
    obs = track.observation
    return Finding(
        rule=obs.rule,
        severity=obs.severity,
        subject=obs.subject,
        summary=obs.summary,
        evidence=obs.evidence,
        workloads=obs.workloads,
        action=obs.action,
        first_seen=track.first_seen,
        last_seen=track.last_seen,
        incident=incident_id(obs.key, obs.since),
    )


def incident_id(key: str, since: float | None) -> str:
    """``gpu07-3f9a2c1b``: the subject's host (or cluster) and a hash of what (and, for an
    event, when it happened). A condition's start is not knowable from one sample, so its
    incident is the rule on the subject: the CLI, the live console and a later run all name
    it alike, and a fault that comes back finds its earlier story under the same id."""
    where = key.split("@", 1)[1].split("/", 1)[0] if "@" in key else "fleet"
    # An event's minute, not its second: the same XID seen live through NVML and read back
    # from the kernel log differ by milliseconds, and must still be one incident.
    when = f"|{int(since // 60)}" if since is not None else ""
    import hashlib  # here: a healthy fleet's one-shot snapshot names no incident

    digest = hashlib.sha1(f"{key}{when}".encode(), usedforsecurity=False)
    return f"{clean_id(where)}-{digest.hexdigest()[:8]}"


def clean_id(text: str) -> str:
    return "".join(c if c.isascii() and (c.isalnum() or c in "._-") else "_" for c in text)[:64]


def order(finding: Finding) -> tuple[int, str, str]:
    """Worst first, then by subject and rule, so the list does not jump between refreshes."""
    return (SEVERITY_ORDER[finding.severity], finding.subject.key, finding.rule)
