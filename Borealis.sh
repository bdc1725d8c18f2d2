#!/usr/bin/env bash
# Borealis from a fresh clone: `./Borealis.sh demo`, `./Borealis.sh test`, or `./Borealis.sh ARGS`
# (ARGS go to the `borealis` command). The first run creates .venv and installs the project into it;
# later runs start at once (the install is redone only when pyproject.toml changes). The console in web/
# is built (npm ci, npm run build) when its sources change and Node.js 20+ is there.
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

web="$root/web"
console_stamp="$web/node_modules/.borealis-built"
console_index="$root/src/borealis/server/console_dist/index.html"

have_node() {
  command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1 &&
    node -e 'process.exit(Number(process.versions.node.split(".")[0]) >= 20 ? 0 : 1)' 2>/dev/null
}

console_sources_hash() {
  (cd "$web" && find index.html package.json package-lock.json tsconfig.json vite.config.ts \
     postcss.config.cjs src public -type f 2>/dev/null | LC_ALL=C sort | xargs sha256sum) | sha256sum | cut -d' ' -f1
}

# Builds the console when its sources changed since the last build (or it was never built).
ensure_console() {
  if ! have_node; then
    echo "Borealis.sh: Node.js 20+ and npm not found: serving the API without the console" >&2
    return 1
  fi
  local want
  want="$(console_sources_hash)"
  if [ -f "$console_index" ] && [ -f "$console_stamp" ] && [ "$(cat "$console_stamp")" = "$want" ]; then
    return 0
  fi
  echo "Borealis.sh: building the console (npm ci, npm run build)" >&2
  (cd "$web" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error >&2 &&
     npm run --silent build >&2) || { echo "Borealis.sh: the console build failed" >&2; return 2; }
  echo "$want" > "$console_stamp"
}

# The console's checks: type check, lint, unit tests (Vitest), end-to-end tests (Playwright, Chromium).
console_tests() {
  cd "$web"
  npm run --silent typecheck
  npm run --silent lint
  npm run --silent test
  BOREALIS_PYTHON_BIN="$venv/bin/python" npm run --silent e2e
}

run_tests() {
  cd "$root"
  "$venv/bin/ruff" check src tests bench
  "$venv/bin/ruff" format --check src tests bench
  "$venv/bin/mypy"
  "$venv/bin/lint-imports"
  local console=0
  ensure_console || console=$?
  if [ "$console" -ne 0 ] && [ "${BOREALIS_SKIP_CONSOLE:-}" != "1" ]; then
    echo "Borealis.sh: the console's tests need Node.js 20+ (BOREALIS_SKIP_CONSOLE=1 runs the Python suite alone)" >&2
    exit 1
  fi
  local status=0
  "$venv/bin/python" -m pytest "$@" || status=$?
  if [ "$status" -eq 5 ]; then
    echo "Borealis.sh: pytest collected no tests; that is a failure" >&2
    exit 1
  fi
  if [ "$console" -eq 0 ]; then
    (console_tests) || { echo "Borealis.sh: the console's tests failed" >&2; status=1; }
  fi
  exit "$status"
}

ensure_venv
case "${1:-}" in
  test) shift; run_tests "$@" ;;
  demo) shift; ensure_console || true; exec "$venv/bin/python" -m borealis demo "$@" ;;
  *) exec "$venv/bin/python" -m borealis "$@" ;;
esac
