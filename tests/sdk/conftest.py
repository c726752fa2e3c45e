"""System tests: drive the real server binary with the official Python SDK (everruns-sdk 0.3.1).

The session-scoped ``server`` fixture starts the binary named by ``EVERRUNS_SERVER_BIN`` on a free
127.0.0.1 port (DEV_MODE, 2 s SSE heartbeats, 5 SSE connections per session) and stops it at the
end. ``client`` is the SDK's ``Everruns`` management client pointed at ``http://127.0.0.1:<port>/api``;
``api`` is a raw ``httpx`` client on the same base for what the SDK hides (status codes, headers,
SSE framing).

Helpers used by the test modules live here too (``from conftest import ...``).
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import json
import logging
import os
import re
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Optional

import httpx
import pytest
import pytest_asyncio
from everruns_sdk import Everruns
from everruns_sdk.models import Event, Message

# Generous waits: a loaded 2-core machine must not flake.
WAIT = 20.0
LONG_WAIT = 30.0
API_KEY = "fake-key"
STARTUP_TIMEOUT = 60.0

EPHEMERAL_TYPES = {
    "output.message.delta",
    "reason.thinking.delta",
    "tool.output.delta",
    "voice.input_transcript.delta",
    "voice.output_transcript.delta",
}
# With NATS_URL (the server inherits this environment), `llm.generation` is live only as well.
WITH_NATS = bool(os.environ.get("NATS_URL"))
if WITH_NATS:
    EPHEMERAL_TYPES = EPHEMERAL_TYPES | {"llm.generation"}

ID_RE = {
    prefix: re.compile(rf"^{prefix}_[0-9a-f]{{32}}$")
    for prefix in ("agent", "harness", "session", "message", "event", "turn", "provider", "model", "org")
}

# Everything stays on loopback: never route 127.0.0.1 through a proxy from the environment
# (the SDK builds its httpx clients with trust_env=True).
_no_proxy = [p for p in os.environ.get("NO_PROXY", os.environ.get("no_proxy", "")).split(",") if p]
for _host in ("127.0.0.1", "localhost"):
    if _host not in _no_proxy:
        _no_proxy.append(_host)
os.environ["NO_PROXY"] = os.environ["no_proxy"] = ",".join(_no_proxy)
# Every server started here inherits an instant simulator (the binary's own default is a provider-like pace).
os.environ.setdefault("LLMSIM_TTFT_MS", "0"); os.environ.setdefault("LLMSIM_TOKEN_MS", "0")


def pytest_configure(config: pytest.Config) -> None:
    # messages.create / sessions.create warn once that AgentClient is preferred; the management
    # client is exactly what these tests exercise.
    config.addinivalue_line("filterwarnings", r"ignore:Everruns\.:DeprecationWarning")


# ---------------------------------------------------------------------------------------------
# Server process
# ---------------------------------------------------------------------------------------------


@dataclass
class ServerInfo:
    root: str  # http://127.0.0.1:<port>
    base_url: str  # http://127.0.0.1:<port>/api
    port: int
    log_path: str
    proc: subprocess.Popen

    def log_tail(self, limit: int = 6000) -> str:
        try:
            with open(self.log_path, "rb") as fh:
                data = fh.read()
        except OSError as exc:
            return f"<cannot read {self.log_path}: {exc}>"
        return data[-limit:].decode("utf-8", "replace")


_SERVER: Optional[ServerInfo] = None
# Durable mode only: the database, the server's environment and the worker processes, for the
# tests that kill workers, restart the server or dump the database.
DURABLE: Optional[dict] = None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)


@contextlib.contextmanager
def extra_server(prefix: str, **overrides: str):
    """Another server process beside the suite's (its own settings, e.g. AUTH_MODE=api_key): DEV_MODE,
    or in durable mode on the suite's database (the suite's workers run its turns). Yields its root
    URL (``http://127.0.0.1:<port>``)."""
    env = dict(DURABLE["server_env"]) if DURABLE else dict(os.environ, DEV_MODE="true", RUST_LOG="warn")
    for inherited in ("API_PREFIX", "AUTH_MODE", "AUTH_BASE_URL", "LLMSIM_DEMO"):
        env.pop(inherited, None)
    port = _free_port()
    env.update(HTTP_ADDR=f"127.0.0.1:{port}", WORKER_GRPC_ADDR=f"127.0.0.1:{_free_port()}", **overrides)
    binary = DURABLE["server_bin"] if DURABLE else os.environ["EVERRUNS_SERVER_BIN"]
    log = tempfile.NamedTemporaryFile(prefix=f"everruns-{prefix}-", suffix=".log", delete=False)
    proc = subprocess.Popen([binary], env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
    log.close()
    root = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + STARTUP_TIMEOUT
    try:
        while True:
            assert proc.poll() is None, open(log.name).read()[-4000:]
            try:
                if httpx.get(f"{root}/health", timeout=2.0, trust_env=False).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, f"the {prefix} server did not start"
            time.sleep(0.1)
        yield root
    finally:
        _stop(proc)
        os.unlink(log.name)


def _durable_setup(env: dict) -> Optional[dict]:
    """With EVERRUNS_TEST_MODE=durable: PostgreSQL storage (a fresh database) and workers over gRPC."""
    if os.environ.get("EVERRUNS_TEST_MODE") != "durable":
        return None
    admin = os.environ.get("EVERRUNS_TEST_DATABASE_URL")
    worker_bin = os.environ.get("EVERRUNS_WORKER_BIN")
    if not admin or not worker_bin:
        pytest.fail("durable mode needs EVERRUNS_TEST_DATABASE_URL and EVERRUNS_WORKER_BIN", pytrace=False)
    name = f"everruns_sdk_{os.getpid()}_{int(time.time())}"
    subprocess.run(["psql", admin, "-q", "-c", f"CREATE DATABASE {name}"], check=True, capture_output=True)
    base, _, _ = admin.rpartition("/")
    grpc_port = _free_port()
    token = "sdk-test-token"
    import base64
    env.pop("DEV_MODE", None)
    env.update(
        DEPLOYMENT_GRADE="dev",
        DATABASE_URL=f"{base}/{name}",
        SECRETS_ENCRYPTION_KEY="kek-v1:" + base64.b64encode(os.urandom(32)).decode(),
        WORKER_GRPC_AUTH_TOKEN=token,
        WORKER_GRPC_ADDR=f"127.0.0.1:{grpc_port}",
    )
    worker_env = dict(os.environ)
    worker_env.update(
        WORKER_GRPC_ADDRESS=f"127.0.0.1:{grpc_port}",
        WORKER_GRPC_AUTH_TOKEN=token,
        DEPLOYMENT_GRADE="dev",
        WORKER_HEARTBEAT_INTERVAL_MS="300",
        WORKER_TASK_LEASE_SECS="5",
        RUST_LOG="warn",
    )
    return {"admin": admin, "name": name, "worker_bin": worker_bin, "worker_env": worker_env,
            "database_url": f"{base}/{name}", "grpc_port": grpc_port}


def start_worker(durable: dict, worker_id: str, **overrides: str) -> subprocess.Popen:
    """Starts one worker process (its output goes to a temp file named in `proc.log_path`)."""
    env = dict(durable["worker_env"], WORKER_ID=worker_id, **overrides)
    log = tempfile.NamedTemporaryFile(prefix=f"{worker_id}-", suffix=".log", delete=False)
    proc = subprocess.Popen([durable["worker_bin"]], env=env, stdin=subprocess.DEVNULL, stdout=log,
                            stderr=subprocess.STDOUT)
    proc.log_path = log.name  # type: ignore[attr-defined]
    proc.worker_id = worker_id  # type: ignore[attr-defined]
    log.close()
    return proc


def _start_workers(durable: Optional[dict]) -> list:
    if durable is None:
        return []
    return [start_worker(durable, f"sdk-worker-{i}") for i in range(2)]


def _durable_teardown(durable: Optional[dict]) -> None:
    if durable is not None:
        subprocess.run(["psql", durable["admin"], "-q", "-c", f"DROP DATABASE IF EXISTS {durable['name']} WITH (FORCE)"],
                       capture_output=True)


@pytest.fixture(scope="session")
def server() -> Iterable[ServerInfo]:
    global _SERVER
    if os.environ.get("EVERRUNS_TEST_MODE") == "split":
        # The serverless split started by scripts/split-up: REST through the API function, SSE
        # through the bridge, both behind the one URL it printed.
        api = os.environ.get("EVERRUNS_API_URL")
        if not api:
            pytest.fail("split mode needs EVERRUNS_API_URL (printed by scripts/split-up)", pytrace=False)
        root = api.rstrip("/").removesuffix("/api")
        state = os.environ.get("EVERRUNS_SPLIT_STATE", os.path.join(tempfile.gettempdir(), "everruns-split"))
        info = ServerInfo(root=root, base_url=api.rstrip("/"), port=int(root.rsplit(":", 1)[1]),
                          log_path=os.path.join(state, "watch.log"), proc=None)  # type: ignore[arg-type]
        _SERVER = info
        try:
            yield info
        finally:
            _SERVER = None
        return
    binary = os.environ.get("EVERRUNS_SERVER_BIN")
    if not binary:
        pytest.fail(
            "EVERRUNS_SERVER_BIN is not set: export it as the path of the built server binary, "
            "e.g. EVERRUNS_SERVER_BIN=$PWD/target/release/everruns-server",
            pytrace=False,
        )
    if not (os.path.isfile(binary) and os.access(binary, os.X_OK)):
        pytest.fail(f"EVERRUNS_SERVER_BIN={binary!r} is not an executable file", pytrace=False)

    port = _free_port()
    env = dict(os.environ)
    for inherited in ("API_PREFIX", "AUTH_MODE", "LLMSIM_DEMO"):  # keep the defaults the tests expect
        env.pop(inherited, None)
    env.update(
        DEV_MODE="true",
        HTTP_ADDR=f"127.0.0.1:{port}",
        SSE_HEARTBEAT_INTERVAL_SECS="2",
        SSE_PER_SESSION_MAX="5",
        RUST_LOG="warn",
    )
    durable = _durable_setup(env)
    if durable is not None:
        durable["server_env"] = dict(env)
        durable["server_bin"] = binary
    log = tempfile.NamedTemporaryFile(prefix="everruns-server-", suffix=".log", delete=False)
    proc = subprocess.Popen(
        [binary], env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT
    )
    log.close()
    workers = _start_workers(durable)
    global DURABLE
    if durable is not None:
        durable["workers"] = workers
        DURABLE = durable
    root = f"http://127.0.0.1:{port}"
    info = ServerInfo(root=root, base_url=f"{root}/api", port=port, log_path=log.name, proc=proc)

    deadline = time.monotonic() + STARTUP_TIMEOUT
    last_error = "no answer yet"
    with httpx.Client(timeout=2.0, trust_env=False) as http:
        while True:
            code = proc.poll()
            if code is not None:
                pytest.fail(
                    f"server exited early with code {code} before /health answered.\n"
                    f"--- server output ({log.name}) ---\n{info.log_tail()}",
                    pytrace=False,
                )
            try:
                resp = http.get(f"{root}/health")
                if resp.status_code == 200:
                    break
                last_error = f"HTTP {resp.status_code}: {resp.text[:200]}"
            except httpx.HTTPError as exc:
                last_error = repr(exc)
            if time.monotonic() > deadline:
                _stop(proc)
                pytest.fail(
                    f"GET {root}/health did not answer 200 within {STARTUP_TIMEOUT:.0f}s "
                    f"(last: {last_error}).\n--- server output ---\n{info.log_tail()}",
                    pytrace=False,
                )
            time.sleep(0.1)

    _SERVER = info
    try:
        yield info
    finally:
        _SERVER = None
        for worker in (durable or {}).get("workers", workers):
            _stop(worker)
        _stop(proc)
        _durable_teardown(durable)
        try:
            os.unlink(log.name)
        except OSError:
            pass


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    outcome = yield
    report = outcome.get_result()
    if report.failed and _SERVER is not None:
        report.sections.append(("server output (tail)", _SERVER.log_tail(4000)))


@pytest.fixture(scope="session")
def base_url(server: ServerInfo) -> str:
    return server.base_url


# ---------------------------------------------------------------------------------------------
# Clients
# ---------------------------------------------------------------------------------------------


@pytest_asyncio.fixture
async def client(base_url: str):
    """The official SDK management client (constructor: Everruns(api_key, base_url, org_id))."""
    sdk = Everruns(api_key=API_KEY, base_url=base_url)
    try:
        yield sdk
    finally:
        await sdk.close()


@pytest_asyncio.fixture
async def api(base_url: str):
    """Raw HTTP on the same base as the SDK (``v1/...`` paths), same raw Authorization header."""
    async with httpx.AsyncClient(
        base_url=base_url.rstrip("/") + "/",
        headers={"Authorization": API_KEY},
        timeout=httpx.Timeout(30.0),
        trust_env=False,
    ) as http:
        yield http


class ResponseRecorder:
    """Records every response the SDK's own HTTP client receives (method, path, status, JSON)."""

    def __init__(self) -> None:
        self.responses: list[httpx.Response] = []

    async def hook(self, response: httpx.Response) -> None:
        await response.aread()
        self.responses.append(response)

    def last(self, method: str, path_suffix: str) -> httpx.Response:
        for resp in reversed(self.responses):
            if resp.request.method == method and resp.request.url.path.endswith(path_suffix):
                return resp
        raise AssertionError(f"the SDK sent no {method} …{path_suffix}")


@pytest.fixture
def recorder(client: Everruns) -> ResponseRecorder:
    """Hooks the SDK client's internal httpx client (``Everruns._client``) to see raw responses
    of SDK methods that discard the body (e.g. ``sessions.cancel`` returns None)."""
    rec = ResponseRecorder()
    hooks = client._client.event_hooks
    client._client.event_hooks = {
        "request": list(hooks.get("request", [])),
        "response": list(hooks.get("response", [])) + [rec.hook],
    }
    return rec


# ---------------------------------------------------------------------------------------------
# Small helpers
# ---------------------------------------------------------------------------------------------


def text_of(message: Any) -> str:
    """Concatenated text parts of a Message model or a message dict."""
    if message is None:
        return ""
    if isinstance(message, Message):
        parts = [p.model_dump() for p in message.content]
    else:
        parts = message.get("content") or []
    return "".join(p.get("text") or "" for p in parts if p.get("type") == "text")


def event_text(event: Event) -> str:
    """Text of the message carried by an ``output.message.completed`` / ``input.message`` event."""
    return text_of((event.data or {}).get("message"))


def assert_json_error(resp: httpx.Response, status: Optional[int] = None) -> dict:
    """The response is a JSON error body with ``error.code`` and ``error.message`` strings."""
    if status is not None:
        assert resp.status_code == status, f"expected {status}, got {resp.status_code}: {resp.text[:500]}"
    ctype = resp.headers.get("content-type", "")
    assert "json" in ctype, f"error body must be JSON, got content-type {ctype!r}: {resp.text[:300]}"
    body = resp.json()
    assert isinstance(body, dict), body
    err = body.get("error")
    assert isinstance(err, dict), f"body lacks an error object: {body}"
    assert isinstance(err.get("code"), str) and err["code"], f"error.code missing: {body}"
    assert isinstance(err.get("message"), str) and err["message"], f"error.message missing: {body}"
    return body


async def model_id_for(client: Everruns, wire_model_id: str) -> str:
    """The ``model_…`` id of the model whose wire ``model_id`` is ``wire_model_id``."""
    models = await client.models.list()
    for model in models:
        if model.model_id == wire_model_id:
            assert ID_RE["model"].match(model.id), model.id
            return model.id
    raise AssertionError(f"no model with model_id {wire_model_id!r}; have {[m.model_id for m in models]}")


async def wait_session_status(client: Everruns, session_id: str, status: str, timeout: float = WAIT) -> None:
    """Polls GET /v1/sessions/{id} (no event exists for a status flip) until ``status``."""
    deadline = time.monotonic() + timeout
    seen = None
    while True:
        seen = (await client.sessions.get(session_id)).status
        if seen == status:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"session {session_id} status stayed {seen!r}, expected {status!r}")
        await asyncio.sleep(0.1)


def uuid7_event_id(unix_ms: int) -> str:
    """A syntactically valid ``event_<32 hex>`` UUIDv7 with the given millisecond timestamp and
    all random bits set, so it sorts after every real v7 id of the same millisecond."""
    return f"event_{unix_ms:012x}7fffbfffffffffffffff"


def types_of(events: Iterable[Event]) -> list[str]:
    return [e.type for e in events]


def index_of(events: list[Event], pred: Callable[[Event], bool], what: str, start: int = 0) -> int:
    for i in range(start, len(events)):
        if pred(events[i]):
            return i
    raise AssertionError(f"no {what} (from index {start}) in {types_of(events)}")


# ---------------------------------------------------------------------------------------------
# SDK event stream collector
# ---------------------------------------------------------------------------------------------

# The SDK swallows the `connected` record; it logs "SSE connected event received" on the
# `everruns_sdk.sse` logger when it sees one. A contextvar routes that log record to the collector
# whose background task is iterating, so a test can wait until the server has accepted the stream
# before it posts a message (without since_id the server sends only live events).
_CURRENT_COLLECTOR: contextvars.ContextVar[Optional["EventCollector"]] = contextvars.ContextVar(
    "everruns_collector", default=None
)
CONNECTED = "<connected>"


class _SdkSseLogHandler(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        collector = _CURRENT_COLLECTOR.get()
        if collector is None:
            return
        try:
            message = record.getMessage()
        except Exception:  # pragma: no cover - defensive
            return
        collector._on_log(message)


_sse_logger = logging.getLogger("everruns_sdk.sse")
_sse_logger.setLevel(logging.DEBUG)
_sse_logger.addHandler(_SdkSseLogHandler(level=logging.DEBUG))


class EventCollector:
    """Consumes ``client.events.stream(...)`` (the SDK's EventStream) in a background task.

    ``timeline`` holds event types in arrival order plus a ``<connected>`` marker each time the
    SDK processed a ``connected`` record. ``events`` holds the Event models the SDK yielded.
    """

    def __init__(self, client: Everruns, session_id: str, **stream_kwargs: Any) -> None:
        self.client = client
        self.session_id = session_id
        self.stream = client.events.stream(session_id, **stream_kwargs)
        self.events: list[Event] = []
        self.timeline: list[str] = []
        self.sdk_log: list[str] = []
        self.connected_count = 0
        self.error: Optional[BaseException] = None
        self.done = False
        self._changed = asyncio.Event()
        self._task: Optional[asyncio.Task] = None

    # -- lifecycle ---------------------------------------------------------------------------

    async def __aenter__(self) -> "EventCollector":
        await self.start()
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.close()

    async def start(self, wait_connected: bool = True, timeout: float = WAIT) -> None:
        self._task = asyncio.create_task(self._run())
        if wait_connected:
            await self.wait_connected(timeout)

    async def _run(self) -> None:
        _CURRENT_COLLECTOR.set(self)
        agen = self.stream.__aiter__()
        try:
            async for event in agen:
                self.events.append(event)
                self.timeline.append(event.type)
                self._changed.set()
        except BaseException as exc:  # noqa: BLE001 - reported to the waiting test
            self.error = exc
            if isinstance(exc, asyncio.CancelledError):
                raise
        finally:
            self.done = True
            self._changed.set()
            await agen.aclose()

    def _on_log(self, message: str) -> None:
        self.sdk_log.append(message)
        if message == "SSE connected event received":
            self.connected_count += 1
            self.timeline.append(CONNECTED)
        self._changed.set()

    async def close(self) -> None:
        self.stream.stop()
        if self._task is not None and not self._task.done():
            self._task.cancel()
            try:
                await self._task
            except (asyncio.CancelledError, Exception):
                pass
        await self.stream.aclose()

    # -- waiting -----------------------------------------------------------------------------

    def describe(self) -> str:
        tail = "; ".join(self.sdk_log[-5:])
        return f"received {self.timeline} (stream error: {self.error!r}; sdk log: {tail})"

    async def _wait_change(self, deadline: float, what: str) -> None:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise AssertionError(f"timed out waiting for {what}: {self.describe()}")
        try:
            await asyncio.wait_for(self._changed.wait(), remaining)
        except asyncio.TimeoutError:
            raise AssertionError(f"timed out waiting for {what}: {self.describe()}") from None

    async def wait_connected(self, timeout: float = WAIT) -> None:
        deadline = time.monotonic() + timeout
        while self.connected_count == 0:
            if self.done:
                raise AssertionError(f"SSE stream ended before `connected`: {self.describe()}")
            self._changed.clear()
            await self._wait_change(deadline, "the SSE `connected` record")

    async def wait_for(
        self,
        pred: Callable[[Event], bool],
        what: str = "event",
        timeout: float = WAIT,
        start: int = 0,
    ) -> Event:
        """First event at index >= ``start`` matching ``pred``."""
        deadline = time.monotonic() + timeout
        idx = start
        while True:
            while idx < len(self.events):
                event = self.events[idx]
                idx += 1
                if pred(event):
                    return event
            if self.done:
                raise AssertionError(f"SSE stream ended before {what}: {self.describe()}")
            self._changed.clear()
            await self._wait_change(deadline, what)

    async def wait_type(
        self,
        event_type: str,
        pred: Optional[Callable[[Event], bool]] = None,
        timeout: float = WAIT,
        start: int = 0,
    ) -> Event:
        return await self.wait_for(
            lambda e: e.type == event_type and (pred is None or pred(e)),
            what=f"`{event_type}`",
            timeout=timeout,
            start=start,
        )

    async def wait_idle_after(self, turn_id: Optional[str], timeout: float = WAIT) -> Event:
        """The ``session.idled`` that closes ``turn_id`` (any idled when turn_id is None)."""
        return await self.wait_type(
            "session.idled",
            pred=lambda e: turn_id is None or (e.data or {}).get("turn_id") == turn_id,
            timeout=timeout,
        )


async def post_and_wait_turn(
    client: Everruns,
    collector: EventCollector,
    text: str,
    *,
    controls: Any = None,
    timeout: float = WAIT,
) -> tuple[Message, str, Event]:
    """Posts a user message through the SDK and waits for its turn to end with ``session.idled``.

    Returns (stored user message, turn_id, the session.idled event)."""
    start = len(collector.events)
    message = await client.messages.create(collector.session_id, text, controls=controls)
    started = await collector.wait_type(
        "turn.started",
        pred=lambda e: (e.data or {}).get("input_message_id") == message.id,
        timeout=timeout,
        start=start,
    )
    turn_id = started.data["turn_id"]
    idled = await collector.wait_idle_after(turn_id, timeout=timeout)
    return message, turn_id, idled


# ---------------------------------------------------------------------------------------------
# Raw SSE (httpx streaming) for framing-level checks
# ---------------------------------------------------------------------------------------------


@dataclass
class SseRecord:
    event: Optional[str] = None
    data_lines: list[str] = field(default_factory=list)
    id: Optional[str] = None
    retry: Optional[int] = None
    comments: list[str] = field(default_factory=list)

    @property
    def data(self) -> str:
        return "\n".join(self.data_lines)

    def json(self) -> Any:
        return json.loads(self.data)

    @property
    def dispatches(self) -> bool:
        # Per the SSE spec a block without data is not an event (e.g. a lone `retry:` hint).
        return bool(self.data_lines) or self.event is not None


class SseTimeout(AssertionError):
    """Nothing arrived on a raw SSE connection in time."""


class RawSse:
    """One raw SSE connection. ``next_item`` returns either ``("comment", text)`` for a ``:`` line
    or ``("record", SseRecord)`` for a dispatched record (blank-line terminated). A background task
    pumps lines into a queue, so a timed-out wait never damages the stream."""

    _EOF = object()

    def __init__(self, http: httpx.AsyncClient, url: str, params: Any = None) -> None:
        self._http = http
        self._url = url
        self._params = params
        self._cm: Any = None
        self.response: Optional[httpx.Response] = None
        self._queue: asyncio.Queue = asyncio.Queue()
        self._pump: Optional[asyncio.Task] = None
        self._pending: list[tuple[str, Any]] = []
        self._record = SseRecord()
        self._eof = False
        self.history: list[str] = []  # every line read, for failure messages

    async def open(self) -> httpx.Response:
        self._cm = self._http.stream(
            "GET",
            self._url,
            params=self._params,
            headers={"Accept": "text/event-stream", "Cache-Control": "no-cache"},
            timeout=httpx.Timeout(30.0, read=None),
        )
        self.response = await self._cm.__aenter__()
        return self.response

    async def _pump_lines(self) -> None:
        assert self.response is not None
        try:
            async for line in self.response.aiter_lines():
                self._queue.put_nowait(line)
        except Exception as exc:  # noqa: BLE001 - surfaced as end of stream
            self._queue.put_nowait(exc)
        finally:
            self._queue.put_nowait(self._EOF)

    async def aclose(self) -> None:
        if self._pump is not None:
            self._pump.cancel()
            try:
                await self._pump
            except (asyncio.CancelledError, Exception):
                pass
            self._pump = None
        if self._cm is not None:
            cm, self._cm = self._cm, None
            try:
                await cm.__aexit__(None, None, None)
            except Exception:
                pass

    async def __aenter__(self) -> "RawSse":
        await self.open()
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.aclose()

    async def read_body(self) -> bytes:
        assert self.response is not None
        return await self.response.aread()

    def _feed(self, line: str) -> None:
        if line == "":
            rec = self._record
            self._record = SseRecord()
            if rec.dispatches:
                self._pending.append(("record", rec))
            return
        if line.startswith(":"):
            text = line[1:].strip()
            self._record.comments.append(text)
            self._pending.append(("comment", text))
            return
        name, _, value = line.partition(":")
        if value.startswith(" "):
            value = value[1:]
        if name == "event":
            self._record.event = value
        elif name == "data":
            self._record.data_lines.append(value)
        elif name == "id":
            self._record.id = value
        elif name == "retry":
            try:
                self._record.retry = int(value)
            except ValueError:
                pass

    async def next_item(self, timeout: float = WAIT) -> tuple[str, Any]:
        """Next comment or record; raises ``SseTimeout`` after ``timeout`` seconds."""
        assert self.response is not None, "open() first"
        if self._pump is None:
            self._pump = asyncio.create_task(self._pump_lines())
        deadline = time.monotonic() + timeout
        while not self._pending:
            if self._eof:
                raise AssertionError("SSE connection closed by the server")
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise SseTimeout(self._timeout_message(timeout))
            try:
                line = await asyncio.wait_for(self._queue.get(), remaining)
            except asyncio.TimeoutError:
                raise SseTimeout(self._timeout_message(timeout)) from None
            if line is self._EOF:
                self._eof = True
                continue
            if isinstance(line, Exception):
                raise AssertionError(f"SSE connection failed: {line!r}")
            self.history.append(line)
            self._feed(line.rstrip("\r\n"))
        return self._pending.pop(0)

    def _timeout_message(self, timeout: float) -> str:
        return (
            f"nothing more on the SSE stream {self._url} within {timeout:.1f}s; "
            f"lines so far: {self.history[-12:]}"
        )

    async def next_record(self, timeout: float = WAIT) -> SseRecord:
        deadline = time.monotonic() + timeout
        while True:
            kind, item = await self.next_item(max(0.0, deadline - time.monotonic()))
            if kind == "record":
                return item


def sse_path(session_id: str) -> str:
    return f"v1/sessions/{session_id}/sse"
