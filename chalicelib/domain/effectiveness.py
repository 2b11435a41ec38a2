"""Effectiveness (README, "Effectiveness"): did a remediation fix its incident? Pure rules, no I/O.

An execution that ``succeeded`` is judged once its window has passed: the window runs from the execution's finish
``F`` (its runner's reported ``finished_at``) to ``F + EFFECTIVENESS_WINDOW_SECONDS`` (``ends_at``, fixed when the
success is recorded). The alerts that count are the incident's ``alert_fingerprint`` when it names one, else those
whose ``alertname`` equals the incident's ``signal_type`` (case-insensitively, as every label) and whose
``namespace`` label equals the target's namespace (a target without a namespace: alerts without that label).

Which episodes of those alerts count (chalicelib/domain/alerts.py: an episode runs from when the alert fired to
when it resolved): those that were firing at some moment from the run's start ``S`` (its reported ``started_at``;
``F`` when none was reported) to ``ends_at``, both ends included: ``starts_at <= ends_at`` and the episode did not
resolve before ``S``. An episode that resolved before the run started resolved without it; one that fires after
``ends_at`` is a new incident.

The verdict, on those episodes:
- ``unknown``: none (no alert seen: nothing to judge by);
- ``ineffective``: one was still firing when the window ended (not resolved, or resolved after ``ends_at``), or one
  fired again within the window (it started after ``F``, at or before ``ends_at``);
- ``effective``: otherwise: every one resolved by ``ends_at`` and none started after ``F``.
A ``superseded`` episode (its resolution never heard, a later episode of the alert reported) counts as firing until
the later one began, the latest moment it may have ended. The verdict is read from the alerts' own times (their
``startsAt``/``endsAt``), on what the catalog has heard when it judges; it is stored and never recomputed.

The track record of a workflow (its stats, and each search result): ``success_rate`` = succeeded / (succeeded +
failed) and ``effectiveness_rate`` = effective / judged, where ``judged`` counts every verdict given (effective,
ineffective or unknown), as the HTTP contract defines it; ``unknown`` (no alert to judge by) is also counted on its
own, so a reader can tell a record diluted by unalerted runs from one that failed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from chalicelib.domain.limits import MAX_EVIDENCE_EPISODES
from chalicelib.domain.timestamps import rfc3339
from chalicelib.domain.vocabularies import Verdict

EFFECTIVE, INEFFECTIVE, UNKNOWN = Verdict.EFFECTIVE, Verdict.INEFFECTIVE, Verdict.UNKNOWN
VERDICTS = tuple(Verdict)

# The guard ineffective-chain (chalicelib/domain/guards.py): this many ineffective verdicts of a workflow on a target
# for a signal, of executions that finished within CHAIN_WINDOW, refuse the next start there.
INEFFECTIVE_CHAIN = 2
CHAIN_WINDOW = timedelta(hours=24)


@dataclass(frozen=True)
class AlertBinding:
    """The alerts that count for an execution: the one its incident names, else by name and namespace."""

    fingerprint: str | None  # the incident's alert_fingerprint
    alertname: str | None  # else: the incident's signal_type ...
    namespace: str | None  # ... and the target's namespace (None: alerts without a namespace label)

    @classmethod
    def of(cls, incident: Mapping[str, Any], target_namespace: str | None) -> AlertBinding:
        fingerprint = incident.get("alert_fingerprint")
        if isinstance(fingerprint, str):
            return cls(fingerprint, None, None)
        return cls(None, str(incident["signal_type"]), target_namespace)

    def to_dict(self) -> dict[str, str | None]:
        if self.fingerprint is not None:
            return {"alert_fingerprint": self.fingerprint}
        return {"alertname": self.alertname, "namespace": self.namespace}

    def __str__(self) -> str:
        if self.fingerprint is not None:
            return f"alert {self.fingerprint}"
        where = f"namespace {self.namespace}" if self.namespace is not None else "no namespace label"
        return f"alerts {self.alertname} with {where}"


@dataclass(frozen=True)
class Window:
    """An execution's run and window: ``since`` (the run's start, or its finish when no start was reported), the
    finish and the window's end."""

    since: datetime
    finished_at: datetime
    ends_at: datetime

    @classmethod
    def of(cls, started_at: datetime | None, finished_at: datetime, ends_at: datetime) -> Window:
        return cls(started_at if started_at is not None else finished_at, finished_at, ends_at)


def window_ends_at(finished_at: datetime, seconds: int) -> datetime:
    return finished_at + timedelta(seconds=seconds)


@dataclass(frozen=True)
class SeenEpisode:
    """An episode of an alert that counts for the execution, as recorded (chalicelib/domain/alerts.py)."""

    fingerprint: str
    alertname: str | None
    namespace: str | None
    starts_at: datetime
    status: str  # firing | superseded | resolved
    ends_at: datetime | None  # None while firing; a superseded one's: the latest it may have ended


@dataclass(frozen=True)
class Judgement:
    verdict: str  # one of VERDICTS
    evidence: dict[str, Any]  # JSON: stored with the verdict and shown on the execution


def counts(window: Window, episode: SeenEpisode) -> bool:
    """Was the episode firing at some moment from the run's start to the window's end (both included)?"""
    return episode.starts_at <= window.ends_at and (episode.ends_at is None or episode.ends_at >= window.since)


def judge(binding: AlertBinding, window: Window, episodes: Sequence[SeenEpisode]) -> Judgement:
    """The verdict on an execution from the episodes of its alerts (any: those that do not count are left out) and
    its evidence: the rule that decided, each episode that counts (at most MAX_EVIDENCE_EPISODES, the deciding ones
    first) and a sentence saying why."""
    counted = sorted((e for e in episodes if counts(window, e)), key=lambda e: (e.starts_at, e.fingerprint))
    still = [e for e in counted if _firing_at(e, window.ends_at)]
    again = [e for e in counted if e.starts_at > window.finished_at]
    if not counted:
        verdict = UNKNOWN
        summary = (f"No episode of {binding} was firing between the run's start ({rfc3339(window.since)}) and the "
                   f"window's end ({rfc3339(window.ends_at)}): nothing to judge by.")
    elif still or again:
        verdict = INEFFECTIVE
        reasons = []
        if still:
            reasons.append(f"{_alerts(still)} still firing when the window ended ({rfc3339(window.ends_at)})")
        if again:
            reasons.append(f"{_alerts(again)} fired again within the window, after the run finished "
                           f"({rfc3339(window.finished_at)})")
        summary = f"Ineffective: {' and '.join(reasons)}."
    else:
        verdict = EFFECTIVE
        last = max(e.ends_at for e in counted if e.ends_at is not None)
        summary = (f"Effective: {_alerts(counted)} resolved (the last at {rfc3339(last)}) and did not fire again "
                   f"before the window ended ({rfc3339(window.ends_at)}).")
    # The deciding episodes first (sorted is stable: by time within each group).
    shown = sorted(counted, key=lambda e: not (_firing_at(e, window.ends_at) or e.starts_at > window.finished_at))
    return Judgement(verdict, {
        "alerts": binding.to_dict(),
        "since": rfc3339(window.since),
        "finished_at": rfc3339(window.finished_at),
        "window_ends_at": rfc3339(window.ends_at),
        "episodes": [_episode(e, window) for e in shown[:MAX_EVIDENCE_EPISODES]],
        "episodes_counted": len(counted),
        "summary": summary,
    })


def _firing_at(episode: SeenEpisode, moment: datetime) -> bool:
    return episode.ends_at is None or episode.ends_at > moment


def _alerts(episodes: Sequence[SeenEpisode]) -> str:
    alerts = len({e.fingerprint for e in episodes})
    names = sorted({str(e.alertname) for e in episodes})
    return f"{alerts} alert(s) ({', '.join(names)})"


def _episode(episode: SeenEpisode, window: Window) -> dict[str, Any]:
    return {
        "fingerprint": episode.fingerprint, "alertname": episode.alertname, "namespace": episode.namespace,
        "fired_at": rfc3339(episode.starts_at), "status": episode.status,
        "resolved_at": rfc3339(episode.ends_at) if episode.ends_at is not None else None,
        "fired_again": episode.starts_at > window.finished_at,
        "firing_at_window_end": _firing_at(episode, window.ends_at),
    }


@dataclass(frozen=True)
class TrackRecord:
    """What a workflow's executions (of a version, for a signal, or all of them) came to."""

    executions: int  # recorded, in any status
    succeeded: int
    failed: int
    effective: int
    ineffective: int
    unknown: int

    @classmethod
    def of_row(cls, row: Mapping[str, Any]) -> TrackRecord:
        """From counts by name (a count missing: none)."""
        return cls(*(int(row.get(name) or 0) for name in ("executions", "succeeded", "failed", *VERDICTS)))

    @property
    def judged(self) -> int:
        """Every verdict given: effective, ineffective or unknown."""
        return self.effective + self.ineffective + self.unknown

    @property
    def success_rate(self) -> float | None:
        return _rate(self.succeeded, self.succeeded + self.failed)

    @property
    def effectiveness_rate(self) -> float | None:
        return _rate(self.effective, self.judged)

    def to_dict(self) -> dict[str, int | float | None]:
        return {"executions": self.executions, "succeeded": self.succeeded, "failed": self.failed,
                "success_rate": self.success_rate, "judged": self.judged, "effective": self.effective,
                "ineffective": self.ineffective, "unknown": self.unknown,
                "effectiveness_rate": self.effectiveness_rate}


def _rate(part: int, whole: int) -> float | None:
    """part / whole; None when there is nothing to count."""
    return part / whole if whole else None
