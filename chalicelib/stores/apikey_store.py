"""SQL for API keys. Only SHA-256 hashes of tokens are stored."""

from __future__ import annotations

from collections.abc import Sequence

from psycopg2.extras import RealDictCursor

from chalicelib.stores.rows import Row


def insert(cur: RealDictCursor, key_id: str, token_sha256: str, name: str, scopes: list[str]) -> None:
    cur.execute(
        "INSERT INTO api_keys (key_id, token_sha256, name, scopes) VALUES (%s, %s, %s, %s)",
        (key_id, token_sha256, name, scopes),
    )


def upsert(cur: RealDictCursor, key_id: str, token_sha256: str, name: str, scopes: list[str]) -> None:
    cur.execute(
        """INSERT INTO api_keys (key_id, token_sha256, name, scopes) VALUES (%s, %s, %s, %s)
           ON CONFLICT (key_id) DO UPDATE
           SET token_sha256 = EXCLUDED.token_sha256, name = EXCLUDED.name, scopes = EXCLUDED.scopes,
               revoked_at = NULL""",
        (key_id, token_sha256, name, scopes),
    )


def find_active(cur: RealDictCursor, token_sha256: str) -> Row | None:
    cur.execute(
        "SELECT key_id, name, scopes FROM api_keys WHERE token_sha256 = %s AND revoked_at IS NULL",
        (token_sha256,),
    )
    return cur.fetchone()


def list_all(cur: RealDictCursor) -> Sequence[Row]:
    cur.execute("SELECT key_id, name, scopes, created_at, revoked_at FROM api_keys ORDER BY created_at, key_id")
    return cur.fetchall()


def revoke(cur: RealDictCursor, key_id: str) -> bool:
    cur.execute("UPDATE api_keys SET revoked_at = now() WHERE key_id = %s AND revoked_at IS NULL", (key_id,))
    return cur.rowcount == 1
