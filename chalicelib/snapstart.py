"""Lambda SnapStart runtime hooks: prime the snapshot, and renew after a restore what must not be shared.

With SnapStart (infra/catalog.yaml, ``EnableSnapStart``) Lambda runs a function's init phase once
per published version, snapshots the memory, and resumes every new execution environment from
that one snapshot (docs/deploy.md#snapstart). Hence:

- before the snapshot, import what a first request would otherwise import (the AWS SDK, the
  validators, the services), so no restored environment pays for it; nothing that holds a
  connection, a credential or random state is built then, and whatever is open gets closed;
- after a restore, reseed ``random`` (every environment resumed from one snapshot would draw the
  same numbers) and drop the composition root and the boto3 clients, so that database
  connections, RDS IAM auth tokens and credentials are made by the restored environment itself.

The hooks are registered with the runtime's ``snapshot_restore_py`` module, only when it can be
imported (Lambda's Python runtimes ship it; elsewhere nothing is registered). Without SnapStart
the runtime never calls them. Lambda requires the registration to happen in a module the handler
imports, which is why ``chalicelib/__init__.py`` calls ``register_runtime_hooks``: both handler
modules (``app`` and ``chalicelib.http.auth``) import the package first.
"""

from __future__ import annotations

import importlib
import random

# What the first invocation of the API handler, the authorizer, the worker or migrate imports on
# top of its handler module (bench/coldstart.py measures the same paths).
PRIMED_MODULES = (
    "boto3",
    "chalicelib.container",
    "chalicelib.adapters.aws.database",
    "chalicelib.adapters.embeddings.factory",
    "chalicelib.adapters.embeddings.bedrock",
    "chalicelib.services.search",
    "chalicelib.services.workflows",
    "chalicelib.services.executions",
    "chalicelib.services.registration",
    "chalicelib.services.recommendations",
    "chalicelib.http.mcp.protocol",  # the MCP protocol types (mcp-types, pydantic): ~0.4 s a first MCP call skips
    "jsonschema",
    "regress",  # ECMA-262 patterns (chalicelib/domain/patterns.py), loaded by the first validated request
    "semver",
)

_registered = False


def register_runtime_hooks() -> bool:
    """Registers the hooks once per process; False when the runtime module is absent."""
    global _registered
    if _registered:
        return True
    try:
        from snapshot_restore_py import register_after_restore, register_before_snapshot
    except ImportError:
        return False
    register_before_snapshot(before_snapshot)
    register_after_restore(after_restore)
    _registered = True
    return True


def before_snapshot() -> None:
    for name in PRIMED_MODULES:
        importlib.import_module(name)
    _forget_connections_and_clients()


def after_restore() -> None:
    random.seed()  # from os.urandom: each restored environment gets its own sequence
    _forget_connections_and_clients()


def _forget_connections_and_clients() -> None:
    from chalicelib.adapters.aws.clients import reset_clients
    from chalicelib.adapters.aws.secrets import forget_secrets
    from chalicelib.container import reset_services, services

    services().db.reset()  # closes the pooled connections (a socket in a snapshot is dead after a restore)
    reset_services()  # the next request builds fresh services: a new connection and a new IAM token
    reset_clients()  # boto3 clients (and the credentials they hold) are built again on first use
    forget_secrets()  # and so are the secret providers (with their clients and cached values)
