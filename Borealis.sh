#!/usr/bin/env bash
# Borealis from a fresh clone: `./Borealis.sh demo`, `./Borealis.sh test`, or `./Borealis.sh ARGS`
# (ARGS go to the `borealis` command). The first run creates .venv and installs the project into it;
# later runs start at once (the install is redone only when pyproject.toml changes).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
venv="$root/.venv"
stamp="$venv/.borealis-installed"

find_python() {
  for candidate in "${BOREALIS_PYTHON:-}" python3.13 python3.12 python3.11 python3; do
    [ -n "$candidate" ] || continue
    if command -v "$candidate" >/dev/null 2>&1 &&
       "$candidate" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' 2>/dev/null; then
      echo "$candidate"; return 0
    fi
  done
  echo "Borealis.sh: Python 3.11 or newer is needed (set BOREALIS_PYTHON to its path)" >&2
  return 1
}

ensure_venv() {
  local want
  want="$(sha256sum "$root/pyproject.toml" | cut -d' ' -f1)"
  if [ -x "$venv/bin/python" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
    return 0
  fi
  local python
  python="$(find_python)"
  echo "Borealis.sh: setting up $venv (first run; takes a minute)" >&2
  if [ ! -x "$venv/bin/python" ]; then
    "$python" -m venv "$venv" || {
      echo "Borealis.sh: cannot create a virtual environment; on Debian/Ubuntu: apt-get install python3-venv" >&2
      exit 1
    }
  fi
  "$venv/bin/python" -m pip install --quiet --upgrade pip >&2
  "$venv/bin/python" -m pip install --quiet -e "$root[dev]" >&2
  echo "$want" > "$stamp"
}

run_tests() {
  cd "$root"
  "$venv/bin/ruff" check src tests bench
  "$venv/bin/ruff" format --check src tests bench
  "$venv/bin/mypy"
  local status=0
  "$venv/bin/python" -m pytest "$@" || status=$?
  if [ "$status" -eq 5 ]; then
    echo "Borealis.sh: pytest collected no tests; that is a failure" >&2
    exit 1
  fi
  exit "$status"
}

ensure_venv
case "${1:-}" in
  test) shift; run_tests "$@" ;;
  demo) shift; exec "$venv/bin/python" -m borealis demo "$@" ;;
  *) exec "$venv/bin/python" -m borealis "$@" ;;
esac
