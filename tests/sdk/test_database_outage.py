"""Durable mode only (EVERRUNS_TEST_MODE=durable): the server when PostgreSQL goes away.

A small TCP proxy in this file sits between a dedicated server process (on its own database) and
the shared test cluster, which is never stopped. Switching the proxy down closes every open
connection and then refuses new ones (or, in ``reset`` mode, accepts and closes them at once, as
a load balancer in front of a dead database does). The server must then answer 503
``application/problem+json`` with code ``service_unavailable`` and a ``Retry-After`` header, never
500, keep serving ``/health``, stay alive, and recover by itself when the proxy comes back. A
server started while the database is unreachable waits for it (``connect_database``: up to 60 s)
instead of exiting.
"""

from __future__ import annotations

import asyncio
import base64
import os
import socket
import subprocess
import tempfile
import threading
import time
import uuid
from contextlib import contextmanager
from typing import Iterator, Optional
from urllib.parse import urlsplit

import httpx
import pytest

import conftest
from conftest import start_worker

durable_only = pytest.mark.skipif(os.environ.get("EVERRUNS_TEST_MODE") != "durable", reason="durable mode only")
pytestmark = [durable_only]

# The pool's acquire timeout (shared/store-pg ACQUIRE_TIMEOUT) is 5 s: a store call fails after
# that at the latest; the margin is for a loaded 2-core machine.
OUTAGE_ANSWER_WITHIN = 12.0
RECOVER_WITHIN = 15.0


# ---------------------------------------------------------------------------------------------
# The switchable proxy
# ---------------------------------------------------------------------------------------------


class PgProxy:
    """Forwards 127.0.0.1:<port> to PostgreSQL. ``down("refuse")`` closes every open connection
    and the listening socket (new connections are refused); ``down("reset")`` closes every open
    connection and then accepts new ones only to close them at once. ``up()`` forwards again on
    the same port."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.port = conftest._free_port()
        self.mode = "refuse"  # "up", "refuse" or "reset"
        self.accepted = 0
        self._lock = threading.Lock()
        self._conns: set[socket.socket] = set()
        self._listener: Optional[socket.socket] = None
        self._thread: Optional[threading.Thread] = None

    # -- switching ---------------------------------------------------------------------------

    def up(self) -> None:
        with self._lock:
            self.mode = "up"
        self._listen()

    def down(self, mode: str = "refuse") -> None:
        assert mode in ("refuse", "reset"), mode
        with self._lock:
            self.mode = mode
            conns, self._conns = self._conns, set()
        if mode == "refuse":
            self._close_listener()
        else:
            self._listen()
        for sock in conns:
            _hard_close(sock)

    def close(self) -> None:
        self.down("refuse")

    # -- internals ---------------------------------------------------------------------------

    def _listen(self) -> None:
        if self._listener is not None:
            return
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", self.port))
        sock.listen(64)
        sock.settimeout(0.1)
        self._listener = sock
        self._thread = threading.Thread(target=self._accept_loop, args=(sock,), daemon=True)
        self._thread.start()

    def _close_listener(self) -> None:
        sock, thread = self._listener, self._thread
        self._listener = self._thread = None
        if sock is not None:
            sock.close()
        if thread is not None:
            thread.join(timeout=5)

    def _accept_loop(self, listener: socket.socket) -> None:
        while self._listener is listener:
            try:
                client, _ = listener.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            client.settimeout(None)
            with self._lock:
                forwarding = self.mode == "up"
                self.accepted += 1
            if not forwarding:
                _hard_close(client)
                continue
            try:
                upstream = socket.create_connection(self.target, timeout=5)
                upstream.settimeout(None)
            except OSError:
                _hard_close(client)
                continue
            with self._lock:
                if self.mode != "up":  # switched down while connecting
                    _hard_close(client)
                    _hard_close(upstream)
                    continue
                self._conns.update((client, upstream))
            for src, dst in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(src, dst), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket) -> None:
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                dst.sendall(data)
        except OSError:
            pass
        finally:
            with self._lock:
                self._conns.discard(src)
                self._conns.discard(dst)
            _hard_close(src)
            _hard_close(dst)


def _hard_close(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    try:
        sock.close()
    except OSError:
        pass


# ---------------------------------------------------------------------------------------------
# A dedicated server on its own database, reached through the proxy
# ---------------------------------------------------------------------------------------------


def _env_or_fail(name: str) -> str:
    value = os.environ.get(name)
    if not value:
        pytest.fail(f"durable mode needs {name}", pytrace=False)
    return value


class OutageServer:
    def __init__(self, proxy: PgProxy) -> None:
        self.admin = _env_or_fail("EVERRUNS_TEST_DATABASE_URL")
        self.binary = _env_or_fail("EVERRUNS_SERVER_BIN")
        self.worker_bin = _env_or_fail("EVERRUNS_WORKER_BIN")
        self.name = f"everruns_outage_{os.getpid()}_{uuid.uuid4().hex[:8]}"
        subprocess.run(["psql", self.admin, "-q", "-c", f"CREATE DATABASE {self.name}"], check=True, capture_output=True)
        self.port = conftest._free_port()
        self.grpc_port = conftest._free_port()
        self.root = f"http://127.0.0.1:{self.port}"
        token = f"outage-{uuid.uuid4().hex}"
        env = dict(os.environ)
        for inherited in ("DEV_MODE", "API_PREFIX", "AUTH_MODE", "LLMSIM_DEMO"):
            env.pop(inherited, None)
        env.update(
            DEPLOYMENT_GRADE="dev",
            DATABASE_URL=f"postgres://postgres@127.0.0.1:{proxy.port}/{self.name}",
            SECRETS_ENCRYPTION_KEY="kek-v1:" + base64.b64encode(os.urandom(32)).decode(),
            WORKER_GRPC_AUTH_TOKEN=token,
            HTTP_ADDR=f"127.0.0.1:{self.port}",
            WORKER_GRPC_ADDR=f"127.0.0.1:{self.grpc_port}",
            RUST_LOG="warn",
        )
        self.worker_env = dict(os.environ)
        self.worker_env.update(
            WORKER_GRPC_ADDRESS=f"127.0.0.1:{self.grpc_port}",
            WORKER_GRPC_AUTH_TOKEN=token,
            DEPLOYMENT_GRADE="dev",
            WORKER_HEARTBEAT_INTERVAL_MS="300",
            WORKER_TASK_LEASE_SECS="5",
            RUST_LOG="warn",
        )
        log = tempfile.NamedTemporaryFile(prefix="everruns-outage-server-", suffix=".log", delete=False)
        self.log_path = log.name
        self.proc = subprocess.Popen([self.binary], env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
        log.close()
        self.workers: list[subprocess.Popen] = []

    def start_worker(self) -> subprocess.Popen:
        worker = start_worker({"worker_env": self.worker_env, "worker_bin": self.worker_bin},
                              f"outage-worker-{uuid.uuid4().hex[:8]}")
        self.workers.append(worker)
        return worker

    def log_tail(self, limit: int = 4000) -> str:
        try:
            with open(self.log_path, "rb") as fh:
                return fh.read()[-limit:].decode("utf-8", "replace")
        except OSError as exc:
            return f"<cannot read {self.log_path}: {exc}>"

    def context(self) -> str:
        worker_logs = ""
        for worker in self.workers:
            try:
                worker_logs += f"\n--- worker {worker.worker_id} ---\n" + open(worker.log_path).read()[-1500:]
            except OSError:
                pass
        return f"\n--- server output ({self.log_path}) ---\n{self.log_tail()}{worker_logs}"

    def assert_alive(self) -> None:
        code = self.proc.poll()
        assert code is None, f"the server exited with code {code}{self.context()}"

    def stop(self) -> None:
        for worker in self.workers:
            conftest._stop(worker)
        conftest._stop(self.proc)
        subprocess.run(["psql", self.admin, "-q", "-c", f"DROP DATABASE IF EXISTS {self.name} WITH (FORCE)"],
                       capture_output=True)
        for path in [self.log_path] + [w.log_path for w in self.workers]:
            try:
                os.unlink(path)
            except OSError:
                pass


def _target() -> tuple[str, int]:
    admin = urlsplit(_env_or_fail("EVERRUNS_TEST_DATABASE_URL"))
    return admin.hostname or "127.0.0.1", admin.port or 5432


@contextmanager
def outage_setup(proxy_up: bool) -> Iterator[tuple[PgProxy, OutageServer]]:
    proxy = PgProxy(_target())
    if proxy_up:
        proxy.up()
    server = OutageServer(proxy)
    try:
        yield proxy, server
    finally:
        proxy.up()  # so the server stops cleanly and the database can be dropped
        server.stop()
        proxy.close()


class Recorder:
    """Every response the test's HTTP client received, for the no-500 check."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, str, int]] = []

    async def hook(self, response: httpx.Response) -> None:
        self.seen.append((response.request.method, response.request.url.path, response.status_code))

    def server_errors(self) -> list[tuple[str, str, int]]:
        return [s for s in self.seen if s[2] >= 500 and s[2] != 503]


def http_client(server: OutageServer, recorder: Recorder) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=f"{server.root}/api/", trust_env=False, headers={"Authorization": "fake-key"},
                             timeout=httpx.Timeout(30.0), event_hooks={"response": [recorder.hook]})


async def wait_healthy(server: OutageServer, http: httpx.AsyncClient, timeout: float) -> float:
    """Polls /health until 200; returns the seconds it took. Fails if the process exits."""
    started = time.monotonic()
    last = "no answer yet"
    while True:
        server.assert_alive()
        try:
            resp = await http.get(f"{server.root}/health", timeout=2.0)
            if resp.status_code == 200:
                return time.monotonic() - started
            last = f"HTTP {resp.status_code}"
        except httpx.HTTPError as exc:
            last = repr(exc)
        if time.monotonic() - started > timeout:
            raise AssertionError(f"/health did not answer 200 within {timeout:.0f}s (last: {last}){server.context()}")
        await asyncio.sleep(0.1)


def assert_unavailable(resp: httpx.Response, what: str, server: OutageServer) -> None:
    where = f"{what}: {resp.status_code} {resp.headers.get('content-type')!r} {resp.text[:300]}{server.context()}"
    assert resp.status_code == 503, where
    assert resp.headers.get("content-type", "").startswith("application/problem+json"), where
    body = resp.json()
    assert body.get("code") == "service_unavailable", where
    assert (body.get("error") or {}).get("code") == "service_unavailable", where
    assert body.get("status") == 503, where
    retry_after = resp.headers.get("retry-after")
    assert retry_after is not None and retry_after.isdigit() and int(retry_after) >= 1, where
    assert "postgres" not in resp.text.lower() and "sqlx" not in resp.text.lower(), f"5xx bodies are generic: {where}"


async def timed(coro) -> tuple[httpx.Response, float]:
    started = time.monotonic()
    resp = await coro
    return resp, time.monotonic() - started


def user_message(text: str) -> dict:
    return {"message": {"role": "user", "content": [{"type": "text", "text": text}]}}


async def wait_turn(http: httpx.AsyncClient, session_id: str, server: OutageServer, timeout: float = 30.0) -> list:
    deadline = time.monotonic() + timeout
    events: list = []
    while time.monotonic() < deadline:
        resp = await http.get(f"v1/sessions/{session_id}/events")
        assert resp.status_code == 200, resp.text
        events = resp.json()["data"]
        if any(e["type"] == "session.idled" for e in events):
            return events
        await asyncio.sleep(0.2)
    raise AssertionError(f"the turn did not finish: {[e['type'] for e in events]}{server.context()}")


# ---------------------------------------------------------------------------------------------
# Tests
# ---------------------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_database_outage_is_503_and_the_server_recovers() -> None:
    recorder = Recorder()
    with outage_setup(proxy_up=True) as (proxy, server):
        async with http_client(server, recorder) as http:
            await wait_healthy(server, http, conftest.STARTUP_TIMEOUT)
            worker = server.start_worker()

            # 1. Database reachable.
            assert (await http.get("v1/agents")).status_code == 200
            name = f"outage-{uuid.uuid4().hex[:8]}"
            created = await http.post("v1/agents", json={"name": name, "system_prompt": "survive the outage"})
            assert created.status_code in (200, 201), created.text
            agent = created.json()
            session = await http.post("v1/sessions", json={"agent_id": agent["id"]})
            assert session.status_code in (200, 201), session.text
            session_id = session.json()["id"]

            # 2. Database gone: open connections closed, new ones refused, then (second half)
            # accepted and closed at once.
            for mode in ("refuse", "reset"):
                proxy.down(mode)
                went_down = time.monotonic()
                # The first store call after the switch may still be working through the pool's
                # dead connections; it must end in 503 within the acquire timeout plus margin.
                resp, took = await timed(http.get("v1/agents"))
                assert_unavailable(resp, f"[{mode}] GET /v1/agents right after the outage began", server)
                assert took < OUTAGE_ANSWER_WITHIN, f"[{mode}] the first 503 took {took:.1f}s"

                calls = {
                    "GET /v1/agents": http.get("v1/agents"),
                    "GET /v1/agents/{id}": http.get(f"v1/agents/{agent['id']}"),
                    "POST /v1/agents": http.post("v1/agents", json={"name": f"{name}-x", "system_prompt": "p"}),
                    "POST /v1/sessions": http.post("v1/sessions", json={"agent_id": agent["id"]}),
                    "GET /v1/sessions/{id}": http.get(f"v1/sessions/{session_id}"),
                    "POST /v1/sessions/{id}/messages": http.post(f"v1/sessions/{session_id}/messages",
                                                                 json=user_message("lost")),
                    "GET /v1/sessions/{id}/events": http.get(f"v1/sessions/{session_id}/events"),
                    "GET /v1/sessions/{id}/sse": http.get(f"v1/sessions/{session_id}/sse",
                                                          headers={"Accept": "text/event-stream"}),
                }
                health = asyncio.ensure_future(timed(http.get(f"{server.root}/health")))
                results = await asyncio.gather(*(timed(c) for c in calls.values()))
                for what, (resp, took) in zip(calls, results):
                    assert_unavailable(resp, f"[{mode}] {what}", server)
                    assert took < OUTAGE_ANSWER_WITHIN, f"[{mode}] {what} took {took:.1f}s"
                health_resp, health_took = await health
                assert health_resp.status_code == 200, health_resp.text
                assert health_took < 2.0, f"/health took {health_took:.1f}s during the outage"
                server.assert_alive()
                assert time.monotonic() - went_down < 2 * OUTAGE_ANSWER_WITHIN
            await asyncio.sleep(1.0)  # let the worker's polling and the reaper meet the outage too
            server.assert_alive()
            assert worker.poll() is None, f"the worker exited during the outage{server.context()}"

            # 3. Database back: the server recovers by itself, nothing was lost.
            proxy.up()
            came_back = time.monotonic()
            while True:
                resp = await http.get("v1/agents")
                if resp.status_code == 200:
                    break
                assert_unavailable(resp, "GET /v1/agents while recovering", server)
                assert time.monotonic() - came_back < RECOVER_WITHIN, f"no recovery within {RECOVER_WITHIN}s{server.context()}"
                await asyncio.sleep(0.2)
            recovered_in = time.monotonic() - came_back
            assert name in [a["name"] for a in resp.json()["data"]]
            again = await http.get(f"v1/agents/{agent['id']}")
            assert again.status_code == 200 and again.json()["name"] == name, again.text

            posted = await http.post(f"v1/sessions/{session_id}/messages", json=user_message("after the outage"))
            assert posted.status_code == 201, posted.text
            events = await wait_turn(http, session_id, server)
            types = [e["type"] for e in events]
            assert types.count("turn.completed") == 1, types
            texts = [
                "".join(p.get("text") or "" for p in (e["data"].get("message") or {}).get("content") or [])
                for e in events if e["type"] == "output.message.completed"
            ]
            assert texts == ["Echo: after the outage"], texts
            messages = (await http.get(f"v1/sessions/{session_id}/messages")).json()["data"]
            assert [conftest.text_of(m) for m in messages] == ["after the outage", "Echo: after the outage"], \
                "the message refused with 503 was not stored"

            server.assert_alive()
            assert worker.poll() is None
        assert not recorder.server_errors(), f"5xx other than 503: {recorder.server_errors()}{server.context()}"
        assert "panicked" not in server.log_tail(1 << 20), server.context()
        print(f"recovered {recovered_in:.1f}s after the database came back")


@pytest.mark.asyncio
async def test_a_server_started_without_its_database_comes_up_when_it_appears() -> None:
    recorder = Recorder()
    with outage_setup(proxy_up=False) as (proxy, server):
        proxy.down("reset")  # connections accepted and closed at once; then refused below
        async with http_client(server, recorder) as http:
            await asyncio.sleep(1.5)
            server.assert_alive()
            assert proxy.accepted > 0, "the server did not try to reach its database"
            proxy.down("refuse")
            await asyncio.sleep(1.5)
            server.assert_alive()
            with pytest.raises(httpx.ConnectError):
                await http.get(f"{server.root}/health", timeout=2.0)

            proxy.up()
            took = await wait_healthy(server, http, 30.0)
            resp = await http.get("v1/agents")
            assert resp.status_code == 200, resp.text + server.context()
            models = (await http.get("v1/models")).json()["data"]
            assert any(m["model_id"] == "llmsim-echo" for m in models), "the default org was seeded"
            server.assert_alive()
        assert not recorder.server_errors(), recorder.server_errors()
        assert "panicked" not in server.log_tail(1 << 20), server.context()
        print(f"healthy {took:.1f}s after the database appeared")
