"""The official MCP Inspector's CLI against the catalog's /mcp: what a third-party client shows (never run by
`make test`).

    .venv/bin/python -m devtools.mcp_inspector --install     # once: npm @modelcontextprotocol/inspector into .var/
    .venv/bin/python -m devtools.mcp_inspector               # its own server (own embedded database), then stopped
    .venv/bin/python -m devtools.mcp_inspector --url http://127.0.0.1:8000 --key "$KEY"   # a running `make run`

It runs the Inspector's CLI four times and prints what each shows:
1. a wrong key, non-interactively (``--stored-auth-only``, the Inspector's mode for scripts and CI): the
   server's reason, from the 401's ``WWW-Authenticate: Bearer error="invalid_token", error_description=...``
   (RFC 6750) and its problem document;
2. the same without ``--stored-auth-only``: an HTTP server's 401 makes the Inspector offer interactive OAuth,
   whatever the server says (this server uses API keys: there is nothing to authorize interactively);
3. no key at all (``error="invalid_request"``);
4. ``tools/list`` with the key in ``--strict`` mode: the tool-schema portability report (empty when every
   input schema keeps to the portable subset; exit code 6 when an error-severity problem is found).
Exit code: 1 when the strict report is not empty or the wrong key's reason is not shown, else 0.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parents[1]
INSPECTOR = "@modelcontextprotocol/inspector@2.12.0"
PREFIX = PROJECT_DIR / ".var" / "mcp-inspector"
CLI = PREFIX / "node_modules" / ".bin" / "mcp-inspector"
WRONG_KEY = "rwc_not_a_key_of_this_catalog"
REASON = "The API key is not valid"  # the start of the 401's detail (chalicelib/http/auth.py)


def install() -> None:
    """npm install of the pinned Inspector into .var/mcp-inspector (only when asked)."""
    if shutil.which("npm") is None:
        sys.exit("npm is needed: apt-get install nodejs npm")
    PREFIX.mkdir(parents=True, exist_ok=True)
    subprocess.run(["npm", "install", "--prefix", str(PREFIX), "--no-audit", "--no-fund", INSPECTOR], check=True)


def inspector(url: str, *args: str) -> subprocess.CompletedProcess[str]:
    command = [str(CLI), "--cli", f"{url}/mcp", "--transport", "http", "--method", "tools/list", *args]
    # No terminal: the Inspector must not wait for a person (its secret store stays in memory).
    env = {**os.environ, "MCP_INSPECTOR_SECRET_STORE": "memory"}
    return subprocess.run(command, capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL, env=env)


def show(title: str, result: subprocess.CompletedProcess[str]) -> None:
    print(f"--- {title} (exit {result.returncode})")
    for line in (result.stdout + result.stderr).splitlines():
        if not line.startswith("[mcp-inspector]"):  # its notes about the secret store
            print(f"    {line[:2000]}")


def check(url: str, key: str) -> int:
    wrong = inspector(url, "--header", f"Authorization: Bearer {WRONG_KEY}", "--stored-auth-only")
    show("wrong key, --stored-auth-only", wrong)
    show("wrong key, interactive default", inspector(url, "--header", f"Authorization: Bearer {WRONG_KEY}"))
    show("no key, --stored-auth-only", inspector(url, "--stored-auth-only"))
    strict = inspector(url, "--header", f"Authorization: Bearer {key}", "--strict")
    try:
        tools = [tool["name"] for tool in json.loads(strict.stdout)["tools"]]
    except (ValueError, KeyError, TypeError):
        tools = []
    show("tools/list --strict: its report (stderr; the tools themselves are not repeated here)",
         subprocess.CompletedProcess(strict.args, strict.returncode, "", strict.stderr))
    report_empty = strict.returncode == 0 and not [line for line in strict.stderr.splitlines()
                                                   if not line.startswith("[mcp-inspector]")]
    print(f"strict report empty: {report_empty} (tools: {', '.join(tools)}); wrong key's reason shown: "
          f"{REASON in wrong.stdout + wrong.stderr}")
    return 0 if report_empty and REASON in wrong.stdout + wrong.stderr else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--install", action="store_true", help=f"npm install {INSPECTOR} into {PREFIX} and exit")
    parser.add_argument("--url", help="a running catalog (default: start one of its own)")
    parser.add_argument("--key", help="an API key of that catalog (default with --url: .var/dev-api-key)")
    args = parser.parse_args()
    if args.install:
        install()
        return 0
    if not CLI.exists():
        sys.exit(f"the Inspector is not installed: run {Path(sys.argv[0]).name} --install first")
    if args.url:
        key = args.key or (PROJECT_DIR / ".var" / "dev-api-key").read_text().strip()
        return check(args.url.rstrip("/"), key)
    sys.path.insert(0, str(PROJECT_DIR))
    from tests.support.server import CatalogProcess  # the server as `make run` starts it, in a folder of its own

    with CatalogProcess(env={"LOG_LEVEL": "WARNING"}) as server:
        return check(server.url, server.key)


if __name__ == "__main__":
    sys.exit(main())
