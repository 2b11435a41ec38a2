"""Workflow use cases: create versions, read them, change lifecycle and enabled state, roll back.

Every rule lives in chalicelib/domain; every statement in chalicelib/stores/workflow_store. This
module decides, and wraps each multi-step write in one transaction.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from chalicelib.domain.errors import ContentConflict, Forbidden, InvalidTransition, NotFound
from chalicelib.domain.executions import Target
from chalicelib.domain.guards import (
    CIRCUIT,
    CLEARED,
    CLOSED,
    DEFAULTS,
    FAILURE_STREAK,
    OPEN,
    Circuit,
    GuardSettings,
    failure_streak,
    settings_record,
    streak_record,
)
from chalicelib.domain.limits import GUARD_SETTING_BOUNDS
from chalicelib.domain.ownership import Owner, check_owner
from chalicelib.domain.paging import Page, keyset_page, read_cursor
from chalicelib.domain.rows import Row
from chalicelib.domain.search import IndexEntry
from chalicelib.domain.vocabularies import HistoryField
from chalicelib.domain.workflows import (
    ACTIVE,
    DEPRECATED,
    NewVersion,
    Rollback,
    StatusChange,
    WorkflowChange,
    check_transition,
    is_workflow_id,
)
from chalicelib.observability import logger
from chalicelib.services import composites
from chalicelib.services.api_keys import Principal
from chalicelib.stores import guard_store
from chalicelib.stores import workflow_store as store
from chalicelib.stores.db import Database, UnitOfWork


class SearchIndexer(Protocol):
    """Port: makes versions searchable. ``prepare`` does the slow part (the embedding) before any
    transaction opens; ``index_version`` writes inside the inserting transaction; ``settle`` does
    deferred upkeep once that transaction committed."""

    def prepare(self, new: NewVersion, step_titles: Sequence[str] = ()) -> IndexEntry: ...

    def index_version(self, tx: UnitOfWork, version_id: int, entry: IndexEntry) -> None: ...

    def settle(self) -> None: ...


@dataclass(frozen=True)
class CreateResult:
    version: Row
    created: bool


class WorkflowService:
    def __init__(self, db: Database, indexer: SearchIndexer | None = None,
                 guard_defaults: GuardSettings = DEFAULTS) -> None:
        self._db = db
        self._indexer = indexer
        self._guards = guard_defaults  # DEFAULT_* from configuration

    # --- writes -------------------------------------------------------------------------------
    def create_version(self, new: NewVersion, actor: str, principal: Principal | None = None) -> CreateResult:
        """201 on a new version, 200 when identical content exists, ContentConflict otherwise; the workflow is (or
        becomes) owned by the API, else WorkflowOwnedElsewhere. A ``principal`` with namespace or cluster limits
        may not create over REST at all: what it creates would be the API's, beyond its limits."""
        if principal is not None and not principal.unlimited:
            raise Forbidden(f"This API key is limited ({principal.limits()}): a workflow created over REST is owned by "
                            "the API, beyond those limits. Register a RemediationWorkflow in one of its namespaces "
                            "instead.")
        entry = self.prepare(new)
        with self._db.transaction() as tx:
            result = self.create_version_in(tx, new, actor, entry)
        if result.created:
            self.settle()
        logger.info(
            "workflow version created" if result.created else "workflow version already present",
            extra={"workflow_id": new.workflow_id, "version": new.version, "content_hash": new.content_hash},
        )
        return result

    def prepare(self, new: NewVersion) -> IndexEntry | None:
        """The search index entry of a version about to be created (call it before the transaction); a
        composite's entry has the titles of the versions its steps resolve to."""
        if self._indexer is None:
            return None
        titles: list[str] = []
        if new.composition is not None:
            with self._db.reading() as tx:
                titles = composites.step_titles(tx, new.workflow_id, new.composition)
        return self._indexer.prepare(new, titles)

    def settle(self) -> None:
        """Deferred index upkeep, after a create committed."""
        if self._indexer is not None:
            self._indexer.settle()

    def create_version_in(
        self, tx: UnitOfWork, new: NewVersion, actor: str, entry: IndexEntry | None,
        source: Mapping[str, Any] | None = None,
    ) -> CreateResult:
        """The create step inside a caller's transaction (the registration job writes its result too);
        ``entry`` comes from ``prepare``; ``source`` is the resource a registration comes from (it becomes the
        workflow's source, and the version's when the version is new). The workflow's owner must be the write's
        origin (that resource's cluster and namespace, or the API without ``source``), checked under the workflow's
        row lock: WorkflowOwnedElsewhere otherwise, and nothing is written. A new workflow is the origin's."""
        origin = Owner.of_source(source)
        store.ensure_workflow(tx, new.workflow_id, origin)
        self._require_owner(tx, new.workflow_id, origin)
        row_id = store.insert_version(tx, new, actor, source)
        if source is not None:
            store.set_source(tx, new.workflow_id, source)
        if row_id is None:
            existing = store.get_version(tx, new.workflow_id, new.version)
            assert existing is not None  # the conflicting row is committed and visible
            if existing["content_hash"].strip() != new.content_hash:
                raise ContentConflict(
                    f"{new.workflow_id} {new.version} already exists with other content "
                    f"(content_hash {existing['content_hash'].strip()}). Versions are immutable: "
                    "bump the version to publish a change."
                )
            return CreateResult(existing, created=False)
        if new.composition is not None:  # a new composite: its steps must resolve and fit (else it rolls back)
            composites.check_new(tx, new)
        row = store.get_version_by_id(tx, row_id)
        assert row is not None
        if self._indexer is not None and entry is not None:
            self._indexer.index_version(tx, row["id"], entry)
        store.record_change(tx, new.workflow_id, new.version, HistoryField.STATUS, None, new.status, "created", actor)
        return CreateResult(row, created=True)

    def check_origin(self, workflow_id: str, origin: Owner) -> None:
        """WorkflowOwnedElsewhere when the workflow exists and ``origin`` is not its owner (a quick look before slow
        work; the write checks again under the row lock)."""
        with self._db.reading() as tx:
            current = store.get_workflow(tx, workflow_id)
        if current is not None:
            check_owner(workflow_id, Owner.of_row(current), origin)

    def change_status(self, workflow_id: str, version: str, change: StatusChange, actor: str,
                      principal: Principal | None = None) -> Row:
        target, reason = change.status, change.reason
        with self._db.transaction() as tx:
            _require_reach(principal, self._require_workflow(tx, workflow_id, lock=True))
            row = self._require_version(tx, workflow_id, version)
            check_transition(row["status"], target)
            if row["status"] != target:
                store.set_version_status(tx, row["id"], target)
                store.record_change(tx, workflow_id, version, HistoryField.STATUS, row["status"], target, reason, actor)
            updated = self._require_version(tx, workflow_id, version)
        logger.info("version status changed", extra={"workflow_id": workflow_id, "version": version, "status": target})
        return updated

    def change_workflow(self, workflow_id: str, change: WorkflowChange, actor: str,
                        principal: Principal | None = None) -> Row:
        """Sets enabled, approval_required, the owner, guard settings and/or closes the circuit, in one transaction;
        each real change is in the history. Only an admin key without limits moves the owner (Forbidden otherwise,
        and nothing changes)."""
        if change.owner is not None and principal is not None and not (principal.allows("admin")
                                                                        and principal.unlimited):
            raise Forbidden("Only an admin key without namespace or cluster limits may move a workflow's owner; "
                            f"this key has {principal.limits()}.")
        with self._db.transaction() as tx:
            current = self._require_workflow(tx, workflow_id, lock=True)
            _require_reach(principal, current)
            if change.owner is not None and Owner.of_row(current) != change.owner:
                store.set_owner(tx, workflow_id, change.owner)
                store.record_change(tx, workflow_id, None, HistoryField.OWNER, Owner.of_row(current).token,
                                    change.owner.token, change.reason, actor)
            # ``current`` stays the row locked above: no step below reads a column an earlier step writes
            # (owner, enabled, approval_required and the guard settings are each read only by their own step).
            if change.enabled is not None:
                self.set_enabled_in(tx, workflow_id, change.enabled, change.reason, actor, current=current)
            if change.approval_required is not None and current["approval_required"] != change.approval_required:
                store.set_approval_required(tx, workflow_id, change.approval_required)
                store.record_change(tx, workflow_id, None, HistoryField.APPROVAL_REQUIRED,
                                    str(current["approval_required"]).lower(),
                                    str(change.approval_required).lower(), change.reason, actor)
            if change.guards is not None:
                self._set_guards(tx, current, change.guards, change.reason, actor)
            if change.circuit == CLOSED and Circuit.of_row(guard_store.circuit(tx, workflow_id)).is_open:
                # Closing is the history record itself: the latest circuit record is the circuit's state.
                store.record_change(tx, workflow_id, None, CIRCUIT, OPEN, CLOSED, change.reason, actor)
        logger.info("workflow changed", extra={"workflow_id": workflow_id, "enabled": change.enabled,
                                               "approval_required": change.approval_required,
                                               "owner": change.owner.token if change.owner else None,
                                               "guards": dict(change.guards) if change.guards else None,
                                               "circuit": change.circuit})
        return self.get_workflow(workflow_id)

    def _set_guards(self, tx: UnitOfWork, current: Row, settings: Mapping[str, int | None], reason: str,
                    actor: str) -> None:
        """Stores the guard settings given (None: back to the configured default) of the workflow ``current`` (its
        row, locked), each change in the history."""
        workflow_id = current["workflow_id"]
        changed = {name: value for name, value in settings.items() if current[name] != value}
        if not changed:
            return
        store.set_guard_settings(tx, workflow_id, changed)
        for name, value in changed.items():
            default = getattr(self._guards, name)
            store.record_change(tx, workflow_id, None, name, settings_record(current[name], default),
                                settings_record(value, default), reason, actor)

    def clear_failure_streak(self, workflow_id: str, target: Target, reason: str, actor: str,
                             principal: Principal | None = None) -> Row:
        """An operator ends the failure streak of the workflow on ``target`` (the consecutive-failures guard):
        recorded in the workflow's history with who and why. Nothing to clear (no failed execution is the newest
        finished one there): nothing is written. A key with limits clears only on workflows within them, and
        only on targets in its namespaces (Forbidden otherwise)."""
        if principal is not None and not principal.manages(target.namespace):
            where = f"namespace '{target.namespace}'" if target.namespace else "no namespace"
            raise Forbidden(f"This API key is limited ({principal.limits()}); the target is in {where}.")
        with self._db.transaction() as tx:
            _require_reach(principal, self._require_workflow(tx, workflow_id, lock=True))
            recent = guard_store.recent_on_target(tx, workflow_id, target,
                                                  GUARD_SETTING_BOUNDS["max_consecutive_failures"][1])
            failures = failure_streak([row["streak_failure"] for row in recent])
            marked = recent[0]["execution_id"] if failures else None
            if marked is not None:
                guard_store.mark_streak_end(tx, marked)
                store.record_change(tx, workflow_id, None, FAILURE_STREAK, streak_record(target, failures), CLEARED,
                                    reason, actor)
        logger.info("failure streak cleared" if marked else "no failure streak to clear", extra={
            "workflow_id": workflow_id, "target": str(target), "failures": failures, "execution_id": marked})
        return {"workflow_id": workflow_id, "target": target, "failures": failures, "cleared": marked is not None,
                "execution_id": marked}

    def set_enabled_in(self, tx: UnitOfWork, workflow_id: str, enabled: bool, reason: str, actor: str,
                       origin: Owner | None = None, current: Row | None = None) -> None:
        """Enables or disables, audited; with ``origin`` (a registration's), only a workflow that origin owns.
        ``current``: the workflow's row, already locked in ``tx`` by the caller (otherwise locked and read here)."""
        if current is None:
            current = self._require_workflow(tx, workflow_id, lock=True)
        if origin is not None:
            check_owner(workflow_id, Owner.of_row(current), origin)
        if current["enabled"] != enabled:
            store.set_enabled(tx, workflow_id, enabled)
            store.record_change(
                tx, workflow_id, None, HistoryField.ENABLED, str(current["enabled"]).lower(), str(enabled).lower(),
                reason, actor,
            )

    def rollback(self, workflow_id: str, request: Rollback, actor: str, principal: Principal | None = None) -> Row:
        to_version, reason = request.to_version, request.reason
        with self._db.transaction() as tx:
            _require_reach(principal, self._require_workflow(tx, workflow_id, lock=True))
            target = self._require_version(tx, workflow_id, to_version)
            if target["status"] != ACTIVE:
                raise InvalidTransition(
                    f"Cannot roll back to {to_version}: it is {target['status']}, and only an active version can "
                    "become latest."
                )
            above = store.active_versions_above(tx, workflow_id, target)
            deprecated = [row["version"] for row in above]
            for row in above:
                store.set_version_status(tx, row["id"], DEPRECATED)
                store.record_change(
                    tx,
                    workflow_id,
                    row["version"],
                    HistoryField.STATUS,
                    ACTIVE,
                    DEPRECATED,
                    f"rollback to {to_version}: {reason}",
                    actor,
                )
        logger.info(
            "workflow rolled back",
            extra={"workflow_id": workflow_id, "version": to_version, "deprecated_versions": deprecated},
        )
        return {"workflow_id": workflow_id, "latest_version": to_version, "deprecated_versions": deprecated}

    # --- reads --------------------------------------------------------------------------------
    def get_workflow(self, workflow_id: str) -> Row:
        """The workflow, its latest version, every version's summary, the guard settings in force and the circuit."""
        with self._db.reading() as tx:
            workflow = self._require_workflow(tx, workflow_id)
            latest = store.latest_version(tx, workflow_id)
            summaries = store.version_summaries(tx, workflow_id)
            circuit = Circuit.of_row(guard_store.circuit(tx, workflow_id))
        return {"workflow": workflow, "latest": latest, "versions": summaries,
                "guards": self._guards.resolve(workflow), "circuit": circuit}

    def get_version(self, workflow_id: str, version: str) -> Row:
        with self._db.reading() as tx:
            return self._require_version(tx, workflow_id, version)

    def history(self, workflow_id: str, limit: int, cursor: str | None) -> tuple[Page, Sequence[Row]]:
        """A page of the workflow's versions (newest SemVer first) and every change in its history."""
        after = read_cursor(cursor, store.VERSIONS)
        with self._db.reading() as tx:
            self._require_workflow(tx, workflow_id)
            rows = store.list_versions(tx, workflow_id, limit + 1, after)
            changes = store.changes(tx, workflow_id)
        return keyset_page(rows, limit, store.VERSIONS), changes

    def list_latest(
        self,
        status: str,
        enabled: bool | None,
        signal_type: str | None,
        labels: Mapping[str, str],
        limit: int,
        cursor: str | None,
    ) -> Page:
        after = read_cursor(cursor, store.WORKFLOWS)
        with self._db.reading() as tx:
            rows = store.list_latest(tx, status, enabled, signal_type, labels, limit + 1, after)
        return keyset_page(rows, limit, store.WORKFLOWS)

    # --- helpers ------------------------------------------------------------------------------
    @staticmethod
    def _require_workflow(tx: UnitOfWork, workflow_id: str, lock: bool = False) -> Row:
        if not is_workflow_id(workflow_id):
            raise NotFound(f"No workflow '{workflow_id}'.")
        row = store.lock_workflow(tx, workflow_id) if lock else store.get_workflow(tx, workflow_id)
        if row is None:
            raise NotFound(f"No workflow '{workflow_id}'.")
        return row

    @classmethod
    def _require_owner(cls, tx: UnitOfWork, workflow_id: str, origin: Owner) -> None:
        """Locks the workflow's row, then checks its owner: no write of another origin can slip in between."""
        check_owner(workflow_id, Owner.of_row(cls._require_workflow(tx, workflow_id, lock=True)), origin)

    @staticmethod
    def _require_version(tx: UnitOfWork, workflow_id: str, version: str) -> Row:
        row = store.get_version(tx, workflow_id, version)
        if row is None:
            raise NotFound(f"Workflow '{workflow_id}' has no version {version}.")
        return row


def _require_reach(principal: Principal | None, workflow: Row) -> None:
    """Forbidden when a key with limits changes a workflow owned beyond them (None: a trusted caller)."""
    owner = Owner.of_row(workflow)
    if principal is not None and not principal.reaches(owner):
        raise Forbidden(f"This API key is limited ({principal.limits()}); workflow '{workflow['workflow_id']}' is "
                        f"owned by {owner}, beyond those limits.")

