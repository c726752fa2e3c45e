"""Durable mode only (EVERRUNS_TEST_MODE=durable): the server on PostgreSQL with two workers over
gRPC. A worker killed mid-turn, workers with a wrong or missing token, a second server process on
the same database, and the provider key absent from a database dump."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import time
import uuid

import httpx
import pytest

import conftest
from conftest import model_id_for, start_worker

durable_only = pytest.mark.skipif(os.environ.get("EVERRUNS_TEST_MODE") != "durable", reason="durable mode only")
pytestmark = [durable_only]


def psql(sql: str) -> str:
    out = subprocess.run(["psql", conftest.DURABLE["database_url"], "-At", "-c", sql],
                         capture_output=True, text=True, check=True)
    return out.stdout.strip()


def session_uuid(session_id: str) -> str:
    return str(uuid.UUID(session_id.split("_", 1)[1]))


async def wait_events(api: httpx.AsyncClient, session_id: str, pred, what: str, timeout: float = 45.0) -> list:
    deadline = time.monotonic() + timeout
    while True:
        events = (await api.get(f"v1/sessions/{session_id}/events")).json()["data"]
        if pred(events):
            return events
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}: {[e['type'] for e in events]}")
        await asyncio.sleep(0.1)


def count(events: list, event_type: str) -> int:
    return sum(1 for e in events if e["type"] == event_type)


@pytest.mark.asyncio
async def test_a_worker_killed_mid_turn_is_replaced_and_the_turn_completes_once(server, api, client):
    slow = await model_id_for(client, "llmsim-slow")
    session = (await api.post("v1/sessions", json={"model_id": slow})).json()["id"]
    body = {"message": {"role": "user", "content": [{"type": "text", "text": "tell me a long story"}]}}
    assert (await api.post(f"v1/sessions/{session}/messages", json=body)).status_code == 201
    await wait_events(api, session, lambda ev: count(ev, "output.message.started") == 1, "the iteration to start")

    owner = ""
    for _ in range(50):
        owner = psql(f"SELECT lease_owner FROM iteration_tasks WHERE session_id = '{session_uuid(session)}' AND status = 'claimed'")
        if owner:
            break
        time.sleep(0.1)
    victims = [w for w in conftest.DURABLE["workers"] if getattr(w, "worker_id", None) == owner]
    assert victims, f"the task's lease owner {owner!r} is not one of the test's workers"
    victims[0].send_signal(signal.SIGKILL)
    victims[0].wait(timeout=10)
    conftest.DURABLE["workers"].remove(victims[0])
    try:
        events = await wait_events(api, session, lambda ev: count(ev, "session.idled") == 1, "the turn to finish on the other worker")
    finally:
        conftest.DURABLE["workers"].append(start_worker(conftest.DURABLE, f"sdk-worker-replacement-{os.getpid()}"))

    assert count(events, "turn.completed") == 1, [e["type"] for e in events]
    assert count(events, "output.message.completed") == 1, "one output.message.completed per iteration"
    assert count(events, "reason.started") == 1 and count(events, "output.message.started") == 1, "no duplicate persisted event"
    assert count(events, "llm.generation") == (0 if conftest.WITH_NATS else 1), "stored once (live only with NATS)"
    sequences = [e["sequence"] for e in events]
    assert sequences == list(range(1, len(events) + 1)), "gap-free sequence, nothing stored twice"
    attempts = psql(f"SELECT attempts FROM iteration_tasks WHERE session_id = '{session_uuid(session)}' AND iteration = 1")
    assert attempts == "2", f"the task was reclaimed once (attempts={attempts})"


@pytest.mark.parametrize("token, message", [("wrong-token", "invalid worker token"), ("", "missing worker token")])
def test_a_worker_with_a_wrong_or_missing_token_is_rejected(server, token, message):
    overrides = {"WORKER_GRPC_AUTH_TOKEN": token}
    proc = start_worker(conftest.DURABLE, f"intruder-{uuid.uuid4().hex[:8]}", **overrides)
    try:
        code = proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise AssertionError("a worker with a bad token kept running")
    output = open(proc.log_path).read()
    assert code != 0, output
    assert message in output, output


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.asyncio
async def test_a_second_server_process_sees_everything(server, api):
    agent = (await api.post("v1/agents", json={"name": f"durable-{uuid.uuid4().hex[:8]}", "system_prompt": "p"})).json()
    session = (await api.post("v1/sessions", json={"agent_id": agent["id"]})).json()["id"]
    body = {"message": {"role": "user", "content": [{"type": "text", "text": "remember me"}]}}
    await api.post(f"v1/sessions/{session}/messages", json=body)
    events = await wait_events(api, session, lambda ev: count(ev, "session.idled") == 1, "the turn")

    port = _free_port()
    env = dict(conftest.DURABLE["server_env"], HTTP_ADDR=f"127.0.0.1:{port}", WORKER_GRPC_ADDR=f"127.0.0.1:{_free_port()}")
    proc = subprocess.Popen([conftest.DURABLE["server_bin"]], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}/api/", trust_env=False, timeout=10) as other:
            for _ in range(300):
                try:
                    if (await other.get("v1/agents")).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                await asyncio.sleep(0.1)
            assert (await other.get(f"v1/agents/{agent['id']}")).json()["name"] == agent["name"]
            assert (await other.get(f"v1/sessions/{session}")).json()["status"] == "idle"
            again = (await other.get(f"v1/sessions/{session}/events")).json()["data"]
            assert [e["id"] for e in again] == [e["id"] for e in events]
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.mark.asyncio
async def test_the_provider_key_is_not_in_a_database_dump(server, api):
    secret = f"sk-dump-{uuid.uuid4().hex}"
    provider = (await api.post("v1/providers", json={"name": "dumped", "provider_type": "openai", "api_key": secret})).json()
    assert provider["api_key_set"] is True
    dump = subprocess.run(["pg_dump", conftest.DURABLE["database_url"]], capture_output=True, check=True).stdout
    assert secret.encode() not in dump
    stored = psql(f"SELECT length(api_key_encrypted) FROM providers WHERE id = '{uuid.UUID(provider['id'].split('_', 1)[1])}'")
    assert int(stored) > len(secret), "the key is stored encrypted"
