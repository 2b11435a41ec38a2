"""Admin commands: ``python -m chalicelib.cli <command>`` (`make run`'s server is ``python -m devserver``).

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
import sys
from collections.abc import Callable
from pathlib import Path

from chalicelib.config import settings
from chalicelib.domain.config_error import ConfigError
from chalicelib.domain.errors import CatalogError

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
    return run(args.func, args)


def run(command: Callable[[argparse.Namespace], None], args: argparse.Namespace) -> int:
    """Runs a command on the configured database (the embedded one when DATABASE_URL is unset); configuration and
    domain errors are printed, exit status 2."""
    try:
        _use_embedded_if_needed()
        command(args)
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
