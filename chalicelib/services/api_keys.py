"""API keys: creation, lookup for the authorizer, revocation. Tokens are shown once, stored hashed.

A token is 256 random bits, so a single SHA-256 is enough to make the stored value useless to a
reader of the table (no password-style slow hash is needed for high-entropy secrets).
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Collection, Sequence
from dataclasses import dataclass

from chalicelib.domain.errors import Forbidden, NotFound, ValidationFailed
from chalicelib.domain.limits import API_SCOPES, DEFAULT_CLUSTER
from chalicelib.domain.ownership import RESOURCE, Owner
from chalicelib.domain.paging import Page, keyset_page, read_cursor
from chalicelib.domain.rows import Row
from chalicelib.observability import logger
from chalicelib.stores import apikey_store as store
from chalicelib.stores.db import Database

SCOPES = API_SCOPES
TOKEN_PREFIX = "rwc_"
DEV_KEY_ID = "dev-local"


@dataclass(frozen=True)
class Principal:
    key_id: str
    name: str
    scopes: frozenset[str]
    namespaces: frozenset[str] | None = None  # None: every namespace
    cluster: str | None = None  # the cluster the key is bound to; None: not bound (it acts as DEFAULT_CLUSTER)

    @property
    def acting_cluster(self) -> str:
        """The cluster its registrations and reconciliations belong to."""
        return self.cluster or DEFAULT_CLUSTER

    @property
    def namespace_list(self) -> list[str] | None:
        """Its namespaces, sorted, as the stores filter by them (None: every namespace)."""
        return None if self.namespaces is None else sorted(self.namespaces)

    @property
    def unlimited(self) -> bool:
        """Neither limited to namespaces nor bound to a cluster (only such an admin key moves a workflow's owner)."""
        return self.namespaces is None and self.cluster is None

    def allows(self, scope: str) -> bool:
        return scope in self.scopes or "admin" in self.scopes

    def manages(self, namespace: str | None) -> bool:
        """May this key act in ``namespace``: register its resources, act on executions that target it (None:
        every namespace for a reconciliation, no namespace for an execution's target)?"""
        return self.namespaces is None or (namespace is not None and namespace in self.namespaces)

    def reaches(self, owner: Owner) -> bool:
        """May this key change a workflow of ``owner``? A key without limits: any. A limited one: those owned by
        resources within its limits (its cluster, its namespaces), never the API's."""
        if self.unlimited:
            return True
        return owner.kind == RESOURCE and owner.cluster == self.acting_cluster and self.manages(owner.namespace)

    def excess(self, scopes: Collection[str], namespaces: Collection[str] | None, cluster: str | None) -> list[str]:
        """What a key with these scopes, namespaces (None: every one) and cluster binding would hold beyond this
        key's own limits, in words (empty: it stays within them). admin implies every scope."""
        beyond = []
        extra = sorted(scope for scope in scopes if not self.allows(scope))
        if extra:
            beyond.append(f"the scopes {', '.join(extra)}")
        if self.namespaces is not None:
            if namespaces is None:
                beyond.append("every namespace")
            elif outside := sorted(set(namespaces) - self.namespaces):
                beyond.append(f"the namespaces {', '.join(outside)}")
        if self.cluster is not None and cluster != self.cluster:
            beyond.append(f"cluster '{cluster}'" if cluster else "no cluster binding")
        return beyond

    def limits(self) -> str:
        """This key's own limits, in words (for the detail of a refusal)."""
        namespaces = ("every namespace" if self.namespaces is None
                      else "namespaces " + ", ".join(sorted(self.namespaces)))
        cluster = f"cluster '{self.cluster}'" if self.cluster else "no cluster binding"
        return f"scopes {', '.join(sorted(self.scopes))}; {namespaces}; {cluster}"


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class ApiKeyService:
    def __init__(self, db: Database) -> None:
        self._db = db

    def create(self, name: str, scopes: list[str], namespaces: list[str] | None = None, cluster: str | None = None
               ) -> tuple[str, str]:
        """Returns (key_id, token); the token is not recoverable afterwards."""
        row, token = self.issue(name, scopes, namespaces, cluster)
        return row["key_id"], token

    def issue(self, name: str, scopes: list[str], namespaces: list[str] | None = None, cluster: str | None = None,
              creator: Principal | None = None) -> tuple[Row, str]:
        """The stored key (no token in it) and its token, which only this answer ever holds. ``namespaces`` limits
        what the key may register, reconcile and execute on (None: every namespace); ``cluster`` binds it (None: it
        acts as cluster "default"). A ``creator`` key (None: an operator with database access, the CLI) creates only
        keys within its own limits: Forbidden otherwise, and nothing is stored."""
        _check_scopes(scopes)
        if creator is not None:
            beyond = creator.excess(scopes, namespaces, cluster)
            if beyond:
                raise Forbidden(f"This API key may not create a key with {'; '.join(beyond)}: a key creates keys "
                                f"within its own limits only ({creator.limits()}).")
        key_id = secrets.token_hex(6)
        token = f"{TOKEN_PREFIX}{secrets.token_urlsafe(32)}"
        limited = sorted(set(namespaces)) if namespaces is not None else None
        with self._db.transaction() as tx:
            row = store.insert(tx, key_id, token_hash(token), name, sorted(set(scopes)), limited, cluster)
        logger.info("api key created", extra={"key_id": key_id, "scopes": row["scopes"], "cluster": cluster,
                                              "created_by": creator.key_id if creator else "cli"})
        return row, token

    def ensure_dev_key(self, token: str) -> bool:
        """The fixed local key of `make run` (DEV_API_KEY), with every scope. Never used in AWS. Once revoked it stays
        revoked (returns False): a restart never brings back a key an operator revoked."""
        with self._db.transaction() as tx:
            return store.upsert_unless_revoked(tx, DEV_KEY_ID, token_hash(token), "local development key",
                                               list(SCOPES))

    def authenticate(self, token: str) -> Principal | None:
        if not token or len(token) > 512:
            return None
        with self._db.reading() as tx:
            row = store.find_active(tx, token_hash(token))
        if row is None:
            return None
        namespaces = frozenset(row["namespaces"]) if row["namespaces"] is not None else None
        return Principal(row["key_id"], row["name"], frozenset(row["scopes"]), namespaces, row["cluster"])

    def list(self) -> Sequence[Row]:
        with self._db.reading() as tx:
            return store.list_all(tx)

    def page(self, limit: int, cursor: str | None, viewer: Principal | None = None) -> Page:
        """A page of keys, oldest first. A ``viewer`` key sees only the keys within its own limits (as it could create
        them)."""
        after = read_cursor(cursor, store.API_KEYS)
        within = None if viewer is None else _reach(viewer)
        with self._db.reading() as tx:
            rows = store.list_page(tx, limit + 1, after, within)
        return keyset_page(rows, limit, store.API_KEYS)

    def revoke(self, key_id: str) -> bool:
        with self._db.transaction() as tx:
            return store.revoke(tx, key_id)

    def revoke_existing(self, key_id: str, actor: Principal | None = None) -> None:
        """Revokes the key (again is fine: a revoked key stays revoked); NotFound when no such key exists, Forbidden
        when it is outside the ``actor`` key's own limits."""
        with self._db.transaction() as tx:
            row = store.get(tx, key_id)
            if row is None:
                raise NotFound(f"No API key '{key_id}'.")
            if actor is not None and actor.excess(row["scopes"], row["namespaces"], row["cluster"]):
                raise Forbidden(f"API key '{key_id}' is outside this key's own limits ({actor.limits()}); it may "
                                "revoke only keys it could create.")
            revoked = store.revoke(tx, key_id)
        if revoked:
            logger.info("api key revoked", extra={"key_id": key_id, "revoked_by": actor.key_id if actor else "cli"})


def _reach(viewer: Principal) -> store.Reach:
    """The keys ``viewer`` may list, as the store filters them: the same rule as ``Principal.excess``."""
    scopes = None if viewer.allows("admin") else sorted(viewer.scopes)
    return store.Reach(scopes, viewer.namespace_list, viewer.cluster)


def _check_scopes(scopes: list[str]) -> None:
    unknown = sorted(set(scopes) - set(SCOPES))
    if unknown or not scopes:
        raise ValidationFailed(f"scopes must be a non-empty subset of {', '.join(SCOPES)}; unknown: {unknown}")
