"""SQL for workflows, their versions and the status history. No decisions here: see services/workflows.py."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from psycopg2.extras import Json

from chalicelib.domain.guards import SETTING_NAMES
from chalicelib.domain.ownership import Owner
from chalicelib.domain.paging import Keyset
from chalicelib.domain.rows import Row
from chalicelib.domain.versions import sort_key_parts
from chalicelib.domain.workflows import NewVersion
from chalicelib.stores.db import UnitOfWork
from chalicelib.stores.label_filter import label_filter_sql
from chalicelib.stores.where import Where

VERSION_COLUMNS = """
    v.id, v.workflow_id, v.version, v.title, v.description, v.labels, v.container_image,
    v.parameters, v.content_hash, v.status, v.created_at, v.created_by, v.signature, v.source, v.composition,
    w.enabled, w.owner_kind, w.owner_cluster, w.owner_namespace,
    (v.id = (SELECT l.id FROM latest_versions l WHERE l.workflow_id = v.workflow_id)) AS is_latest
"""
PRECEDENCE_DESC = "v.major DESC, v.minor DESC, v.patch DESC, v.prerelease_key DESC, v.build DESC, v.id DESC"


def ensure_workflow(tx: UnitOfWork, workflow_id: str, owner: Owner) -> None:
    """Creates the workflow, owned by ``owner``, unless it exists (then its owner is whatever it is)."""
    tx.execute(
        """INSERT INTO workflows (workflow_id, owner_kind, owner_cluster, owner_namespace) VALUES (%s, %s, %s, %s)
           ON CONFLICT DO NOTHING""",
        (workflow_id, owner.kind, owner.cluster, owner.namespace),
    )


def set_owner(tx: UnitOfWork, workflow_id: str, owner: Owner) -> None:
    tx.execute(
        """UPDATE workflows SET owner_kind = %s, owner_cluster = %s, owner_namespace = %s, updated_at = now()
            WHERE workflow_id = %s""",
        (owner.kind, owner.cluster, owner.namespace, workflow_id),
    )


def lock_workflow(tx: UnitOfWork, workflow_id: str) -> Row | None:
    """Serialises changes of one workflow (versions, rollback, transitions, enable/disable, owner)."""
    tx.execute("SELECT * FROM workflows WHERE workflow_id = %s FOR UPDATE", (workflow_id,))
    return tx.fetchone()


def insert_version(tx: UnitOfWork, new: NewVersion, created_by: str, source: Mapping[str, Any] | None = None
                   ) -> int | None:
    """Inserts the version; returns its row id, or None when (workflow_id, version) already exists.

    ON CONFLICT DO NOTHING makes concurrent identical creates wait on the unique index and then see
    the winner's row, so the service can answer 200 or 409 instead of failing.
    """
    major, minor, patch, pre_key, build = sort_key_parts(new.version)
    tx.execute(
        """INSERT INTO workflow_versions
               (workflow_id, version, major, minor, patch, prerelease_key, build, title, description,
                labels, container_image, parameters, content_hash, status, created_by, source, composition)
           VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
           ON CONFLICT (workflow_id, version) DO NOTHING
           RETURNING id""",
        (
            new.workflow_id,
            new.version,
            major,
            minor,
            patch,
            pre_key,
            build,
            new.title,
            new.description,
            Json(new.labels),
            new.container_image,
            Json(new.parameters),
            new.content_hash,
            new.status,
            created_by,
            Json(dict(source)) if source is not None else None,
            None if new.composition is None else Json(new.composition.to_content()),
        ),
    )
    row = tx.fetchone()
    return None if row is None else row["id"]


def get_version(tx: UnitOfWork, workflow_id: str, version: str) -> Row | None:
    tx.execute(
        f"""SELECT {VERSION_COLUMNS} FROM workflow_versions v JOIN workflows w USING (workflow_id)
            WHERE v.workflow_id = %s AND v.version = %s""",
        (workflow_id, version),
    )
    return tx.fetchone()


def get_version_by_id(tx: UnitOfWork, row_id: int) -> Row | None:
    tx.execute(
        f"SELECT {VERSION_COLUMNS} FROM workflow_versions v JOIN workflows w USING (workflow_id) WHERE v.id = %s",
        (row_id,),
    )
    return tx.fetchone()


def get_workflow(tx: UnitOfWork, workflow_id: str) -> Row | None:
    tx.execute("SELECT * FROM workflows WHERE workflow_id = %s", (workflow_id,))
    return tx.fetchone()


def latest_version(tx: UnitOfWork, workflow_id: str) -> Row | None:
    tx.execute(
        f"""SELECT {VERSION_COLUMNS} FROM latest_versions v JOIN workflows w USING (workflow_id)
            WHERE v.workflow_id = %s""",
        (workflow_id,),
    )
    return tx.fetchone()


# A workflow's versions, newest SemVer first: precedence, then id (list_versions' order).
VERSIONS = Keyset(
    lambda row: [row["major"], row["minor"], row["patch"], row["prerelease_key"], row["build"], row["id"]],
    lambda p: (isinstance(p, list) and len(p) == 6 and all(isinstance(x, int) for x in (p[0], p[1], p[2], p[5]))
               and isinstance(p[3], str) and isinstance(p[4], str)),
)
# Workflows (their latest versions), by workflow id (list_latest's order).
WORKFLOWS = Keyset(lambda row: row["workflow_id"], lambda p: isinstance(p, str))


def list_versions(tx: UnitOfWork, workflow_id: str, limit: int, after: list[Any] | None = None) -> Sequence[Row]:
    """Versions newest SemVer first; keyset pagination on the full precedence tuple plus id."""
    where = Where("v.workflow_id = %s", params=(workflow_id,)).add(
        "(v.major, v.minor, v.patch, v.prerelease_key, v.build, v.id) < (%s, %s, %s, %s, %s, %s)", *(after or ()),
        when=after is not None)
    tx.execute(
        f"""SELECT {VERSION_COLUMNS}, v.major, v.minor, v.patch, v.prerelease_key, v.build
            FROM workflow_versions v JOIN workflows w USING (workflow_id)
            WHERE {where.sql}
            ORDER BY {PRECEDENCE_DESC} LIMIT %s""",
        [*where.params, limit],
    )
    return tx.fetchall()


def active_versions_above(tx: UnitOfWork, workflow_id: str, target: Row) -> Sequence[Row]:
    """Active versions with higher precedence than ``target`` (those a rollback deprecates)."""
    tx.execute(
        """SELECT v.id, v.version FROM workflow_versions v
           WHERE v.workflow_id = %s AND v.status = 'active'
             AND (v.major, v.minor, v.patch, v.prerelease_key, v.build)
                 > (SELECT major, minor, patch, prerelease_key, build FROM workflow_versions WHERE id = %s)
           ORDER BY v.major, v.minor, v.patch, v.prerelease_key, v.build""",
        (workflow_id, target["id"]),
    )
    return tx.fetchall()


def list_latest(
    tx: UnitOfWork,
    status: str,
    enabled: bool | None,
    signal_type: str | None,
    labels: Mapping[str, str],
    limit: int,
    after: str | None,
) -> Sequence[Row]:
    """For each workflow, its highest-precedence version with ``status``; ordered by workflow_id."""
    filters = dict(labels)
    if signal_type is not None:
        filters["signal_type"] = signal_type
    label_sql, label_params = label_filter_sql(filters)
    where = (Where(label_sql, params=tuple(label_params))
             .add("w.enabled = %s", enabled, when=enabled is not None)
             .add("v.workflow_id > %s", after, when=after is not None))
    tx.execute(
        f"""SELECT {VERSION_COLUMNS} FROM (
                SELECT DISTINCT ON (v.workflow_id) v.*
                FROM workflow_versions v
                WHERE v.status = %s
                ORDER BY v.workflow_id, {PRECEDENCE_DESC}
            ) v JOIN workflows w USING (workflow_id)
            WHERE {where.sql}
            ORDER BY v.workflow_id
            LIMIT %s""",
        [status, *where.params, limit],
    )
    return tx.fetchall()


def set_version_status(tx: UnitOfWork, row_id: int, status: str) -> None:
    tx.execute("UPDATE workflow_versions SET status = %s WHERE id = %s", (status, row_id))


def set_source(tx: UnitOfWork, workflow_id: str, source: Mapping[str, Any]) -> None:
    """Records the resource the workflow's latest registration came from."""
    tx.execute(
        """UPDATE workflows SET source_uid = %(uid)s, source_cluster = %(cluster)s, source_namespace = %(namespace)s,
                  source_name = %(name)s, source_generation = %(generation)s, source_registered_at = clock_timestamp()
            WHERE workflow_id = %(workflow_id)s""",
        {**source, "workflow_id": workflow_id},
    )


def disable_missing_sources(tx: UnitOfWork, cluster: str, namespace: str | None, live_uids: list[str],
                            grace_seconds: float, actor: str) -> Sequence[Row]:
    """Disables, with their history records, the enabled workflows owned by resources of ``cluster`` (in
    ``namespace``, or any when None) whose source resource, of that same origin, is not live; returns them. What
    another cluster or namespace owns, what the API owns, and a workflow whose owner was moved away from its source
    are never touched. Sources registered within ``grace_seconds`` are left for the next reconciliation: a resource
    created after the watcher listed may have registered meanwhile.

    One statement: each workflow row is locked and its conditions re-checked against what a concurrent
    registration committed (a new source, an enable, an owner), so no enable or disable is lost.
    """
    tx.execute(
        """WITH disabled AS (
               UPDATE workflows w SET enabled = false, updated_at = now()
                WHERE w.enabled AND w.source_uid IS NOT NULL
                  AND w.owner_kind = 'resource' AND w.owner_cluster = %(cluster)s
                  AND w.source_cluster = w.owner_cluster AND w.source_namespace = w.owner_namespace
                  AND (%(namespace)s::text IS NULL OR w.owner_namespace = %(namespace)s)
                  AND NOT (w.source_uid = ANY (%(live)s::text[]))
                  AND w.source_registered_at < clock_timestamp() - make_interval(secs => %(grace)s)
            RETURNING w.workflow_id, w.source_uid, w.source_cluster, w.source_namespace, w.source_name,
                      w.source_generation
           ), recorded AS (
               INSERT INTO status_changes (workflow_id, version, field, from_value, to_value, reason, changed_by)
               SELECT workflow_id, NULL, 'enabled', 'true', 'false',
                      format('RemediationWorkflow %%s/%%s (uid %%s) of cluster %%s was found deleted by '
                             'reconciliation: it is not among the resources the watcher lists', source_namespace,
                             source_name, source_uid, source_cluster),
                      %(actor)s
                 FROM disabled
           )
           SELECT * FROM disabled ORDER BY workflow_id""",
        {"cluster": cluster, "namespace": namespace, "live": live_uids, "grace": grace_seconds, "actor": actor},
    )
    return tx.fetchall()


def set_enabled(tx: UnitOfWork, workflow_id: str, enabled: bool) -> None:
    tx.execute("UPDATE workflows SET enabled = %s, updated_at = now() WHERE workflow_id = %s", (enabled, workflow_id))


def set_approval_required(tx: UnitOfWork, workflow_id: str, required: bool) -> None:
    tx.execute("UPDATE workflows SET approval_required = %s, updated_at = now() WHERE workflow_id = %s",
               (required, workflow_id))


def set_guard_settings(tx: UnitOfWork, workflow_id: str, settings: Mapping[str, int | None]) -> None:
    """Stores guard settings (None: unset, the configured default applies); names from domain/guards SETTING_NAMES."""
    unknown = set(settings) - set(SETTING_NAMES)
    assert not unknown, f"not guard settings: {unknown}"  # column names go into the statement
    assignments = ", ".join(f"{name} = %({name})s" for name in settings)
    tx.execute(f"UPDATE workflows SET {assignments}, updated_at = now() WHERE workflow_id = %(workflow_id)s",
               {**settings, "workflow_id": workflow_id})


def record_change(
    tx: UnitOfWork,
    workflow_id: str,
    version: str | None,
    field: str,
    from_value: str | None,
    to_value: str,
    reason: str,
    changed_by: str,
) -> None:
    tx.execute(
        """INSERT INTO status_changes (workflow_id, version, field, from_value, to_value, reason, changed_by)
           VALUES (%s, %s, %s, %s, %s, %s, %s)""",
        (workflow_id, version, field, from_value, to_value, reason, changed_by),
    )


def changes(tx: UnitOfWork, workflow_id: str) -> Sequence[Row]:
    tx.execute(
        """SELECT version, field, from_value, to_value, reason, changed_by, changed_at
           FROM status_changes WHERE workflow_id = %s ORDER BY id""",
        (workflow_id,),
    )
    return tx.fetchall()


def version_summaries(tx: UnitOfWork, workflow_id: str) -> Sequence[Row]:
    tx.execute(
        f"""SELECT v.version, v.status, v.created_at FROM workflow_versions v
            WHERE v.workflow_id = %s ORDER BY {PRECEDENCE_DESC}""",
        (workflow_id,),
    )
    return tx.fetchall()
