"""SQL for API keys. Only SHA-256 hashes of tokens are stored."""

from __future__ import annotations

from collections.abc import Sequence

from chalicelib.stores.db import UnitOfWork
from chalicelib.stores.rows import Row


def insert(tx: UnitOfWork, key_id: str, token_sha256: str, name: str, scopes: list[str],
           namespaces: list[str] | None = None) -> None:
    tx.execute(
        "INSERT INTO api_keys (key_id, token_sha256, name, scopes, namespaces) VALUES (%s, %s, %s, %s, %s)",
        (key_id, token_sha256, name, scopes, namespaces),
    )


def upsert(tx: UnitOfWork, key_id: str, token_sha256: str, name: str, scopes: list[str]) -> None:
    tx.execute(
        """INSERT INTO api_keys (key_id, token_sha256, name, scopes) VALUES (%s, %s, %s, %s)
           ON CONFLICT (key_id) DO UPDATE
           SET token_sha256 = EXCLUDED.token_sha256, name = EXCLUDED.name, scopes = EXCLUDED.scopes,
               revoked_at = NULL""",
        (key_id, token_sha256, name, scopes),
    )


def find_active(tx: UnitOfWork, token_sha256: str) -> Row | None:
    tx.execute(
        "SELECT key_id, name, scopes, namespaces FROM api_keys WHERE token_sha256 = %s AND revoked_at IS NULL",
        (token_sha256,),
    )
    return tx.fetchone()


def list_all(tx: UnitOfWork) -> Sequence[Row]:
    tx.execute("SELECT key_id, name, scopes, namespaces, created_at, revoked_at FROM api_keys "
               "ORDER BY created_at, key_id")
    return tx.fetchall()


def revoke(tx: UnitOfWork, key_id: str) -> bool:
    tx.execute("UPDATE api_keys SET revoked_at = now() WHERE key_id = %s AND revoked_at IS NULL", (key_id,))
    return tx.rowcount == 1
