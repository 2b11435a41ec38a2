"""API keys: creation, lookup for the authorizer, revocation. Tokens are shown once, stored hashed.

A token is 256 random bits, so a single SHA-256 is enough to make the stored value useless to a
reader of the table (no password-style slow hash is needed for high-entropy secrets).
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Sequence
from dataclasses import dataclass

from chalicelib.domain.errors import ValidationFailed
from chalicelib.stores import apikey_store as store
from chalicelib.stores.db import Database
from chalicelib.stores.rows import Row

SCOPES = ("catalog:read", "catalog:write", "registrations:write", "executions:write", "recommendations:write",
          "admin")
TOKEN_PREFIX = "rwc_"
DEV_KEY_ID = "dev-local"


@dataclass(frozen=True)
class Principal:
    key_id: str
    name: str
    scopes: frozenset[str]

    def allows(self, scope: str) -> bool:
        return scope in self.scopes or "admin" in self.scopes


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class ApiKeyService:
    def __init__(self, db: Database) -> None:
        self._db = db

    def create(self, name: str, scopes: list[str]) -> tuple[str, str]:
        """Returns (key_id, token); the token is not recoverable afterwards."""
        _check_scopes(scopes)
        key_id = secrets.token_hex(6)
        token = f"{TOKEN_PREFIX}{secrets.token_urlsafe(32)}"
        with self._db.transaction() as tx:
            store.insert(tx, key_id, token_hash(token), name, sorted(set(scopes)))
        return key_id, token

    def ensure_dev_key(self, token: str) -> None:
        """The fixed local key of `make run` (DEV_API_KEY), with every scope. Never used in AWS."""
        with self._db.transaction() as tx:
            store.upsert(tx, DEV_KEY_ID, token_hash(token), "local development key", list(SCOPES))

    def authenticate(self, token: str) -> Principal | None:
        if not token or len(token) > 512:
            return None
        with self._db.reading() as tx:
            row = store.find_active(tx, token_hash(token))
        if row is None:
            return None
        return Principal(row["key_id"], row["name"], frozenset(row["scopes"]))

    def list(self) -> Sequence[Row]:
        with self._db.reading() as tx:
            return store.list_all(tx)

    def revoke(self, key_id: str) -> bool:
        with self._db.transaction() as tx:
            return store.revoke(tx, key_id)


def _check_scopes(scopes: list[str]) -> None:
    unknown = sorted(set(scopes) - set(SCOPES))
    if unknown or not scopes:
        raise ValidationFailed(f"scopes must be a non-empty subset of {', '.join(SCOPES)}; unknown: {unknown}")
