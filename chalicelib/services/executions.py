"""Execution use cases: validate parameters, start an execution (audit row + PipelineRun), the approval
steps (approve, reject, start, expiry), the runner's claims and reports (leases, lapses), the audit trail
and per-version statistics.

Rules live in chalicelib/domain (executions, labels, parameter_schema, pipeline_run); SQL in
chalicelib/stores/execution_store. Parameter values are never logged: only their names. The
writeOnly values an execution holds until its runner reports it running are sealed by a ``SecretSealer``
(chalicelib/adapters/sealing.py) before they are stored, and stored nowhere else; only a claim's Secret
carries them out.

Claims long-poll without holding a database connection while they wait: one cheap query a second (or
sooner when this process makes an execution claimable: ``WorkSignal``), and the claiming transaction only
when that query finds work.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from chalicelib.adapters.sealing import SealError
from chalicelib.domain.errors import (
    CatalogError,
    Forbidden,
    InvalidTransition,
    NotFound,
    ServiceUnavailable,
    TargetBusy,
    UnresolvableStep,
    ValidationFailed,
    WorkflowNotApplicable,
)
from chalicelib.domain.executions import (
    APPROVED,
    AWAITING_APPROVAL,
    EXPIRED,
    FAILED,
    PENDING,
    REJECTED,
    RUNNER_LOST,
    RUNNING,
    TERMINAL,
    ClaimRequest,
    ExecutionRequest,
    StatusUpdate,
    Target,
    approval_requirement,
    check_execution_transition,
    check_report_times,
    held_values,
    redact,
    redaction_marker_errors,
    uncovered_steps,
    write_only_names,
)
from chalicelib.domain.guards import (
    BLOCKED,
    DEFAULTS,
    GUARD_NAMES,
    SYSTEM,
    WOULD_AWAIT_APPROVAL,
    WOULD_RUN,
    GuardSettings,
)
from chalicelib.domain.labels import excluded
from chalicelib.domain.limits import DEFAULT_CLUSTER, MAX_CLAIM_ITEMS, MAX_LEASE_LAPSES
from chalicelib.domain.notifications import (
    EXECUTION_APPROVED,
    EXECUTION_AWAITING_APPROVAL,
    EXECUTION_EXPIRED,
    EXECUTION_FAILED,
    EXECUTION_REJECTED,
    execution_event,
)
from chalicelib.domain.paging import Page, keyset_page, read_cursor
from chalicelib.domain.parameter_schema import validate_parameters
from chalicelib.domain.pipeline_run import build_pipeline_run, build_secret, pipeline_run_name
from chalicelib.domain.rows import Row
from chalicelib.domain.vocabularies import GuardVerdict
from chalicelib.domain.workflows import ACTIVE, is_workflow_id
from chalicelib.observability import bind, log_ids, logger
from chalicelib.services import composites, guards, notifications
from chalicelib.services.api_keys import Principal
from chalicelib.services.effectiveness import judge_workflow, with_verdicts
from chalicelib.stores import execution_store as store
from chalicelib.stores.db import Database, UnitOfWork
from chalicelib.stores.execution_store import NewExecution

EXPIRY_MESSAGES: dict[str, str] = {
    AWAITING_APPROVAL: "not approved within the approval window (APPROVAL_TTL_SECONDS)",
    APPROVED: "approved but not started within the approval window (APPROVAL_TTL_SECONDS)",
}
DECISION_EVENTS: dict[str, str] = {APPROVED: EXECUTION_APPROVED, REJECTED: EXECUTION_REJECTED}
CLAIM_POLL_SECONDS = 1.0  # how often a waiting claim looks for work another process made claimable


class SecretSealer(Protocol):
    """Port: seals bytes bound to a context (the execution id) with a key from configuration."""

    def seal(self, plaintext: bytes, context: str) -> bytes: ...

    def unseal(self, sealed: bytes, context: str) -> bytes: ...


@dataclass(frozen=True)
class ValidationReport:
    valid: bool
    errors: list[dict[str, str]]
    parameters: dict[str, Any]  # defaults applied, writeOnly values redacted
    redacted: list[str]


@dataclass(frozen=True)
class StartedExecution:
    execution: Row
    pipeline_run: dict[str, Any] | None  # None while it waits for approval


@dataclass(frozen=True)
class DryRun:
    """What a start would do now (README, "Guardrails"): nothing of it was written and no lock was taken."""

    workflow_id: str
    version: str | None  # None: no active version to run
    outcome: str  # one of domain/guards.py DRY_RUN_OUTCOMES
    blocked_by: list[CatalogError]  # every refusal, in the order a start would meet them
    guards: dict[str, str]  # each guard's verdict: passed or blocked
    approval_required_by: dict[str, Any] | None
    pipeline_run: dict[str, Any] | None  # the run it would release (None when it cannot be built)


@dataclass(frozen=True)
class ClaimedExecution:
    execution_id: str
    status: str  # pending, or running when another runner's lease on it lapsed (its PipelineRun exists, or did)
    pipeline_run: dict[str, Any]
    secret: dict[str, Any] | None  # the writeOnly values, until the runner reports it running
    lease_expires_at: datetime
    held: bool  # leased to this runner already (handed back, not newly claimed)


class WorkSignal:
    """Wakes the claims waiting in this process when it makes an execution claimable (after the commit), so they
    look at once instead of at their next poll (other processes' executions are found by the poll), or ends their
    wait (``interrupt``: a server stopping)."""

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._state = (0, 0)  # (work made claimable, interruptions), each counted

    def state(self) -> tuple[int, int]:
        with self._changed:
            return self._state

    def notify(self) -> None:
        self._bump((1, 0))

    def interrupt(self) -> None:
        self._bump((0, 1))

    def _bump(self, by: tuple[int, int]) -> None:
        with self._changed:
            self._state = (self._state[0] + by[0], self._state[1] + by[1])
            self._changed.notify_all()

    def wait(self, seen: tuple[int, int], timeout: float) -> tuple[int, int]:
        """Waits up to ``timeout`` for a change after state ``seen``; returns the state now."""
        with self._changed:
            self._changed.wait_for(lambda: self._state != seen, timeout=timeout)
            return self._state


class ExecutionService:
    def __init__(self, db: Database, sealer: SecretSealer, approval_seconds: int,
                 guard_defaults: GuardSettings = DEFAULTS, lease_seconds: int = 60,
                 effectiveness_seconds: int = 600) -> None:
        self._db = db
        self._sealer = sealer
        self._approval_seconds = approval_seconds
        self._guards = guard_defaults  # DEFAULT_* from configuration
        self._lease_seconds = lease_seconds  # CLAIM_LEASE_SECONDS
        self._effectiveness_seconds = effectiveness_seconds  # EFFECTIVENESS_WINDOW_SECONDS
        self.work = WorkSignal()

    def validate(self, workflow_id: str, version: str, parameters: Mapping[str, Any]) -> ValidationReport:
        """Checks parameters against any version's schema (read-only; status does not matter here)."""
        row = None
        if is_workflow_id(workflow_id):
            with self._db.reading() as tx:
                row = store.version_for_execution(tx, workflow_id, version)
        if row is None:
            raise NotFound(f"Workflow '{workflow_id}' has no version {version}.")
        schema = row["parameters"]
        errors, values = validate_parameters(schema, parameters)
        errors = sorted({*errors, *redaction_marker_errors(schema, values)}, key=lambda e: (e.path, e.message))
        return ValidationReport(
            valid=not errors,
            errors=[e.to_dict() for e in errors],
            parameters=redact(schema, values),
            redacted=sorted(write_only_names(schema) & set(values)),
        )

    def start(self, request: ExecutionRequest, actor: str, principal: Principal | None = None) -> StartedExecution:
        """Validates and records the execution in one transaction: pending with its PipelineRun, or, when the
        workflow or (a composite) a workflow one of its steps resolves to requires approval, awaiting_approval with
        its writeOnly values sealed and no run. Every guard must let it run (services/guards.py), checked under the
        workflow's start lock. A ``principal`` limited to namespaces starts executions only on targets in them."""
        _require_reach(principal, request.target.namespace, "the target")
        execution_id = str(uuid.uuid4())
        with self._db.transaction() as tx:
            workflow = _workflow(request, store.workflow_for_start(tx, request.workflow_id))
            row = _executable(request, workflow, store.version_for_execution(tx, request.workflow_id, request.version))
            _check_applicable(request, row)
            schema = row["parameters"]
            values = _parameter_values(request, row)
            version = row["version"]
            plan = _plan_run(tx, execution_id, request, row, values)  # a composite's steps resolve again at a start
            # A waiting execution past its deadline must not keep the target it no longer holds (the guards count
            # none past its deadline). Only this target's: a start expiring others could take the row of a target
            # another start is inserting on, while that start took this one's, each then waiting on the other.
            expired = _expire_overdue(tx, target=request.target)
            guards.enforce(tx, workflow, request.target, request.signal_type, self._guards)
            requirement = approval_requirement(bool(workflow["approval_required"]), plan.gated_steps)
            gated = requirement is not None
            manifest = None if gated else plan.pipeline_run
            stored = store.insert_execution(tx, NewExecution(
                execution_id=execution_id, workflow_id=request.workflow_id, version=version,
                container_image=row["container_image"], parameters=redact(schema, values),
                redacted_parameters=sorted(write_only_names(schema) & set(values)), incident=request.incident,
                incident_id=request.incident_id, pipeline_run_name=pipeline_run_name(request.workflow_id, execution_id),
                created_by=actor, target=request.target, status=AWAITING_APPROVAL if gated else PENDING,
                approval_seconds=self._approval_seconds if gated else None, approval_required_by=requirement,
                pipeline_run=manifest,
            ))
            if stored is None:
                raise _busy(request.target, store.active_on_target(tx, request.target))
            held = held_values(schema, values)
            if held:  # until its runner reports it running: only the claim's Secret carries them
                store.insert_secret(tx, execution_id, self._seal(held, execution_id))
            message = _approval_message(requirement)
            store.insert_event(tx, execution_id, None, stored["status"], message, actor)
            if gated:
                notifications.record(tx, execution_event(EXECUTION_AWAITING_APPROVAL, stored, actor=actor,
                                                         reason=message, previous_status=None))
            if plan.composite is not None and not gated:  # a gated one records its steps when it starts
                stored = composites.record_execution(tx, execution_id, plan.composite)
        self._record_expiries(expired)
        if not gated:
            self.work.notify()
        bind(execution_id=execution_id)
        logger.info("execution created", extra=log_ids(
            stored, incident_id=request.incident_id, parameter_names=sorted(values), status=stored["status"],
            target=str(request.target), cluster=request.target.cluster))
        return StartedExecution(stored, manifest)

    def dry_run(self, request: ExecutionRequest, principal: Principal | None = None) -> DryRun:
        """What ``start`` would do now, every check evaluated (the version, the incident's labels, every guard, a
        composite's steps, the target lock, approval) in a read-only transaction: nothing is written and no lock is
        taken. Bad input (400), an unknown workflow or version (404) and a target beyond the key's namespaces (403)
        are errors of the dry run itself, as of the start."""
        _require_reach(principal, request.target.namespace, "the target")
        blocked: list[CatalogError] = []
        steps_blocked: list[CatalogError] = []
        manifest, requirement = None, None
        with self._db.transaction() as tx:
            store.read_only(tx)
            workflow = _workflow(request, store.workflow_for_start(tx, request.workflow_id, lock=False))
            row = store.version_for_execution(tx, request.workflow_id, request.version)
            try:
                _executable(request, workflow, row)
            except InvalidTransition as refusal:
                blocked.append(refusal)
            if row is not None:
                try:
                    _check_applicable(request, row)
                except WorkflowNotApplicable as refusal:
                    blocked.append(refusal)
                values = _parameter_values(request, row)
                dry_id = str(uuid.uuid4())  # names the run it shows; no execution gets it
                gated: list[dict[str, str]] = []
                try:
                    plan = _plan_run(tx, dry_id, request, row, values, dry_run=True)
                    manifest, gated = plan.pipeline_run, plan.gated_steps
                except UnresolvableStep as refusal:
                    steps_blocked.append(refusal)
                requirement = approval_requirement(bool(workflow["approval_required"]), gated)
            verdict = guards.evaluate(tx, workflow, request.target, request.signal_type, self._guards)
        blocked += [*steps_blocked, *verdict.refusals]  # in the order a start meets them
        if verdict.target_holder is not None:
            blocked.append(_busy(request.target, verdict.target_holder))
        outcome = BLOCKED if blocked else WOULD_AWAIT_APPROVAL if requirement is not None else WOULD_RUN
        refused = {refusal.slug for refusal in verdict.refusals}
        logger.info("execution dry run", extra={
            "workflow_id": request.workflow_id, "version": row["version"] if row else None, "outcome": outcome,
            "blocked_by": [problem.slug for problem in blocked], "target": str(request.target),
        })
        verdicts: dict[str, str] = {slug: GuardVerdict.BLOCKED if slug in refused else GuardVerdict.PASSED
                                    for slug in GUARD_NAMES}
        return DryRun(request.workflow_id, row["version"] if row else None, outcome, blocked, verdicts, requirement,
                      manifest)

    def approve(self, execution_id: str, reason: str, actor: str, principal: Principal | None = None) -> Row:
        """awaiting_approval -> approved, by a principal other than the requester; the approval window
        starts again, for the start."""
        return self._decide(execution_id, APPROVED, reason, actor, principal)

    def reject(self, execution_id: str, reason: str, actor: str, principal: Principal | None = None) -> Row:
        """awaiting_approval or approved -> rejected (final): the held values are deleted, the target freed."""
        return self._decide(execution_id, REJECTED, reason, actor, principal)

    def _decide(self, execution_id: str, decision: str, reason: str, actor: str, principal: Principal | None
                ) -> Row:
        with self._acting_on(execution_id, principal) as (tx, current, _):
            check_execution_transition(execution_id, current["status"], decision)
            if decision == APPROVED and current["created_by"] == actor:
                raise Forbidden(f"Execution {execution_id} was requested with this API key; another principal "
                                "must approve it.")
            updated = store.decide(tx, execution_id, decision, actor, reason,
                                   self._approval_seconds if decision == APPROVED else None)
            if decision == REJECTED:
                store.delete_secret(tx, execution_id)
            store.insert_event(tx, execution_id, current["status"], decision, reason, actor)
            notifications.record(tx, execution_event(DECISION_EVENTS[decision], updated, actor=actor, reason=reason,
                                                     previous_status=current["status"]))
        logger.info(f"execution {decision}", extra=log_ids(updated, from_status=current["status"], status=decision))
        return updated

    def release(self, execution_id: str, actor: str, principal: Principal | None = None) -> StartedExecution:
        """approved -> pending: builds and records the PipelineRun its runner creates (the held values stay sealed
        for the claim's Secret; they must still open: a composite's steps are checked with them), in one
        transaction. Only the requester starts it (Forbidden otherwise). The workflow must still be enabled and the
        version active, and a composite's steps may not resolve to a workflow requiring approval that the approval
        did not cover."""
        with self._acting_on(execution_id, principal, starting=True) as (tx, current, workflow):
            if current["created_by"] != actor:
                raise Forbidden(f"Execution {execution_id} was requested with another API key; only the key that "
                                "requested it may start it after approval.")
            check_execution_transition(execution_id, current["status"], PENDING)
            request = _stored_request(current)
            assert workflow is not None  # executions reference their version, and workflows are never deleted
            row = _executable(request, workflow, store.version_for_execution(tx, request.workflow_id, request.version))
            # The guards again, as for any start: the execution stays approved when one refuses.
            guards.enforce(tx, workflow, request.target, request.signal_type, self._guards,
                           exclude_execution_id=execution_id)
            sealed = store.get_secret(tx, execution_id)
            values = dict(current["parameters"])
            if sealed is not None:
                values.update(self._unseal(sealed, execution_id, "the execution is still approved"))
            plan = _plan_run(tx, execution_id, request, row, values)  # a composite's steps resolve again, now
            uncovered = uncovered_steps(current["approval_required_by"], plan.gated_steps)
            if uncovered:  # the transaction rolls back: the execution stays approved, nothing is released
                raise InvalidTransition(
                    f"Execution {execution_id} cannot start: step(s) {', '.join(uncovered)} now run a workflow "
                    "that requires approval, which its approval did not cover. Reject it and request a new "
                    "execution, to be approved with those steps.")
            manifest = plan.pipeline_run
            updated = store.release(tx, execution_id, manifest)
            store.insert_event(tx, execution_id, current["status"], PENDING, "started", actor)
            if plan.composite is not None:
                updated = composites.record_execution(tx, execution_id, plan.composite)
        self.work.notify()
        logger.info("execution started", extra=log_ids(updated, from_status=current["status"], status=PENDING,
                                                        parameter_names=sorted(values)))
        return StartedExecution(updated, manifest)

    def expire_overdue(self) -> int:
        """Expires every waiting execution past its deadline (the scheduled sweep); returns how many."""
        with self._db.transaction() as tx:
            expired = _expire_overdue(tx)
        self._record_expiries(expired)
        return len(expired)

    def report(self, execution_id: str, update: StatusUpdate, actor: str, principal: Principal | None = None) -> Row:
        """A runner's report (README, "The in-cluster runner"), from a key of the execution's target cluster
        (Forbidden otherwise, before anything changes): pending -> running -> succeeded | failed, or pending ->
        succeeded | failed at once; the current running status again is the heartbeat. Each report renews the lease;
        running (or the end) deletes the held writeOnly values; started_at and finished_at come from the report.
        A final execution answers 409: its runner stops reporting it."""
        with self._acting_on(execution_id, principal, runner=True) as (tx, current, _):
            heartbeat = current["status"] == update.status == RUNNING
            if not heartbeat:
                check_execution_transition(execution_id, current["status"], update.status)
            check_report_times(update, current["started_at"])
            updated = store.record_report(
                tx, execution_id, update.status, update.message, update.reason, update.pipeline_run,
                update.started_at, update.finished_at, self._lease_seconds, self._effectiveness_seconds)
            if current["status"] == PENDING:  # delivered in the Secret (running), or never needed (the end)
                store.delete_secret(tx, execution_id)
            if not heartbeat:
                store.insert_event(tx, execution_id, current["status"], update.status, _report_text(update), actor)
            if update.status in TERMINAL:
                self._finished(tx, current, updated, actor, _report_text(update))
        log = logger.debug if heartbeat else logger.info
        log("lease renewed" if heartbeat else "execution reported", extra=log_ids(
            updated, cluster=updated["target_cluster"], runner_id=updated["claimed_by"], from_status=current["status"],
            status=update.status, reason=update.reason))
        return updated

    def claim(self, request: ClaimRequest, actor: str, principal: Principal | None = None) -> list[ClaimedExecution]:
        """Leases the key's cluster's claimable executions to ``request.runner_id`` (README, "The in-cluster
        runner"): up to ``max_items`` new ones, oldest first, plus the pending ones it holds already; waits up to
        ``wait_seconds`` for a new one, looking once per CLAIM_POLL_SECONDS (and at once when this process makes one
        claimable) without holding a database connection in between. A key limited to namespaces claims only
        executions whose target is in them."""
        cluster = principal.acting_cluster if principal else DEFAULT_CLUSTER
        namespaces = principal.namespace_list if principal else None
        deadline = time.monotonic() + request.wait_seconds
        seen = began = self.work.state()
        claimed = self._claim_once(request, cluster, namespaces, actor)
        while not any(not item.held for item in claimed):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            seen = self.work.wait(seen, min(CLAIM_POLL_SECONDS, remaining))
            # Interrupted, or the wait is over: answer now with what the claim has (the runner's next claim begins
            # with a claiming transaction anyway, so a last look would only cost a query).
            if seen[1] != began[1] or time.monotonic() >= deadline:
                break
            with self._db.reading() as tx:
                ready = store.claimable(tx, cluster, namespaces)
            if ready:
                claimed = self._claim_once(request, cluster, namespaces, actor)
        return claimed

    def stop_waiting(self) -> None:
        """Ends every claim waiting in this process now (each answers with what it has): a local server stopping
        must not leave a claim that leases executions after it has gone."""
        self.work.interrupt()

    def _claim_once(self, request: ClaimRequest, cluster: str, namespaces: list[str] | None, actor: str
                    ) -> list[ClaimedExecution]:
        """One claiming transaction: the cluster's lapsed leases counted first, then the claim; the held values of
        each claimed pending execution opened into its Secret (503 and nothing leased when they cannot be)."""
        with self._db.transaction() as tx:
            lapsed = self._lapse(tx, cluster)
            rows = store.claim(tx, cluster, namespaces, request.runner_id, request.max_items, MAX_CLAIM_ITEMS,
                               self._lease_seconds, MAX_LEASE_LAPSES, actor)
            claimed = []
            for row in rows:
                secret = None
                if row["sealed"] is not None and row["status"] == PENDING:
                    values = self._unseal(bytes(row["sealed"]), row["execution_id"], "nothing was claimed")
                    secret = build_secret(row["execution_id"], row["schema"], values)
                claimed.append(ClaimedExecution(row["execution_id"], row["status"], row["pipeline_run"], secret,
                                                row["lease_expires_at"], row["held"]))
        self._record_lapses(lapsed)
        for item in claimed:
            logger.info("execution handed back" if item.held else "execution claimed", extra={
                "execution_id": item.execution_id, "status": item.status, "runner_id": request.runner_id,
                "cluster": cluster, "lease_expires_at": item.lease_expires_at.isoformat(),
                "secret": item.secret is not None})
        return claimed

    def lapse_leases(self) -> int:
        """Counts the lapse of every lease that ended with no report, in every cluster (the scheduled sweep): the
        execution is claimable again, or failed as runner-lost at its MAX_LEASE_LAPSES-th. Returns how many."""
        with self._db.transaction() as tx:
            lapsed = self._lapse(tx, None)
        self._record_lapses(lapsed)
        return len(lapsed)

    def _lapse(self, tx: UnitOfWork, cluster: str | None, execution_id: str | None = None) -> Sequence[Row]:
        """Counts lapsed leases (of ``cluster``, or only ``execution_id``, or all) in the caller's transaction; each
        execution that fails as runner-lost is _finished there."""
        lapsed = store.lapse_leases(tx, cluster, MAX_LEASE_LAPSES, RUNNER_LOST, SYSTEM, execution_id)
        for row in lapsed:
            if row["lost"]:
                self._finished(tx, {**row, "status": row["from_status"]}, row, SYSTEM, RUNNER_LOST)
        return lapsed

    def _record_lapses(self, lapsed: Sequence[Row]) -> None:
        """Logs the lapses (after the commit) and wakes this process's waiting claims for those claimable again."""
        for row in lapsed:
            logger.warning("execution failed: runner lost" if row["lost"] else "lease lapsed", extra=log_ids(
                row, cluster=row["target_cluster"], runner_id=row["runner_id"], lapses=row["lease_lapses"],
                from_status=row["from_status"], status=row["status"]))
        if any(not row["lost"] for row in lapsed):
            self.work.notify()

    def get(self, execution_id: str, principal: Principal | None = None) -> tuple[Row, Sequence[Row]]:
        with self._db.transaction() as tx:
            row = store.get_execution(tx, execution_id)
            if row is None:
                raise NotFound(f"No execution '{execution_id}'.")
            _require_reach(principal, row["target_namespace"], f"execution {execution_id}")
            expired = _expire_overdue(tx, execution_id)
            lapsed = self._lapse(tx, None, execution_id)
            if expired or lapsed:
                row = store.get_execution(tx, execution_id)
                assert row is not None
            [row] = with_verdicts(tx, [row])  # its effectiveness, once its window has ended
            found = row, store.events(tx, execution_id)
        self._record_expiries(expired)
        self._record_lapses(lapsed)
        return found

    def list_executions(
        self, workflow_id: str | None, version: str | None, status: str | None, limit: int, cursor: str | None,
        principal: Principal | None = None,
    ) -> Page:
        """Newest first; a ``principal`` limited to namespaces sees only the executions whose target is in them. The
        page's successes whose window has ended are judged on the way (services/effectiveness.py)."""
        after = read_cursor(cursor, store.EXECUTIONS)
        namespaces = principal.namespace_list if principal else None
        with self._db.transaction() as tx:
            expired = _expire_overdue(tx)
            rows = store.list_executions(tx, workflow_id, version, status, limit + 1, after[0] if after else None,
                                         namespaces)
            rows = with_verdicts(tx, rows[:limit]) + list(rows[limit:])
        self._record_expiries(expired)
        return keyset_page(rows, limit, store.EXECUTIONS)

    def stats(self, workflow_id: str) -> tuple[Sequence[Row], Sequence[Row]]:
        """Per version, and per signal_type, what the workflow's executions came to; its successes whose window has
        ended are judged first, so the effectiveness counts are up to date."""
        versions: Sequence[Row] = []
        signals: Sequence[Row] = []
        expired: Sequence[Row] = []
        if is_workflow_id(workflow_id):
            with self._db.transaction() as tx:
                expired = _expire_overdue(tx)
                judge_workflow(tx, workflow_id)
                versions = composites.with_step_runs(tx, workflow_id, store.version_stats(tx, workflow_id))
                signals = store.signal_stats(tx, workflow_id)
        self._record_expiries(expired)
        if not versions:
            raise NotFound(f"No workflow '{workflow_id}'.")
        return versions, signals

    # --- helpers ------------------------------------------------------------------------------
    @staticmethod
    def _finished(tx: UnitOfWork, before: Row, updated: Row, actor: str, reason: str | None) -> None:
        """What follows an execution becoming succeeded or failed, in the transaction that records it (every way an
        execution finishes calls this: a runner's report, a runner-lost lapse): the execution.failed notification, and
        the workflow's circuit breaker, which opens when too many of its executions failed (services/guards.py)."""
        if updated["status"] == FAILED:
            notifications.record(tx, execution_event(EXECUTION_FAILED, updated, actor=actor, reason=reason,
                                                     previous_status=before["status"]))
        guards.trip_breaker(tx, updated)

    @contextmanager
    def _acting_on(self, execution_id: str, principal: Principal | None, starting: bool = False,
                   runner: bool = False) -> Iterator[tuple[UnitOfWork, Row, Row | None]]:
        """A transaction holding the execution's row lock. An execution found past its approval deadline
        is expired (committed, with its event) and the action refused with 409. A ``principal`` limited to
        namespaces acts only on executions whose target is in them, and a ``runner`` only on those of its cluster
        (Forbidden, before anything else). ``starting``: the workflow's start lock is taken first, in the order every
        start takes its locks, and yielded third (``workflow_for_start``'s row; None when not ``starting``)."""
        with self._db.transaction() as tx:
            workflow = store.lock_workflow_of(tx, execution_id) if starting else None
            current = store.lock_execution(tx, execution_id)
            if current is None:
                raise NotFound(f"No execution '{execution_id}'.")
            _require_reach(principal, current["target_namespace"], f"execution {execution_id}")
            if runner:
                _require_cluster(principal, current)
            if current["overdue"]:  # our own row lock: the sweep cannot skip it
                expired = _expire_overdue(tx, execution_id)
            else:
                yield tx, current, workflow
        if current["overdue"]:
            self._record_expiries(expired)
            raise InvalidTransition(f"Execution {execution_id} already {EXPIRED}: "
                                    f"{EXPIRY_MESSAGES[current['status']]}; request a new execution.")

    def _seal(self, values: Mapping[str, Any], execution_id: str) -> bytes:
        try:
            return self._sealer.seal(json.dumps(values, separators=(",", ":")).encode(), execution_id)
        except SealError as exc:
            logger.error("cannot seal held values", extra={"execution_id": execution_id, "reason": str(exc)})
            raise ServiceUnavailable("The key that protects held parameter values is not available right now; "
                                     "nothing was stored. Try again shortly.") from None

    def _unseal(self, sealed: bytes, execution_id: str, consequence: str) -> dict[str, Any]:
        """The held values; ServiceUnavailable saying ``consequence`` (what stays as it was) when they cannot open."""
        try:
            return dict(json.loads(self._sealer.unseal(sealed, execution_id)))
        except SealError as exc:
            logger.error("cannot open held values", extra={"execution_id": execution_id, "reason": str(exc)})
            raise ServiceUnavailable("The key that protects held parameter values is not available right now; "
                                     f"{consequence}. Try again shortly.") from None

    @staticmethod
    def _record_expiries(expired: Sequence[Row]) -> None:
        for row in expired:
            logger.info("execution expired", extra=log_ids(row, from_status=row["from_status"], status=EXPIRED))


def _expire_overdue(tx: UnitOfWork, execution_id: str | None = None, target: Target | None = None) -> Sequence[Row]:
    """Expires the waiting executions past their deadline (or only ``execution_id``, or the one on ``target``) and
    records the notification of each, all in the caller's transaction."""
    expired = store.expire_overdue(tx, EXPIRY_MESSAGES, SYSTEM, execution_id, target)
    notifications.record(tx, *(
        execution_event(EXECUTION_EXPIRED, row, actor=SYSTEM, reason=EXPIRY_MESSAGES[row["from_status"]],
                        previous_status=row["from_status"])
        for row in expired))
    return expired


def _require_reach(principal: Principal | None, namespace: str | None, what: str) -> None:
    """Forbidden when a key limited to namespaces acts on a target outside them (or on one with no namespace)."""
    if principal is None or principal.manages(namespace):
        return
    where = f"namespace '{namespace}'" if namespace else "no namespace (a cluster-scoped resource)"
    raise Forbidden(f"This API key is limited to namespaces {', '.join(sorted(principal.namespaces or ()))}; "
                    f"{what} targets {where}.")


def _require_cluster(principal: Principal | None, execution: Row) -> None:
    """Forbidden unless the key acts for the execution's target cluster (a key without a binding: "default")."""
    if principal is None or principal.acting_cluster == execution["target_cluster"]:
        return
    raise Forbidden(f"Execution {execution['execution_id']} runs in cluster '{execution['target_cluster']}'; this "
                    f"API key acts for cluster '{principal.acting_cluster}': only a runner of that cluster reports "
                    "on it.")


def _report_text(update: StatusUpdate) -> str | None:
    """A report's reason and message in one line (the event's message, the notification's reason)."""
    return ": ".join(part for part in (update.reason, update.message) if part) or None


def _approval_message(requirement: Mapping[str, Any] | None) -> str | None:
    """The first event's message of an execution that waits for approval: what requires it."""
    if requirement is None:
        return None
    steps = ", ".join(f"{s['step']} ({s['workflow_id']})" for s in requirement["steps"])
    if not steps:
        return "approval required"
    return f"approval required by step(s) {steps}" + (" and the workflow itself" if requirement["workflow"] else "")


def _workflow(request: ExecutionRequest, workflow: Row | None) -> Row:
    if workflow is None:
        raise NotFound(f"No workflow '{request.workflow_id}'.")
    return workflow


def _parameter_values(request: ExecutionRequest, row: Row) -> dict[str, Any]:
    """The request's parameters checked against the version's schema, defaults applied (ValidationFailed
    listing every problem)."""
    schema = row["parameters"]
    errors, values = validate_parameters(schema, request.parameters)
    errors += redaction_marker_errors(schema, values)
    if errors:
        raise ValidationFailed(
            "The parameters do not match the workflow's parameter schema; nothing was executed. See errors.",
            sorted(set(errors), key=lambda e: (e.path, e.message)),
        )
    return values


@dataclass(frozen=True)
class RunPlan:
    """What an execution of a version runs: its PipelineRun and, for a composite, what each step resolved to."""

    pipeline_run: dict[str, Any]
    composite: composites.CompositeRun | None  # None: a single-image version

    @property
    def gated_steps(self) -> list[dict[str, str]]:
        """A composite's steps whose workflow requires approval (so its execution does too)."""
        return self.composite.gated_steps if self.composite is not None else []


def _plan_run(tx: UnitOfWork, execution_id: str, request: ExecutionRequest, row: Row, values: Mapping[str, Any],
              dry_run: bool = False) -> RunPlan:
    """Plans the run of version ``row`` with checked ``values``: the one step ``start``, ``release`` and the dry run
    share. A composite's steps resolve now (UnresolvableStep, ValidationFailed), share-locking their workflows unless
    ``dry_run``: call it before any row changes, as those locks may wait for a start of one of them, which must never
    wait for this one. A single-image version's PipelineRun runs its digest-pinned image."""
    if row["container_image"] is None:
        composite = composites.plan_execution(
            tx, execution_id=execution_id, workflow_id=request.workflow_id, version=row["version"],
            schema=row["parameters"], values=values, incident_id=request.incident_id, target=request.target,
            dry_run=dry_run)
        return RunPlan(composite.pipeline_run, composite)
    return RunPlan(build_pipeline_run(
        execution_id=execution_id, workflow_id=request.workflow_id, version=row["version"],
        image=row["container_image"], schema=row["parameters"], values=values,
        incident_id=request.incident_id, target=request.target,
    ), None)


def _executable(request: ExecutionRequest, workflow: Row, row: Row | None) -> Row:
    """The version row to execute; disabled workflows and versions that are not active are refused (409),
    saying why."""
    if row is None:
        if request.version is not None:
            raise NotFound(f"Workflow '{request.workflow_id}' has no version {request.version}.")
        raise InvalidTransition(
            f"Workflow '{request.workflow_id}' has no active version, so there is no latest version to execute; "
            "activate a version or name one explicitly."
        )
    if not workflow["enabled"]:
        raise InvalidTransition(
            f"Workflow '{request.workflow_id}' is disabled and cannot be executed; enable it first "
            "(PATCH /api/v1/playbooks/{workflow_id} with enabled=true)."
        )
    if row["status"] != ACTIVE:
        raise InvalidTransition(
            f"Version {row['version']} of '{request.workflow_id}' is {row['status']}; only active versions can be "
            "executed (omit version to run the latest active one)."
        )
    return row


def _check_applicable(request: ExecutionRequest, row: Row) -> None:
    """Every label the incident carries must admit the workflow, by the search hard-filter rule."""
    problems = excluded(row["labels"], request.incident_labels())
    if problems:
        names = ", ".join(p.path.removeprefix("$.incident.") for p in problems)
        raise WorkflowNotApplicable(
            f"Workflow '{request.workflow_id}' {row['version']} does not apply to incident {request.incident_id}: "
            f"its labels exclude the incident's {names}. Search with the incident's labels for one that applies.",
            problems,
        )


def _busy(target: Target, active: str | None) -> CatalogError:
    if active is None:  # the execution that held it finished between our insert and this look-up
        return ServiceUnavailable(f"{target} was busy a moment ago and is free now; send the request again.",
                                  retry_after=1)
    return TargetBusy(f"{target} already has an active execution ({active}); one remediation at a time per "
                      "target. Wait for it to finish, or reject it if it waits for approval.", active)


def _stored_request(row: Row) -> ExecutionRequest:
    """The request an execution was recorded from (its version pinned), to re-check and build its run."""
    target = Target(row["target_kind"], row["target_name"], row["target_namespace"], row["target_cluster"])
    return ExecutionRequest(row["workflow_id"], row["version"], row["parameters"], row["incident"], target)

