"""SQL for API keys. Only SHA-256 hashes of tokens are stored."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from chalicelib.domain.paging import Keyset, is_timestamp
from chalicelib.domain.rows import Row
from chalicelib.stores.db import UnitOfWork
from chalicelib.stores.where import Where

KEY_COLUMNS = "key_id, name, scopes, namespaces, cluster, created_at, revoked_at"


@dataclass(frozen=True)
class Reach:
    """The keys a limited key may see: scopes within ``scopes`` (None: any), namespaces within ``namespaces``
    (None: any, unlimited keys included), bound to ``cluster`` (None: any binding)."""

    scopes: list[str] | None
    namespaces: list[str] | None
    cluster: str | None


def insert(tx: UnitOfWork, key_id: str, token_sha256: str, name: str, scopes: list[str],
           namespaces: list[str] | None = None, cluster: str | None = None) -> Row:
    tx.execute(
        f"""INSERT INTO api_keys (key_id, token_sha256, name, scopes, namespaces, cluster)
            VALUES (%s, %s, %s, %s, %s, %s)
            RETURNING {KEY_COLUMNS}""",
        (key_id, token_sha256, name, scopes, namespaces, cluster),
    )
    return tx.one()


def upsert_unless_revoked(tx: UnitOfWork, key_id: str, token_sha256: str, name: str, scopes: list[str]) -> bool:
    """Creates the key or updates its token, name and scopes; a revoked key is left revoked. Returns whether the
    key is active."""
    tx.execute(
        """INSERT INTO api_keys (key_id, token_sha256, name, scopes) VALUES (%s, %s, %s, %s)
           ON CONFLICT (key_id) DO UPDATE
           SET token_sha256 = EXCLUDED.token_sha256, name = EXCLUDED.name, scopes = EXCLUDED.scopes
           WHERE api_keys.revoked_at IS NULL""",
        (key_id, token_sha256, name, scopes),
    )
    return tx.rowcount == 1


def find_active(tx: UnitOfWork, token_sha256: str) -> Row | None:
    tx.execute(
        "SELECT key_id, name, scopes, namespaces, cluster FROM api_keys WHERE token_sha256 = %s AND revoked_at IS NULL",
        (token_sha256,),
    )
    return tx.fetchone()


def list_all(tx: UnitOfWork) -> Sequence[Row]:
    tx.execute(f"SELECT {KEY_COLUMNS} FROM api_keys ORDER BY created_at, key_id")
    return tx.fetchall()


# API keys, oldest first: created_at (to the microsecond), then key id (list_page's order).
API_KEYS = Keyset(lambda row: [row["created_at"].isoformat(), row["key_id"]],
                  lambda p: (isinstance(p, list) and len(p) == 2 and all(isinstance(x, str) for x in p)
                             and is_timestamp(p[0])))


def list_page(tx: UnitOfWork, limit: int, after: Sequence[str] | None, within: Reach | None = None
              ) -> Sequence[Row]:
    """Oldest first, by (created_at, key_id): a total order, keyset pagination after ``after``; only the keys
    ``within`` reaches (None: every key)."""
    reach = within or Reach(None, None, None)
    where = (Where()
             .add("(created_at, key_id) > (%s::timestamptz, %s)", *(after or ()), when=after is not None)
             .add("scopes <@ %s::text[]", reach.scopes, when=reach.scopes is not None)
             .add("namespaces IS NOT NULL AND namespaces <@ %s::text[]", reach.namespaces,
                  when=reach.namespaces is not None)
             .add("cluster = %s", reach.cluster, when=reach.cluster is not None))
    tx.execute(f"SELECT {KEY_COLUMNS} FROM api_keys WHERE {where.sql} ORDER BY created_at, key_id LIMIT %s",
               [*where.params, limit])
    return tx.fetchall()


def get(tx: UnitOfWork, key_id: str) -> Row | None:
    tx.execute(f"SELECT {KEY_COLUMNS} FROM api_keys WHERE key_id = %s", (key_id,))
    return tx.fetchone()


def revoke(tx: UnitOfWork, key_id: str) -> bool:
    tx.execute("UPDATE api_keys SET revoked_at = now() WHERE key_id = %s AND revoked_at IS NULL", (key_id,))
    return tx.rowcount == 1
