"""The AWS Bedrock driver end to end: a `bedrock` provider created with typed `credentials` (a JSON
document sealed like a key, never echoed) whose `base_url` points at a tiny fake of Bedrock
Runtime on 127.0.0.1, a model on it, a session on that model, and turns through the real AWS SDK.

The fake (stdlib `http.server` in a thread) answers `POST /model/{modelId}/converse-stream` with
Bedrock's `application/vnd.amazon.eventstream` binary encoding, built here by hand: each message is
a prelude (total length, headers length, CRC32 of those 8 bytes), string headers (`:event-type`,
`:content-type`, `:message-type`), a JSON payload and the CRC32 of everything before it. It streams
messageStart, contentBlockDelta (text), contentBlockStop, messageStop and metadata (usage), checks
nothing itself, and records each request so the test can check the SigV4 credential scope (the
document's access key id and region). A second model id answers 403 AccessDeniedException: the
turn fails with the friendly "not configured correctly" text and `provider_misconfigured`.
Loopback base URLs are allowed in DEV_MODE; in durable mode `OUTBOUND_ALLOW_LOOPBACK` (set below,
inherited by the server and the workers) allows them.
"""

from __future__ import annotations

import json
import os
import re
import struct
import threading
import uuid
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from conftest import LONG_WAIT, EventCollector, assert_json_error, event_text, post_and_wait_turn

pytestmark = pytest.mark.asyncio

# Read by the server and the workers when the session's server starts (after collection).
os.environ.setdefault("OUTBOUND_ALLOW_LOOPBACK", "true")

MODEL = "anthropic.claude-3-5-haiku-20241022-v1:0"
DENIED_MODEL = "amazon.nova-lite-v1:0"


def frame(headers: list[tuple[str, str]], payload: bytes) -> bytes:
    """One event-stream message with string headers (value type 7)."""
    encoded = b"".join(
        bytes([len(name)]) + name.encode() + b"\x07" + struct.pack(">H", len(value)) + value.encode()
        for name, value in headers
    )
    prelude = struct.pack(">II", 12 + len(encoded) + len(payload) + 4, len(encoded))
    prelude += struct.pack(">I", zlib.crc32(prelude))
    message = prelude + encoded + payload
    return message + struct.pack(">I", zlib.crc32(message))


def event(kind: str, payload: dict) -> bytes:
    headers = [(":event-type", kind), (":content-type", "application/json"), (":message-type", "event")]
    return frame(headers, json.dumps(payload).encode())


class FakeBedrock:
    """Bedrock Runtime on 127.0.0.1: ConverseStream answers `"<model> says: <last user text>"`."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:  # quiet
                pass

            def do_POST(self) -> None:  # noqa: N802 - http.server naming
                length = int(self.headers.get("content-length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                fake.requests.append(
                    {"path": self.path, "headers": {k.lower(): v for k, v in self.headers.items()}, "body": body}
                )
                match = re.fullmatch(r"/model/([^/]+)/converse-stream", self.path)
                model = match.group(1).replace("%3A", ":") if match else ""
                if model == DENIED_MODEL:
                    error = json.dumps({"message": "You don't have access to the model with the specified model ID."})
                    self.send_response(403)
                    self.send_header("content-type", "application/json")
                    self.send_header("x-amzn-errortype", "AccessDeniedException:http://internal.amazon.com/coral/")
                    self.send_header("content-length", str(len(error)))
                    self.end_headers()
                    self.wfile.write(error.encode())
                    return
                stream = fake.answer(model, body)
                self.send_response(200)
                self.send_header("content-type", "application/vnd.amazon.eventstream")
                self.send_header("x-amzn-requestid", "fake-request-1")
                self.send_header("content-length", str(len(stream)))
                self.end_headers()
                for i in range(0, len(stream), 64):  # frames straddle writes
                    self.wfile.write(stream[i:i + 64])
                    self.wfile.flush()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.root = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @staticmethod
    def text(model: str, body: dict) -> str:
        users = [m for m in body.get("messages", []) if m.get("role") == "user"]
        last = "".join(block.get("text", "") for block in users[-1]["content"]) if users else ""
        return f"{model} says: {last}"

    def answer(self, model: str, body: dict) -> bytes:
        out = event("messageStart", {"role": "assistant"})
        for i, word in enumerate(self.text(model, body).split(" ")):
            piece = word if i == 0 else f" {word}"
            out += event("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"text": piece}})
        out += event("contentBlockStop", {"contentBlockIndex": 0})
        out += event("messageStop", {"stopReason": "end_turn"})
        usage = {"inputTokens": 13, "outputTokens": 6, "totalTokens": 19, "cacheReadInputTokens": 4}
        return out + event("metadata", {"usage": usage, "metrics": {"latencyMs": 42}})

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def fake():
    server = FakeBedrock()
    try:
        yield server
    finally:
        server.close()


CREDENTIALS = {"access_key_id": "AKIDSDKTEST", "secret_access_key": "SDK-SECRET-VALUE", "region": "eu-west-3"}


async def create_provider(api, fake: FakeBedrock) -> dict:
    created = await api.post("v1/providers", json={
        "name": f"bedrock fake {uuid.uuid4().hex[:6]}", "provider_type": "bedrock",
        "base_url": fake.root, "credentials": CREDENTIALS,
    })
    assert created.status_code == 201, created.text
    provider = created.json()
    assert provider["provider_type"] == "bedrock" and provider["api_key_set"] is True
    assert "SDK-SECRET-VALUE" not in created.text and "credentials" not in provider
    listed = await api.get(f"v1/providers/{provider['id']}")
    assert "SDK-SECRET-VALUE" not in listed.text
    return provider


async def add_model(api, provider: dict, model_id: str) -> str:
    model = await api.post(f"v1/providers/{provider['id']}/models",
                           json={"model_id": model_id, "display_name": f"{model_id} (fake)"})
    assert model.status_code == 201, model.text
    return model.json()["id"]


async def test_bedrock_turn_through_the_aws_sdk_signed_with_the_stored_keys(client, api, fake):
    provider = await create_provider(api, fake)
    try:
        model_id = await add_model(api, provider, MODEL)
        session = await client.sessions.create(model_id=model_id, title="driver bedrock")
        text = "hello bedrock"
        async with EventCollector(client, session.id) as col:
            _, turn_id, _ = await post_and_wait_turn(client, col, text, timeout=LONG_WAIT)
            events = list(col.events)
        own = [e for e in events if (e.data or {}).get("turn_id") == turn_id or e.type == "output.message.completed"]
        assert not [e.data for e in own if e.type == "turn.failed"], [e.data for e in own]
        completed = [e for e in own if e.type == "output.message.completed"]
        assert completed and any(e.type == "turn.completed" for e in own), [e.type for e in own]
        assert event_text(completed[-1]) == f"{MODEL} says: {text}"

        assert fake.requests, "the driver never called the fake"
        request = fake.requests[-1]
        assert request["path"] == "/model/anthropic.claude-3-5-haiku-20241022-v1%3A0/converse-stream"
        scope = request["headers"]["authorization"].split("Credential=")[1].split(",")[0]
        assert scope.startswith("AKIDSDKTEST/") and scope.endswith("/eu-west-3/bedrock/aws4_request"), scope
        assert request["body"]["messages"][-1] == {"role": "user", "content": [{"text": text}]}
    finally:
        deleted = await api.delete(f"v1/providers/{provider['id']}")
        assert deleted.status_code == 204, deleted.text


async def test_bedrock_access_denied_is_a_friendly_misconfiguration(client, api, fake):
    provider = await create_provider(api, fake)
    try:
        model_id = await add_model(api, provider, DENIED_MODEL)
        session = await client.sessions.create(model_id=model_id, title="driver bedrock denied")
        async with EventCollector(client, session.id) as col:
            await client.messages.create(session.id, "are you there?")
            failed = await col.wait_type("turn.failed", timeout=LONG_WAIT)
            events = list(col.events)
        notices = [e for e in events[: events.index(failed)]
                   if e.type == "output.message.completed" and (e.data or {}).get("error_code")]
        assert notices, [e.type for e in events]
        assert notices[-1].data["error_code"] == "provider_misconfigured", notices[-1].data
        assert "not configured correctly" in event_text(notices[-1])
        assert len([r for r in fake.requests if DENIED_MODEL.split(":")[0] in r["path"]]) == 1, "403 is not retried"
    finally:
        await api.delete(f"v1/providers/{provider['id']}")


async def test_bedrock_credentials_must_be_an_object_of_strings(api):
    for bad in ["AKID", ["a"], {"secret_access_key": 12345}, {"region": {"x": 1}}]:
        resp = await api.post("v1/providers", json={"name": "bad", "provider_type": "bedrock", "credentials": bad})
        body = assert_json_error(resp, 400)
        assert "credentials" in body["error"]["message"] and "12345" not in resp.text, body
