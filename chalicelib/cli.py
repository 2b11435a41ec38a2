"""Admin and local-run commands: ``python -m chalicelib.cli <command>``.

serve [--port N]          embedded PostgreSQL (unless DATABASE_URL), migrations, examples, dev key, API
migrate                   apply pending SQL migrations
load-examples             (re)load examples/workflows/*.json, then examples/composites/*.json (idempotent)
reembed                   re-embed the catalog after an embedding provider or dimension change
keys create NAME SCOPE.. [--namespace NS].. [--cluster NAME]
                          create an API key (printed once), optionally limited to namespaces and bound to a cluster
keys list | keys revoke KEY_ID
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import signal
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING

from chalicelib.config import settings
from chalicelib.domain.config_error import ConfigError
from chalicelib.domain.errors import CatalogError
from chalicelib.observability import logger

if TYPE_CHECKING:  # chalice is imported where a command needs it
    from chalice.config import Config

PROJECT_DIR = Path(__file__).resolve().parent.parent
EXAMPLES_DIR = PROJECT_DIR / "examples" / "workflows"
# Composite examples run the workflows above as steps, so they load after them.
COMPOSITE_EXAMPLES_DIR = PROJECT_DIR / "examples" / "composites"
# The banner's example search: on a fresh catalog it answers confident: true with oomkill-increase-memory
# (tests/search/test_showcase.py, with the README's).
SHOWCASE_SEARCH = "query=pod+OOMKilled"


def _use_embedded_if_needed() -> None:
    """Starts the embedded server when DATABASE_URL is unset and exports its URL for this process."""
    if os.environ.get("DATABASE_URL"):
        return
    from chalicelib.stores.embedded import start_embedded

    os.environ["DATABASE_URL"] = start_embedded(PROJECT_DIR / settings().data_dir / "pgdata")
    settings.cache_clear()


def cmd_migrate(_: argparse.Namespace) -> None:
    from chalicelib.container import services
    from chalicelib.stores.migrations import apply_migrations

    applied = apply_migrations(services().db)
    services().search.ensure_ready()  # the embedding column and index for the configured dimension
    print(f"migrations applied: {', '.join(applied) if applied else 'none pending'}")


def load_examples(directory: Path = EXAMPLES_DIR) -> tuple[int, int, list[str]]:
    """Loads every example through the workflow service; returns (created, already present, the ids skipped because
    RemediationWorkflow resources own them: those are theirs to change)."""
    from chalicelib.container import services
    from chalicelib.domain.errors import WorkflowOwnedElsewhere
    from chalicelib.domain.workflows import parse_new_version

    created = present = 0
    skipped: list[str] = []
    for path in sorted(directory.glob("*.json")):
        new = parse_new_version(json.loads(path.read_text()))
        try:
            result = services().workflows.create_version(new, "examples")
        except WorkflowOwnedElsewhere:
            skipped.append(new.workflow_id)
            continue
        created, present = (created + 1, present) if result.created else (created, present + 1)
    return created, present, skipped


def cmd_load_examples(_: argparse.Namespace) -> None:
    counts = [load_examples(directory) for directory in (EXAMPLES_DIR, COMPOSITE_EXAMPLES_DIR)]
    created, present = sum(c[0] for c in counts), sum(c[1] for c in counts)
    skipped = [workflow_id for c in counts for workflow_id in c[2]]
    owned = f", {len(skipped)} owned by resources and left to them ({', '.join(skipped)})" if skipped else ""
    print(f"examples: {created} created, {present} already present{owned}")


def _dev_key() -> str:
    """DEV_API_KEY, or a key generated once and kept under the data folder across restarts."""
    configured = settings().dev_api_key
    if configured:
        return configured
    path = _dev_key_path()
    if path.exists():
        return path.read_text().strip()
    key = f"rwc_dev_{secrets.token_urlsafe(24)}"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(key + "\n")
    path.chmod(0o600)
    return key


def _dev_key_path() -> Path:
    return PROJECT_DIR / settings().data_dir / "dev-api-key"


def cmd_serve(args: argparse.Namespace) -> None:
    from chalicelib.container import services
    from chalicelib.http.local_server import LocalServer
    from chalicelib.services.api_keys import DEV_KEY_ID

    cmd_migrate(args)
    cmd_load_examples(args)
    key = _dev_key()
    active = services().api_keys.ensure_dev_key(key)
    from app import app  # imported late: the app reads settings on first use

    server = LocalServer(app, _chalice_config(), "127.0.0.1", args.port)
    base = server.url
    auth = '-H "Authorization: Bearer $KEY"'
    if active:
        key_line = f"  export KEY={key}   # an API key with every scope (DEV_API_KEY, or kept in {_dev_key_path()})\n"
    else:  # a revoked key is never brought back by a restart
        key_line = (f"  The development key ({DEV_KEY_ID}) was revoked and stays revoked. Create a new key:\n"
                    "  .venv/bin/python -m chalicelib.cli keys create local-dev admin"
                    "   # then: export KEY=<the token it prints>\n")
    print(
        f"\nWorkflow catalog API on {base} (Ctrl-C stops it)\n"
        f"{key_line}"
        f"  curl {base}/healthz\n"
        f"  curl {auth} {base}/api/v1/playbooks\n"
        f"  curl {auth} '{base}/api/v1/playbooks/search?{SHOWCASE_SEARCH}'\n"
        f"  curl {auth} {base}/api/v1/openapi.json\n"
        f"Serving on {base}",
        flush=True,
    )
    stop = threading.Event()
    threading.Thread(target=_maintenance_loop, args=(stop,), name="maintenance", daemon=True).start()
    # SIGTERM (docker stop, CI, a test) takes the Ctrl-C path, so the embedded database stops too.
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        print("stopped")
    finally:
        stop.set()


def _maintenance_loop(stop: threading.Event) -> None:
    """At start and every REGISTRATION_SWEEP_SECONDS (the scheduled `maintenance` function's work in AWS):
    registrations whose worker died (an expired lease, e.g. after the previous server was killed) and ones
    never started run again, executions past their approval window expire, and the notification outbox is
    delivered (chalicelib/services/maintenance.py)."""
    from chalicelib.container import services

    while True:
        try:
            services().maintenance.run()
        except Exception:  # the database may be away for a while; the next round tries again
            logger.warning("maintenance sweep failed; retrying later", exc_info=True)
        if stop.wait(settings().registration_sweep_seconds):
            return


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _chalice_config() -> Config:
    from chalice.config import Config

    config_file = PROJECT_DIR / ".chalice" / "config.json"
    if not config_file.exists():
        return Config.create(chalice_stage="local")
    user_config = json.loads(config_file.read_text())
    return Config(chalice_stage="local", user_provided_params={}, config_from_disk=user_config)


def cmd_reembed(_: argparse.Namespace) -> None:
    """Re-embeds every version with the configured provider (after EMBEDDING_PROVIDER/DIMENSIONS change)."""
    from chalicelib.container import services
    from chalicelib.services.search import progress_bar

    count = services().search.reembed(progress=progress_bar())
    print(f"re-embedded {count} versions")


def cmd_keys(args: argparse.Namespace) -> None:
    from chalicelib.container import services

    keys = services().api_keys
    if args.action == "create":
        from chalicelib.domain.contracts import NEW_API_KEY

        request = {"name": args.name, "scopes": args.scopes, "namespaces": args.namespace, "cluster": args.cluster}
        NEW_API_KEY.check({field: value for field, value in request.items() if value is not None})
        key_id, token = keys.create(args.name, args.scopes, args.namespace, args.cluster)
        print(f"key_id {key_id}\ntoken  {token}\n(the token is shown once; store it now)")
    elif args.action == "list":
        for row in keys.list():
            state = f"revoked {row['revoked_at']:%Y-%m-%d}" if row["revoked_at"] else "active"
            namespaces = " ".join(row["namespaces"]) if row["namespaces"] is not None else "*"
            cluster = row["cluster"] or "-"
            print(f"{row['key_id']:14} {state:18} {' '.join(row['scopes']):60} {namespaces:20} {cluster:16} "
                  f"{row['name']}")
    elif args.action == "revoke":
        print("revoked" if keys.revoke(args.key_id) else "no such active key")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m chalicelib.cli", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve")
    serve.add_argument("--port", type=int, default=None)
    serve.set_defaults(func=cmd_serve)
    sub.add_parser("migrate").set_defaults(func=cmd_migrate)
    sub.add_parser("load-examples").set_defaults(func=cmd_load_examples)
    sub.add_parser("reembed").set_defaults(func=cmd_reembed)
    keys = sub.add_parser("keys")
    keys_sub = keys.add_subparsers(dest="action", required=True)
    create = keys_sub.add_parser("create")
    create.add_argument("name")
    create.add_argument("scopes", nargs="+")
    create.add_argument("--namespace", action="append", help="limit the key to this namespace (repeatable)")
    create.add_argument("--cluster", help="bind the key to this cluster (a DNS-1123 label); unbound keys act as "
                                          "cluster 'default'")
    keys_sub.add_parser("list")
    revoke = keys_sub.add_parser("revoke")
    revoke.add_argument("key_id")
    keys.set_defaults(func=cmd_keys)
    args = parser.parse_args(argv)
    try:
        if args.command == "serve" and args.port is None:
            args.port = settings().port
        _use_embedded_if_needed()
        args.func(args)
    except ConfigError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2
    except CatalogError as exc:
        print(f"error: {exc.detail}", file=sys.stderr)
        for error in exc.errors:
            print(f"  {error.path}: {error.message}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
