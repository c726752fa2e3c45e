"""Soak benchmark: does a long-lived process keep memory per finished session? Runs N one-turn
sessions (create → SSE stream open → message → `session.idled` read → stream closed, optionally
DELETE), C at a time, and samples the RSS of the processes under test every 1,000 sessions.

Modes (release binaries: cargo build --release --bin everruns-server --bin everruns-worker):
  --mode dev          everruns-server with DEV_MODE=true; --delete deletes each session after its turn
  --mode containers   everruns-server on a fresh PostgreSQL database + one everruns-worker over gRPC
                      (--admin-url: the test cluster, e.g. postgres://postgres@127.0.0.1:25432/postgres)
  --mode attach       processes already running (e.g. scripts/split-up's bridge): --api, --sse,
                      --pid NAME=PID ...

    python3 scripts/bench/soak.py --mode containers --sessions 20000 --admin-url $EVERRUNS_TEST_DATABASE_URL
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request
import uuid

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
KEY = "kek-v1:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def call(base: str, method: str, path: str, body=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(base + path, method=method, data=data, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=60) as response:
        return json.loads(response.read() or b"null")


def wait_ready(api: str) -> None:
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            call(api, "GET", "/v1/agents")
            return
        except Exception:  # noqa: BLE001 - still starting
            time.sleep(0.2)
    raise SystemExit("the server did not start")


def one_session(api: str, sse: str, delete: bool) -> None:
    session = call(api, "POST", "/v1/sessions", {})["id"]
    url = urllib.parse.urlparse(f"{sse}/v1/sessions/{session}/sse")
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=60)
    conn.request("GET", url.path, headers={"Accept": "text/event-stream"})
    response = conn.getresponse()
    assert response.status == 200, response.status
    while b"connected" not in response.readline():
        pass
    call(api, "POST", f"/v1/sessions/{session}/messages",
         {"message": {"content": [{"type": "text", "text": f"hello {session}"}]}})
    while True:
        line = response.readline()
        if not line:
            raise RuntimeError("the stream ended before session.idled")
        if line.startswith(b"event: session.idled"):
            break
    conn.close()
    if delete:
        req = urllib.request.Request(f"{api}/v1/sessions/{session}", method="DELETE")
        urllib.request.urlopen(req, timeout=60).close()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--mode", choices=["dev", "containers", "attach"], required=True)
    ap.add_argument("--sessions", type=int, default=20000)
    ap.add_argument("--concurrency", type=int, default=4)
    ap.add_argument("--delete", action="store_true")
    ap.add_argument("--admin-url")
    ap.add_argument("--api")
    ap.add_argument("--sse")
    ap.add_argument("--pid", action="append", default=[])
    ap.add_argument("--every", type=int, default=1000)
    args = ap.parse_args()

    children: list[subprocess.Popen] = []
    pids: dict[str, int] = {}
    server_bin = os.environ.get("EVERRUNS_SERVER_BIN", f"{ROOT}/target/release/everruns-server")
    worker_bin = os.environ.get("EVERRUNS_WORKER_BIN", f"{ROOT}/target/release/everruns-worker")
    env = dict(os.environ, RUST_LOG="warn", RATE_LIMIT_API_REQUESTS_PER_MINUTE="0", SSE_GLOBAL_MAX="100000",
               SSE_PER_ORG_MAX="100000")
    env.setdefault("LLMSIM_TTFT_MS", "0"); env.setdefault("LLMSIM_TOKEN_MS", "0")  # an instant simulator
    if args.mode == "attach":
        api, sse = args.api, args.sse or args.api
        for spec in args.pid:
            name, pid = spec.split("=")
            pids[name] = int(pid)
    else:
        port = free_port()
        api = sse = f"http://127.0.0.1:{port}/api"
        env["HTTP_ADDR"] = f"127.0.0.1:{port}"
        if args.mode == "dev":
            env["DEV_MODE"] = "true"
        else:
            db = f"everruns_soak_{uuid.uuid4().hex[:12]}"
            subprocess.run(["psql", args.admin_url, "-qc", f'CREATE DATABASE "{db}"'], check=True)
            grpc = free_port()
            env.update(DATABASE_URL=args.admin_url.rsplit("/", 1)[0] + "/" + db, SECRETS_ENCRYPTION_KEY=KEY,
                       WORKER_GRPC_AUTH_TOKEN="soak-token", WORKER_GRPC_ADDR=f"127.0.0.1:{grpc}", DEPLOYMENT_GRADE="dev")
        children.append(subprocess.Popen([server_bin], env=env))
        pids["server"] = children[-1].pid
        wait_ready(api)
        if args.mode == "containers":
            wenv = dict(os.environ, RUST_LOG="warn", WORKER_GRPC_ADDRESS=env["WORKER_GRPC_ADDR"],
                        WORKER_GRPC_AUTH_TOKEN="soak-token", DEPLOYMENT_GRADE="dev")
            children.append(subprocess.Popen([worker_bin], env=wenv))
            pids["worker"] = children[-1].pid
    try:
        names = sorted(pids)
        print(f"soak: {args.mode}, {args.sessions} sessions, {args.concurrency} at a time, delete={args.delete}")
        print("sessions  " + "  ".join(f"{n} RSS MB" for n in names) + "  elapsed s")
        print("0         " + "  ".join(f"{rss_mb(pids[n]):>11.1f}" for n in names))
        started = time.time()
        done = 0
        lock = threading.Lock()
        failures: list[str] = []

        def worker() -> None:
            nonlocal done
            while True:
                with lock:
                    if done + len(failures) >= args.sessions:
                        return
                    done += 1
                    mine = done
                try:
                    one_session(api, sse, args.delete)
                except Exception as exc:  # noqa: BLE001 - counted and reported
                    with lock:
                        failures.append(repr(exc))
                if mine % args.every == 0:
                    line = f"{mine:<9} " + "  ".join(f"{rss_mb(pids[n]):>11.1f}" for n in names)
                    print(f"{line}  {time.time() - started:>9.1f}", flush=True)

        threads = [threading.Thread(target=worker) for _ in range(args.concurrency)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        time.sleep(2)
        print("idle 2 s  " + "  ".join(f"{rss_mb(pids[n]):>11.1f}" for n in names))
        if failures:
            print(f"{len(failures)} sessions failed, e.g. {failures[0]}", file=sys.stderr)
            raise SystemExit(1)
    finally:
        for child in children:
            child.terminate()
            child.wait(10)


if __name__ == "__main__":
    main()
