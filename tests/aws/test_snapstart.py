"""SnapStart restore hooks, run the way Lambda's Python runtime runs them.

The hook registry is the real ``snapshot_restore_py`` module (the one Lambda's runtime ships,
installed here from PyPI); only the snapshot itself cannot happen here, so the tests play its
effect: state saved before, the hooks run, then what a restored environment would do next.
"""

from __future__ import annotations

import random
import subprocess
import sys
from collections.abc import Callable

import psycopg2.extensions
import snapshot_restore_py

from chalicelib.adapters.aws import snapstart
from chalicelib.adapters.aws.clients import client
from chalicelib.container import services
from tests.aws.conftest import REGION
from tests.infra.conftest import ROOT


def _ours(registry: list) -> list[Callable[..., object]]:
    return [func for func, _, _ in registry if func.__module__ == snapstart.__name__]


def run_before_snapshot() -> None:
    for func, args, kwargs in reversed(snapshot_restore_py.get_before_snapshot()):  # reverse order, as Lambda
        func(*args, **kwargs)


def run_after_restore() -> None:
    for func, args, kwargs in snapshot_restore_py.get_after_restore():
        func(*args, **kwargs)


def _backend_pid() -> int:
    with services().db.reading() as cur:
        cur.execute("SELECT pg_backend_pid() AS pid")
        return int(cur.fetchone()["pid"])


def _connection() -> psycopg2.extensions.connection:
    """The pooled connection (idle again once the block ends), which the snapshot hook must close."""
    with services().db._connection() as conn:
        return conn


def test_importing_the_package_registers_each_hook_once():
    assert _ours(snapshot_restore_py.get_before_snapshot()) == [snapstart.before_snapshot]
    assert _ours(snapshot_restore_py.get_after_restore()) == [snapstart.after_restore]
    assert snapstart.register_runtime_hooks() is True  # again: still one of each
    assert _ours(snapshot_restore_py.get_after_restore()) == [snapstart.after_restore]


def test_the_snapshot_holds_no_open_database_connection_and_a_restore_connects_anew(db):
    before = _backend_pid()
    connection = _connection()
    old_services = services()

    run_before_snapshot()
    assert connection.closed  # a socket in a snapshot would be dead in every restored environment

    run_after_restore()
    assert services() is not old_services  # fresh services: new connection, new RDS IAM token
    assert _backend_pid() != before


def test_a_restore_reseeds_random_so_restored_environments_do_not_share_a_sequence():
    snapshot = random.getstate()  # what every environment resumed from one snapshot starts with
    draws = []
    for _ in range(2):
        random.setstate(snapshot)
        run_after_restore()
        draws.append([random.getrandbits(64) for _ in range(4)])
    random.setstate(snapshot)
    unseeded = [random.getrandbits(64) for _ in range(4)]
    assert draws[0] != draws[1]
    assert unseeded not in draws


def test_a_restore_drops_boto3_clients_so_credentials_are_resolved_again(aws):
    sqs = client("sqs", REGION)
    assert client("sqs", REGION) is sqs
    run_after_restore()
    assert client("sqs", REGION) is not sqs


def test_priming_imports_what_first_requests_need_without_connecting():
    """In a fresh interpreter: the handler's import stays light; the snapshot holds the rest."""
    code = (
        "import sys\n"
        "import app, snapshot_restore_py\n"
        "heavy = ('boto3', 'jsonschema', 'semver', 'chalicelib.services.search')\n"
        "print(*[m in sys.modules for m in heavy])\n"
        "for func, args, kwargs in reversed(snapshot_restore_py.get_before_snapshot()):\n"
        "    func(*args, **kwargs)\n"
        "print(*[m in sys.modules for m in heavy])\n"
    )
    # An address nothing listens on: priming must not try to connect (it would fail here).
    env = {"PATH": "/usr/bin:/bin", "DATABASE_URL": "postgresql://catalog@127.0.0.1:9/catalog"}
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.splitlines() == ["False False False False", "True True True True"]


def test_without_the_runtime_module_nothing_is_registered_and_the_app_still_imports():
    code = (
        "import sys\n"
        "sys.modules['snapshot_restore_py'] = None  # as on a runtime without SnapStart support\n"
        "import app\n"
        "from chalicelib.adapters.aws.snapstart import register_runtime_hooks\n"
        "print(register_runtime_hooks())\n"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.split() == ["False"]
