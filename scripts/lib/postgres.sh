# PostgreSQL for the tests (sourced, not run): a private cluster on 127.0.0.1 that the Postgres
# store adapter's contract tests (shared/store-pg) create their throwaway databases in.
#
#   ensure_postgres   # installs PostgreSQL if needed, starts (or reuses) the cluster and exports
#                     # EVERRUNS_TEST_DATABASE_URL=postgres://postgres@127.0.0.1:$EVERRUNS_PG_PORT/postgres
#
# Decisions:
# - A private cluster, not Debian's `15/main` (which the package leaves stopped): its own data
#   directory outside the clone, trust auth, listening on 127.0.0.1 only, on a fixed port
#   (EVERRUNS_PG_PORT, default 25432) so later runs find and reuse it.
# - As root the cluster runs as the `postgres` user and lives in that user's home
#   (/var/lib/postgresql/everruns-pg), because root's home is not traversable by `postgres`.
#   As another user it runs as that user under $HOME/.cache/everruns-pg. EVERRUNS_PG_DIR overrides.
# - The server is left running for the next run; nothing is ever stopped. Measured here: initdb +
#   start ~3-5 s the first time, start alone ~0.2 s, reuse ~0.05 s (apt install ~11 s on a fresh machine).
# - Test-only settings: fsync off, enough connections for parallel test pools.

source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

# Below Linux's ephemeral range (32768-60999), so an outgoing connection never holds it.
EVERRUNS_PG_PORT="${EVERRUNS_PG_PORT:-25432}"

# Prints the newest PostgreSQL bin directory that has initdb, or fails.
pg_bindir() {
  local dir best=""
  for dir in /usr/lib/postgresql/*/bin; do
    [ -x "$dir/initdb" ] && [ -x "$dir/pg_ctl" ] || continue
    if [ -z "$best" ] || [ "$(printf '%s\n%s\n' "$best" "$dir" | sort -V | tail -n 1)" = "$dir" ]; then
      best="$dir"
    fi
  done
  if [ -z "$best" ] && command -v pg_config >/dev/null 2>&1; then
    dir="$(pg_config --bindir 2>/dev/null || true)"
    [ -n "$dir" ] && [ -x "$dir/initdb" ] && best="$dir"
  fi
  [ -n "$best" ] && echo "$best"
}

# Runs a PostgreSQL command as the cluster owner.
pg_as_owner() {
  if [ "$(id -u)" = 0 ]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

# Installs PostgreSQL from the distribution (Debian: the `postgresql` package).
pg_install() {
  apt_install postgresql
}

ensure_postgres() {
  local bindir base data port="$EVERRUNS_PG_PORT" started_at lockfd status
  started_at="$(date +%s%N)"
  if ! bindir="$(pg_bindir)"; then
    pg_install
    bindir="$(pg_bindir)" || { echo "PostgreSQL was installed but no initdb was found under /usr/lib/postgresql/*/bin" >&2; return 1; }
  fi
  if [ "$(id -u)" = 0 ]; then
    base="${EVERRUNS_PG_DIR:-$(getent passwd postgres | cut -d: -f6)/everruns-pg}"
  else
    base="${EVERRUNS_PG_DIR:-$HOME/.cache/everruns-pg}"
  fi
  data="$base/data"
  export EVERRUNS_TEST_DATABASE_URL="postgres://postgres@127.0.0.1:$port/postgres"
  mkdir -p "$base"
  if [ "$(id -u)" = 0 ]; then chown postgres:postgres "$base"; fi

  # One caller at a time sets the cluster up (two test runs started together). The server must
  # not inherit the lock's descriptor, or it would hold the lock for as long as it runs.
  exec {lockfd}>"$base/.ensure.lock"
  flock "$lockfd"
  status=0
  "$bindir/pg_isready" -q -h 127.0.0.1 -p "$port" -U postgres -d postgres || status=$?
  if [ "$status" = 0 ]; then
    echo "PostgreSQL already running on 127.0.0.1:$port (reused)"
  elif [ "$status" != 1 ]; then # 1: a server is there but still starting; wait for it below
    if [ ! -s "$data/PG_VERSION" ]; then
      echo "initializing a private PostgreSQL cluster in $data"
      pg_as_owner "$bindir/initdb" -D "$data" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 \
        >"$base/initdb.log" 2>&1 || { cat "$base/initdb.log" >&2; exec {lockfd}>&-; return 1; }
    fi
    pg_as_owner "$bindir/pg_ctl" -D "$data" -l "$base/postgres.log" -w -t 60 \
      -o "-c listen_addresses=127.0.0.1 -p $port -k $data -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300" \
      start >/dev/null {lockfd}>&- || { tail -n 20 "$base/postgres.log" >&2; exec {lockfd}>&-; return 1; }
  fi
  local tries=0
  until "$bindir/pg_isready" -q -h 127.0.0.1 -p "$port" -U postgres -d postgres; do
    tries=$((tries + 1))
    if [ "$tries" -ge 300 ]; then
      echo "PostgreSQL did not become ready on 127.0.0.1:$port; see $base/postgres.log" >&2
      exec {lockfd}>&-
      return 1
    fi
    sleep 0.1
  done
  exec {lockfd}>&-
  if [ "$status" != 0 ]; then
    echo "PostgreSQL $(basename "$(dirname "$bindir")") ready on 127.0.0.1:$port (data in $data)" \
      "in $(( ($(date +%s%N) - started_at) / 1000000 )) ms"
  fi
}
