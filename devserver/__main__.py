"""``python -m devserver [--port N]``: what `make run` runs (README, "The local server (`make run`)").

Embedded PostgreSQL (unless DATABASE_URL), migrations, the examples, the development key (DEV_API_KEY, or one
kept under the data folder), the maintenance loop that the scheduled function runs in AWS, and the server.
"""

from __future__ import annotations

import argparse
import json
import secrets
import signal
import sys
import threading
from pathlib import Path

from chalice.config import Config

from chalicelib.cli import PROJECT_DIR, SHOWCASE_SEARCH, cmd_load_examples, cmd_migrate, run
from chalicelib.config import settings
from chalicelib.observability import logger


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
    from chalicelib.services.api_keys import DEV_KEY_ID
    from devserver.local_server import LocalServer

    cmd_migrate(args)
    cmd_load_examples(args)
    key = _dev_key()
    active = services().api_keys.ensure_dev_key(key)
    from app import app  # imported late: the app reads settings on first use

    port = settings().port if args.port is None else args.port
    server = LocalServer(app, chalice_config(), "127.0.0.1", port)
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
    never started run again, executions past their approval window expire, runners' lapsed leases are counted,
    successes whose effectiveness window has ended are judged, and the notification outbox is delivered
    (chalicelib/services/maintenance.py)."""
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


def chalice_config() -> Config:
    """The local stage of .chalice/config.json, as `chalice local` reads it."""
    config_file = PROJECT_DIR / ".chalice" / "config.json"
    if not config_file.exists():
        return Config.create(chalice_stage="local")
    user_config = json.loads(config_file.read_text())
    return Config(chalice_stage="local", user_provided_params={}, config_from_disk=user_config)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devserver", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, default=None, help="default: PORT (8000)")
    return run(cmd_serve, parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
