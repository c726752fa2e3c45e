"""Durable mode only (EVERRUNS_TEST_MODE=durable): the worker gRPC boundary over mutual TLS.

The module starts its own server on its own database with TLS on the worker port
(WORKER_GRPC_TLS_CERT/_KEY) and client certificates required (WORKER_GRPC_TLS_CA_CERT), using a
CA, server and client certificates that `openssl` makes here, plus a rogue CA with its own client
certificate. Workers without a client certificate, with the rogue one, or speaking plaintext
gRPC are started first, alone, with a turn waiting: they must fail on the TLS layer and the task
must stay untouched. Only then does a worker with a valid certificate start and run the turn.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from typing import Callable, Optional

import httpx
import pytest
from everruns_sdk import Everruns

from conftest import API_KEY, STARTUP_TIMEOUT, _stop, model_id_for, start_worker

durable_only = pytest.mark.skipif(os.environ.get("EVERRUNS_TEST_MODE") != "durable", reason="durable mode only")
pytestmark = [durable_only]

TOKEN = "mtls-test-token"
ANSI = re.compile(r"\x1b\[[0-9;]*m")
# How long rejected workers, alone with a pending task, are watched at least.
REJECTION_WINDOW = 3.0


# ---------------------------------------------------------------------------------------------
# Certificates (openssl CLI)
# ---------------------------------------------------------------------------------------------

REQ_CONFIG = """\
[req]
distinguished_name = dn
prompt = no
[dn]
CN = placeholder
[v3_ca]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
"""
SERVER_EXT = """\
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = DNS:localhost,IP:127.0.0.1
"""
CLIENT_EXT = """\
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = clientAuth
"""


def _openssl(directory: str, *args: str) -> None:
    binary = shutil.which("openssl")
    if binary is None:
        pytest.fail("the mutual TLS test makes its certificates with the `openssl` CLI, which is not "
                    "installed (Debian: apt-get install openssl; scripts/test installs it)", pytrace=False)
    done = subprocess.run([binary, *args], cwd=directory, capture_output=True, text=True)
    if done.returncode != 0:
        pytest.fail(f"openssl {' '.join(args)} failed ({done.returncode}):\n{done.stderr}", pytrace=False)


def make_pki(directory: str) -> dict:
    """A CA, a server certificate for localhost / 127.0.0.1 and a client certificate it signed;
    a rogue CA and a client certificate it signed. EC P-256 keys, 2 days of validity."""
    for name, text in (("req.cnf", REQ_CONFIG), ("server.ext", SERVER_EXT), ("client.ext", CLIENT_EXT)):
        with open(os.path.join(directory, name), "w") as fh:
            fh.write(text)

    def key(name: str) -> None:
        _openssl(directory, "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", f"{name}.key")

    def ca(name: str, cn: str) -> None:
        key(name)
        _openssl(directory, "req", "-x509", "-new", "-key", f"{name}.key", "-sha256", "-days", "2", "-subj", f"/CN={cn}",
                 "-config", "req.cnf", "-extensions", "v3_ca", "-out", f"{name}.pem")

    def leaf(name: str, cn: str, issuer: str, ext: str) -> None:
        key(name)
        _openssl(directory, "req", "-new", "-key", f"{name}.key", "-subj", f"/CN={cn}", "-config", "req.cnf",
                 "-out", f"{name}.csr")
        _openssl(directory, "x509", "-req", "-in", f"{name}.csr", "-CA", f"{issuer}.pem", "-CAkey", f"{issuer}.key",
                 "-set_serial", f"0x{uuid.uuid4().hex[:16]}", "-days", "2", "-sha256", "-extfile", ext,
                 "-out", f"{name}.pem")

    ca("ca", "Everruns test CA")
    leaf("server", "localhost", "ca", "server.ext")
    leaf("client", "everruns-worker", "ca", "client.ext")
    ca("rogue-ca", "Rogue CA")
    leaf("rogue-client", "everruns-worker", "rogue-ca", "client.ext")
    return {name: os.path.join(directory, name) for name in (
        "ca.pem", "server.pem", "server.key", "client.pem", "client.key", "rogue-ca.pem", "rogue-client.pem",
        "rogue-client.key")}


# ---------------------------------------------------------------------------------------------
# The module's own server (mutual TLS on the worker port) and its workers
# ---------------------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _log(path: str) -> str:
    try:
        with open(path, "rb") as fh:
            return ANSI.sub("", fh.read().decode("utf-8", "replace"))
    except OSError as exc:
        return f"<cannot read {path}: {exc}>"


class MtlsDeployment:
    def __init__(self, pki: dict, root: str, grpc_port: int, database_url: str, durable: dict, server_log: str):
        self.pki = pki
        self.root = root
        self.base_url = f"{root}/api"
        self.grpc_port = grpc_port
        self.database_url = database_url
        self.durable = durable  # the shape conftest.start_worker expects
        self.server_log = server_log
        self.workers: list[subprocess.Popen] = []

    def worker(self, name: str, **env: str) -> subprocess.Popen:
        proc = start_worker(self.durable, f"{name}-{uuid.uuid4().hex[:6]}", **env)
        self.workers.append(proc)
        return proc

    def good_worker_env(self, **extra: str) -> dict:
        env = dict(WORKER_GRPC_TLS_CA_CERT=self.pki["ca.pem"], WORKER_GRPC_TLS_CERT=self.pki["client.pem"],
                   WORKER_GRPC_TLS_KEY=self.pki["client.key"])
        env.update(extra)
        return env

    def psql(self, sql: str) -> str:
        out = subprocess.run(["psql", self.database_url, "-At", "-c", sql], capture_output=True, text=True, check=True)
        return out.stdout.strip()

    def diagnostics(self, procs: Optional[list] = None) -> str:
        parts = [f"--- server log ---\n{_log(self.server_log)[-3000:]}"]
        for proc in procs if procs is not None else self.workers:
            parts.append(f"--- worker {proc.worker_id} (exit {proc.poll()}) ---\n{_log(proc.log_path)[-1500:]}")
        return "\n".join(parts)


@pytest.fixture(scope="module")
def mtls():
    server_bin = os.environ.get("EVERRUNS_SERVER_BIN")
    worker_bin = os.environ.get("EVERRUNS_WORKER_BIN")
    admin = os.environ.get("EVERRUNS_TEST_DATABASE_URL")
    if not (server_bin and worker_bin and admin):
        pytest.fail("the mutual TLS test needs EVERRUNS_SERVER_BIN, EVERRUNS_WORKER_BIN and "
                    "EVERRUNS_TEST_DATABASE_URL", pytrace=False)
    if shutil.which("openssl") is None:
        pytest.fail("the mutual TLS test needs the `openssl` CLI to make its certificates, and it is not "
                    "installed (Debian: apt-get install openssl; scripts/test installs it)", pytrace=False)
    import base64

    workdir = tempfile.mkdtemp(prefix="everruns-mtls-")
    pki = make_pki(workdir)
    name = f"everruns_mtls_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    subprocess.run(["psql", admin, "-q", "-c", f"CREATE DATABASE {name}"], check=True, capture_output=True)
    database_url = f"{admin.rpartition('/')[0]}/{name}"
    port, grpc_port = _free_port(), _free_port()

    inherited = {k: v for k, v in os.environ.items()
                 if k not in ("DEV_MODE", "API_PREFIX", "AUTH_MODE", "LLMSIM_DEMO") and not k.startswith("WORKER_GRPC_")}
    server_env = dict(
        inherited,
        DEPLOYMENT_GRADE="dev",
        DATABASE_URL=database_url,
        SECRETS_ENCRYPTION_KEY="kek-v1:" + base64.b64encode(os.urandom(32)).decode(),
        WORKER_GRPC_AUTH_TOKEN=TOKEN,
        HTTP_ADDR=f"127.0.0.1:{port}",
        WORKER_GRPC_ADDR=f"127.0.0.1:{grpc_port}",
        WORKER_GRPC_TLS_CERT=pki["server.pem"],
        WORKER_GRPC_TLS_KEY=pki["server.key"],
        WORKER_GRPC_TLS_CA_CERT=pki["ca.pem"],
        RUST_LOG="info",
    )
    worker_env = dict(
        inherited,
        WORKER_GRPC_ADDRESS=f"127.0.0.1:{grpc_port}",
        WORKER_GRPC_AUTH_TOKEN=TOKEN,
        WORKER_GRPC_CONNECT_TIMEOUT="3",
        DEPLOYMENT_GRADE="dev",
        WORKER_HEARTBEAT_INTERVAL_MS="300",
        WORKER_TASK_LEASE_SECS="5",
        WORKER_POLL_BACKOFF_MAX_MS="500",
        RUST_LOG="warn",
    )
    server_log = os.path.join(workdir, "server.log")
    with open(server_log, "wb") as log:
        proc = subprocess.Popen([server_bin], env=server_env, stdin=subprocess.DEVNULL, stdout=log,
                                stderr=subprocess.STDOUT)
    deployment = MtlsDeployment(pki, f"http://127.0.0.1:{port}", grpc_port, database_url,
                                {"worker_bin": worker_bin, "worker_env": worker_env}, server_log)
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT
        with httpx.Client(timeout=2.0, trust_env=False) as http:
            while True:
                if proc.poll() is not None:
                    pytest.fail(f"the mTLS server exited with {proc.returncode} before /health answered\n"
                                f"{deployment.diagnostics([])}", pytrace=False)
                try:
                    if http.get(f"{deployment.root}/health").status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline:
                    pytest.fail(f"the mTLS server did not answer /health in {STARTUP_TIMEOUT:.0f}s\n"
                                f"{deployment.diagnostics([])}", pytrace=False)
                time.sleep(0.1)
        yield deployment
    finally:
        for worker in deployment.workers:
            _stop(worker)
            try:
                os.unlink(worker.log_path)
            except OSError:
                pass
        _stop(proc)
        subprocess.run(["psql", admin, "-q", "-c", f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"], capture_output=True)
        shutil.rmtree(workdir, ignore_errors=True)


async def wait_events(api: httpx.AsyncClient, session_id: str, pred: Callable[[list], bool], what: str,
                      diagnostics: Callable[[], str], timeout: float = 30.0) -> list:
    deadline = time.monotonic() + timeout
    while True:
        events = (await api.get(f"v1/sessions/{session_id}/events")).json()["data"]
        if pred(events):
            return events
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}: {[e['type'] for e in events]}\n{diagnostics()}")
        await asyncio.sleep(0.1)


def session_uuid(session_id: str) -> str:
    return str(uuid.UUID(session_id.split("_", 1)[1]))


# ---------------------------------------------------------------------------------------------
# Tests
# ---------------------------------------------------------------------------------------------

# Rejected worker -> (extra environment, what its output must show). The token is right in every
# case: only the transport layer may turn these workers away.
REJECTED = {
    # TLS 1.3: the client finishes its side of the handshake, then the server's alert arrives.
    "no-client-cert": (lambda p: dict(WORKER_GRPC_TLS_CA_CERT=p["ca.pem"]),
                       r"CertificateRequired|certificate required|HandshakeFailure"),
    "rogue-client-cert": (lambda p: dict(WORKER_GRPC_TLS_CA_CERT=p["ca.pem"], WORKER_GRPC_TLS_CERT=p["rogue-client.pem"],
                                         WORKER_GRPC_TLS_KEY=p["rogue-client.key"]),
                          r"UnknownCA|unknown ?ca|BadCertificate|DecryptError"),
    # No CA configured: plain h2c against the TLS port.
    "plaintext": (lambda p: {},
                  r"broken pipe|connection closed|connection reset|FRAME_SIZE_ERROR|h2 protocol error|cannot connect"),
}


@pytest.mark.asyncio
async def test_only_a_worker_with_a_client_certificate_from_the_ca_runs_turns(mtls: MtlsDeployment):
    sdk = Everruns(api_key=API_KEY, base_url=mtls.base_url)
    api = httpx.AsyncClient(base_url=mtls.base_url + "/", headers={"Authorization": API_KEY}, timeout=30.0,
                            trust_env=False)
    try:
        echo = await model_id_for(sdk, "llmsim-echo")
        session = (await api.post("v1/sessions", json={"model_id": echo})).json()["id"]
        text = f"over mutual TLS {uuid.uuid4().hex[:8]}"
        message = await sdk.messages.create(session, text)

        # The turn's first iteration task is waiting in the queue before any worker exists.
        task_sql = (f"SELECT status || ',' || attempts || ',' || coalesce(lease_owner, '') FROM iteration_tasks "
                    f"WHERE session_id = '{session_uuid(session)}' AND iteration = 1")
        deadline = time.monotonic() + 10
        while not mtls.psql(task_sql):
            assert time.monotonic() < deadline, f"no iteration task was queued\n{mtls.diagnostics()}"
            await asyncio.sleep(0.1)
        assert mtls.psql(task_sql) == "pending,0,", mtls.psql(task_sql)

        # Only the rejected workers run: each must try (and fail) several times on the TLS layer.
        rejected = {name: (mtls.worker(name, **env(mtls.pki)), pattern) for name, (env, pattern) in REJECTED.items()}
        started = time.monotonic()
        deadline = started + 20

        def evidence(name: str) -> Optional[str]:
            proc, pattern = rejected[name]
            output = _log(proc.log_path)
            if not re.search(pattern, output, re.IGNORECASE):
                return None
            if proc.poll() is not None:
                assert proc.returncode != 0, f"{name} exited with 0\n{mtls.diagnostics([proc])}"
                return f"exited with {proc.returncode}"
            failures = output.count("claiming tasks failed")
            return f"{failures} failed claims" if failures >= 3 else None

        while True:
            state = mtls.psql(task_sql)
            assert state == "pending,0,", f"a rejected worker claimed the task: {state}\n{mtls.diagnostics()}"
            seen = {name: evidence(name) for name in rejected}
            if all(seen.values()) and time.monotonic() - started >= REJECTION_WINDOW:
                break
            assert time.monotonic() < deadline, (
                f"rejected workers did not show a TLS failure within 20 s: {seen}\n"
                f"{mtls.diagnostics([p for p, _ in rejected.values()])}")
            await asyncio.sleep(0.2)

        events = (await api.get(f"v1/sessions/{session}/events")).json()["data"]
        # `turn.started` is written when the message is accepted; everything after it needs a worker.
        processed = [e["type"] for e in events
                     if (e["type"].startswith(("turn.", "reason.", "output.", "llm.", "tool.")) and e["type"] != "turn.started")
                     or e["type"] == "session.idled"]
        assert not processed, f"a rejected worker ran the turn: {processed}\n{mtls.diagnostics()}"
        assert mtls.psql(task_sql) == "pending,0,", (
            f"a rejected worker touched the task: {mtls.psql(task_sql)} ({seen})\n{mtls.diagnostics()}")

        # A worker with the CA's client certificate (bare host:port: https because a CA is set,
        # the server checked against its IP SAN) now runs the same turn.
        good = mtls.worker("good", **mtls.good_worker_env())
        events = await wait_events(
            api, session,
            lambda ev: any(e["type"] == "turn.completed" for e in ev), "the turn on the worker with a valid certificate",
            lambda: mtls.diagnostics())
        types = [e["type"] for e in events]
        completed = [e for e in events if e["type"] == "output.message.completed"]
        assert len(completed) == 1 and types.index("output.message.completed") < types.index("turn.completed"), types
        assert (completed[0]["data"]["message"]["content"][0]["text"]) == f"Echo: {text}"
        started_events = [e for e in events if e["type"] == "turn.started"]
        assert started_events and started_events[0]["data"]["input_message_id"] == message.id
        status, attempts, _ = mtls.psql(task_sql).split(",")
        assert (status, attempts) == ("completed", "1"), f"claimed once, by the good worker: {mtls.psql(task_sql)}"
        assert good.poll() is None, mtls.diagnostics([good])
        for name, (proc, _) in rejected.items():
            assert proc.poll() is None or proc.returncode != 0, name
            _stop(proc)

        # The server name can also be given explicitly (its DNS SAN), with an https:// address.
        _stop(good)
        named = mtls.worker("good-named", **mtls.good_worker_env(
            WORKER_GRPC_ADDRESS=f"https://127.0.0.1:{mtls.grpc_port}", WORKER_GRPC_TLS_DOMAIN="localhost"))
        second = await sdk.messages.create(session, "and once more")
        events = await wait_events(
            api, session,
            lambda ev: any(e["type"] == "turn.started" and e["data"].get("input_message_id") == second.id for e in ev)
            and sum(e["type"] == "turn.completed" for e in ev) == 2,
            "the second turn on the worker addressing the server as localhost", lambda: mtls.diagnostics([named]))
        last = [e for e in events if e["type"] == "output.message.completed"][-1]
        assert last["data"]["message"]["content"][0]["text"] == "Echo: and once more"
        assert named.poll() is None, mtls.diagnostics([named])
    finally:
        await api.aclose()
        await sdk.close()


def test_a_worker_refuses_a_server_it_cannot_verify(mtls: MtlsDeployment):
    """Mutual: the worker checks the server too (its CA, and the name it expects)."""
    cases = {
        "trusts-rogue-ca": (mtls.good_worker_env(WORKER_GRPC_TLS_CA_CERT=mtls.pki["rogue-ca.pem"]),
                            r"UnknownIssuer|unknown issuer"),
        "wrong-name": (mtls.good_worker_env(WORKER_GRPC_TLS_DOMAIN="not-localhost.example"),
                       r"not valid for name|NotValidForName"),
    }
    procs = {name: mtls.worker(name, WORKER_GRPC_CONNECT_TIMEOUT="2", **env) for name, (env, _) in cases.items()}
    for name, proc in procs.items():
        try:
            code = proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"{name}: a worker that cannot verify the server kept running\n"
                                 f"{mtls.diagnostics([proc])}") from None
        output = _log(proc.log_path)
        assert code != 0, output
        assert "cannot connect to the control plane" in output, output
        assert re.search(cases[name][1], output, re.IGNORECASE), output
