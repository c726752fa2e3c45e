"""The Chat Completions drivers end to end: a provider of each type (`openai_completions`,
`azure_openai`, `openrouter`) whose `base_url` points at a tiny fake Chat Completions server on
127.0.0.1, a model on it, a session on that model, and one turn whose answer is the fake's text.

The fake (stdlib `http.server` in a thread) streams `chat.completion.chunk` SSE with a usage chunk
and `[DONE]`, and records each request so the test can check the wire each driver spoke: the path,
Azure's deployment URL, `api-version` query and `api-key` header, OpenRouter's attribution headers.
Loopback base URLs are allowed in DEV_MODE; in durable mode `OUTBOUND_ALLOW_LOOPBACK` (set below,
inherited by the server and the workers) allows them.
"""

from __future__ import annotations

import json
import os
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Iterable

import pytest

from conftest import LONG_WAIT, EventCollector, event_text, post_and_wait_turn

pytestmark = pytest.mark.asyncio

# Read by the server and the workers when the session's server starts (after collection).
os.environ.setdefault("OUTBOUND_ALLOW_LOOPBACK", "true")


class FakeChatCompletions:
    """A Chat Completions server on 127.0.0.1: answers every POST with a streamed
    `"<model> answers: <last user text>"` and records (path, query, headers, body)."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:  # quiet
                pass

            def do_POST(self) -> None:  # noqa: N802 - http.server naming
                length = int(self.headers.get("content-length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                path, _, query = self.path.partition("?")
                fake.requests.append(
                    {"path": path, "query": query, "headers": {k.lower(): v for k, v in self.headers.items()},
                     "body": body}
                )
                self.send_response(200)
                self.send_header("content-type", "text/event-stream")
                self.send_header("cache-control", "no-cache")
                self.end_headers()
                for chunk in fake.chunks(body):
                    self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
                    self.wfile.flush()
                self.wfile.write(b"data: [DONE]\n\n")
                self.wfile.flush()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.root = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @staticmethod
    def answer(body: dict) -> str:
        users = [m for m in body.get("messages", []) if m.get("role") == "user"]
        last = users[-1]["content"] if users else ""
        if isinstance(last, list):
            last = "".join(p.get("text", "") for p in last if p.get("type") == "text")
        return f"{body.get('model')} answers: {last}"

    def chunks(self, body: dict) -> Iterable[dict]:
        base = {"id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": 1, "model": body.get("model")}
        yield {**base, "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}]}
        words = self.answer(body).split(" ")
        for i, word in enumerate(words):
            piece = word if i == 0 else f" {word}"
            yield {**base, "choices": [{"index": 0, "delta": {"content": piece}, "finish_reason": None}]}
        yield {**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}
        yield {**base, "choices": [], "usage": {"prompt_tokens": 11, "completion_tokens": 7, "total_tokens": 18}}

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def fake():
    server = FakeChatCompletions()
    try:
        yield server
    finally:
        server.close()


# provider_type -> (base_url path on the fake, wire model id)
CASES = {
    "openai_completions": ("/compat/v1", "qwen2.5-7b-instruct"),
    "azure_openai": ("/azure", "gpt-4o-deploy"),
    "openrouter": ("/openrouter/api/v1", "anthropic/claude-sonnet-4"),
}


async def run_turn_on(client, api, fake: FakeChatCompletions, provider_type: str) -> tuple[dict, str]:
    """Creates a provider and model at the fake, runs one turn; answers (fake request, answer)."""
    base_path, wire_model = CASES[provider_type]
    key = f"sk-{provider_type}-{uuid.uuid4().hex[:6]}"
    created = await api.post("v1/providers", json={
        "name": f"fake {provider_type} {uuid.uuid4().hex[:6]}", "provider_type": provider_type,
        "api_key": key, "base_url": fake.root + base_path,
    })
    assert created.status_code == 201, created.text
    provider = created.json()
    assert provider["provider_type"] == provider_type and provider["api_key_set"] is True
    try:
        model = await api.post(f"v1/providers/{provider['id']}/models",
                               json={"model_id": wire_model, "display_name": f"{provider_type} fake"})
        assert model.status_code == 201, model.text
        session = await client.sessions.create(model_id=model.json()["id"], title=f"driver {provider_type}")
        text = f"hello {provider_type}"
        async with EventCollector(client, session.id) as col:
            _, turn_id, _ = await post_and_wait_turn(client, col, text, timeout=LONG_WAIT)
            events = list(col.events)
        own = [e for e in events if (e.data or {}).get("turn_id") == turn_id or e.type == "output.message.completed"]
        failed = [e.data for e in own if e.type == "turn.failed"]
        assert not failed, f"the turn failed: {failed}"
        completed = [e for e in own if e.type == "output.message.completed"]
        assert completed, [e.type for e in events]
        assert any(e.type == "turn.completed" for e in own), [e.type for e in own]
        assert fake.requests, "the driver never called the fake"
        request = fake.requests[-1]
        assert request["headers"].get("authorization", "").endswith(key) or request["headers"].get("api-key") == key
        assert request["body"]["stream"] is True
        assert request["body"]["stream_options"] == {"include_usage": True}
        expected = f"{wire_model} answers: {text}"
        assert event_text(completed[-1]) == expected, (event_text(completed[-1]), expected)
        return request, expected
    finally:
        deleted = await api.delete(f"v1/providers/{provider['id']}")
        assert deleted.status_code == 204, deleted.text


async def test_openai_completions_turn_through_a_compatible_server(client, api, fake):
    request, _ = await run_turn_on(client, api, fake, "openai_completions")
    assert request["path"] == "/compat/v1/chat/completions"
    assert request["headers"]["authorization"].startswith("Bearer sk-openai_completions-")
    assert request["body"]["model"] == "qwen2.5-7b-instruct"


async def test_azure_openai_turn_uses_the_deployment_url_and_api_key(client, api, fake):
    request, _ = await run_turn_on(client, api, fake, "azure_openai")
    assert request["path"] == "/azure/openai/deployments/gpt-4o-deploy/chat/completions"
    assert request["query"] == "api-version=2024-10-21"
    assert request["headers"]["api-key"].startswith("sk-azure_openai-")
    assert "authorization" not in request["headers"]


async def test_openrouter_turn_sends_attribution_headers(client, api, fake):
    request, _ = await run_turn_on(client, api, fake, "openrouter")
    assert request["path"] == "/openrouter/api/v1/chat/completions"
    assert request["headers"]["authorization"].startswith("Bearer sk-openrouter-")
    assert request["headers"]["http-referer"] == "https://everruns.dev"
    assert request["headers"]["x-title"] == "Everruns"
    assert request["body"]["model"] == "anthropic/claude-sonnet-4"


async def test_the_dev_grade_seeds_azure_and_openrouter_presets(api):
    models = (await api.get("v1/models")).json()["data"]
    by_type = {}
    for m in models:
        by_type.setdefault(m["provider_type"], set()).add(m["model_id"])
    assert {"gpt-4o", "gpt-4o-mini"} <= by_type.get("azure_openai", set()), by_type
    assert {"anthropic/claude-sonnet-4", "openai/gpt-4.1-mini"} <= by_type.get("openrouter", set()), by_type
