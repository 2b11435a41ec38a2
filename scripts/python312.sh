#!/usr/bin/env bash
# Prints the path of a Python 3.12 interpreter, or explains how to get one and fails.
set -euo pipefail
for candidate in "${PYTHON312:-}" "$(command -v python3.12 2>/dev/null || true)" /root/.pyenv/versions/3.12*/bin/python3.12 /usr/local/bin/python3.12 /usr/bin/python3.12; do
  [ -n "$candidate" ] && [ -x "$candidate" ] || continue
  if "$candidate" -c 'import sys; assert sys.version_info[:2] == (3, 12)' 2>/dev/null; then
    echo "$candidate"; exit 0
  fi
done
if command -v pyenv >/dev/null 2>&1; then
  echo "installing Python 3.12 with pyenv" >&2
  pyenv install -s 3.12 >&2 && echo "$(pyenv root)/versions/$(pyenv latest 3.12)/bin/python3.12" && exit 0
fi
echo "Python 3.12 not found: install it (pyenv install 3.12) or set PYTHON312=/path/to/python3.12" >&2
exit 1
