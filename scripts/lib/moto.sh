# moto_server: the SQS and Secrets Manager emulator (pip `moto[server]`) on 127.0.0.1, for the
# serverless-split tests. Installed into a virtualenv outside the clone, started once per machine
# (reused when it already answers), never bound beyond loopback.
#
# Exports AWS_ENDPOINT_URL, AWS_REGION and dummy credentials for the tests.

ensure_moto() {
  local venv="${EVERRUNS_MOTO_VENV:-$HOME/.cache/everruns-moto-venv}"
# Below Linux's ephemeral range (32768-60999), so an outgoing connection never holds it.
  local port="${EVERRUNS_MOTO_PORT:-25001}"
  if [ ! -x "$venv/bin/moto_server" ]; then
    python3 -m venv "$venv"
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "moto[server]>=5,<6"
  fi
  local url="http://127.0.0.1:$port"
  if ! "$venv/bin/python" -c "import urllib.request,sys; urllib.request.urlopen('$url/moto-api/data.json', timeout=1)" 2>/dev/null; then
    nohup "$venv/bin/moto_server" -H 127.0.0.1 -p "$port" >"${TMPDIR:-/tmp}/everruns-moto.log" 2>&1 &
    echo $! >"${TMPDIR:-/tmp}/everruns-moto.pid"
    local i
    for i in $(seq 1 100); do
      if "$venv/bin/python" -c "import urllib.request; urllib.request.urlopen('$url/moto-api/data.json', timeout=1)" 2>/dev/null; then
        break
      fi
      sleep 0.2
    done
  fi
  export AWS_ENDPOINT_URL="$url" AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1 AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test
  export EVERRUNS_MOTO_PYTHON="$venv/bin/python"
}
