# The management UI's tools (sourced, not run).
#
#   ensure_node       # Node.js ≥ 20.19 and npm: the UI (ui/) is built by everruns-ui's build script
#   ensure_chromium   # Debian's chromium for the browser tests (never a downloaded browser build)
#   ensure_ui_venv    # prints a venv with tests/ui/requirements.txt (Playwright, pytest)

source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

node_ok() {
  command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1 &&
    node -e 'const [a, b] = process.versions.node.split(".").map(Number); process.exit(a > 20 || (a === 20 && b >= 19) ? 0 : 1)'
}

ensure_node() {
  if node_ok; then return; fi
  apt_install nodejs npm
  node_ok || { echo "Node.js >= 20.19 is needed to build the UI (found $(node --version 2>/dev/null || echo none))" >&2; return 1; }
}

ensure_chromium() {
  export CHROMIUM="${CHROMIUM:-/usr/bin/chromium}"
  if [ -x "$CHROMIUM" ]; then return; fi
  apt_install chromium
}

ensure_ui_venv() {
  local venv="${EVERRUNS_UI_VENV:-$HOME/.cache/everruns-ui-venv}"
  local stamp="$venv/.requirements"
  if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv" >&2
  fi
  if ! cmp -s tests/ui/requirements.txt "$stamp"; then
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r tests/ui/requirements.txt >&2
    cp tests/ui/requirements.txt "$stamp"
  fi
  echo "$venv"
}
