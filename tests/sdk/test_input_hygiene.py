"""Input hygiene through the real binary: each case the issue found accepted is now refused with a
400 problem+json naming the field, and a request's controls can only narrow error disclosure."""

from __future__ import annotations

import json
import os
import uuid

import pytest

from conftest import LONG_WAIT, EventCollector, assert_json_error, model_id_for, wait_session_status

pytestmark = pytest.mark.asyncio


def refused(resp, field: str) -> None:
    body = assert_json_error(resp, 400)
    assert resp.headers["content-type"].startswith("application/problem+json"), resp.headers
    assert field in body["error"]["message"], body
    # No message names an internal type.
    assert "struct " not in resp.text and "Body`" not in resp.text, resp.text


async def test_a_request_cannot_raise_its_error_disclosure(client, api):
    failing = await model_id_for(client, "llmsim-fail")
    session = await client.sessions.create(model_id=failing, title="hygiene disclosure")
    everything = {"message": {"content": [{"type": "text", "text": "hi"}]}, "controls": {"error_disclosure": "everything"}}
    refused(await api.post(f"v1/sessions/{session.id}/messages", json=everything), "controls.error_disclosure")

    async with EventCollector(client, session.id) as col:
        detailed = {"message": {"content": [{"type": "text", "text": "hi"}]}, "controls": {"error_disclosure": "detailed"}}
        resp = await api.post(f"v1/sessions/{session.id}/messages", json=detailed)
        assert resp.status_code == 201, resp.text
        notice = await col.wait_type(
            "output.message.completed", pred=lambda e: bool((e.data or {}).get("error_code")), timeout=LONG_WAIT
        )
        assert notice.data.get("error_disclosure") == "standard", notice.data
        assert not notice.data.get("error_fields"), "no raw driver text at standard disclosure"
        assert "llmsim:" not in json.dumps(notice.data["message"]), notice.data
    await wait_session_status(client, session.id, "idle")


async def test_garbage_that_used_to_be_stored_is_refused(api):
    name = f"bad-{uuid.uuid4().hex[:6]}"
    cases = [
        ("v1/sessions", {"title": "nul\u0000title"}, "title"),
        ("v1/sessions", {"locale": "not a locale !!!"}, "locale"),
        ("v1/sessions", {"tags": [f"t{i}" for i in range(10_000)]}, "tags"),
        ("v1/sessions", {"initial_files": [{"path": "../../etc/passwd", "content": "x"}]}, "initial_files[0].path"),
        ("v1/sessions", {"initial_files": [{"path": "a.txt", "content": "x", "encoding": "rot13"}]},
         "initial_files[0].encoding"),
        ("v1/sessions", {"initial_files": [{"path": "a.bin", "content": "not base64!!", "encoding": "base64"}]},
         "initial_files[0].content"),
        ("v1/providers", {"name": f"{name}\u0007", "provider_type": "openai"}, "name"),
        ("v1/providers", {"name": name, "provider_type": "openai", "base_url": "file:///etc/passwd"}, "base_url"),
        ("v1/providers", {"name": name, "provider_type": "openai", "base_url": "not a url\u0000"}, "base_url"),
        ("v1/providers", {"name": name, "provider_type": "openai",
                          "base_url": "http://169.254.169.254/latest/meta-data"}, "base_url"),
    ]
    for path, body, field in cases:
        refused(await api.post(path, json=body), field)


async def test_a_harness_parent_cycle_and_an_empty_image_are_refused(client, api):
    a = await api.post("v1/harnesses", json={"name": f"cyc-a-{uuid.uuid4().hex[:6]}", "system_prompt": "a"})
    assert a.status_code == 201, a.text
    b = await api.post(
        "v1/harnesses",
        json={"name": f"cyc-b-{uuid.uuid4().hex[:6]}", "system_prompt": "b", "parent_harness_id": a.json()["id"]},
    )
    assert b.status_code == 201, b.text
    refused(await api.patch(f"v1/harnesses/{a.json()['id']}", json={"parent_harness_id": b.json()["id"]}), "cycle")

    session = await client.sessions.create(title="hygiene image")
    image = {"message": {"content": [{"type": "image"}]}}
    refused(await api.post(f"v1/sessions/{session.id}/messages", json=image), "image part")


async def test_every_error_is_problem_json_with_its_status(api):
    resp = await api.put("v1/sessions", json={})
    body = assert_json_error(resp, 405)
    assert body["status"] == 405 and body["title"] == "Method Not Allowed", body
    resp = await api.get("v1/agents", params={"limit": 0})
    refused(resp, "limit")
    if os.environ.get("EVERRUNS_TEST_MODE") == "split":
        # `cargo lambda watch` answers a body that is not UTF-8 with its own 500 before invoking
        # the function (it builds the Function URL event's body as a string); the handler's 400 is
        # covered in the other modes and by the router tests.
        return
    resp = await api.post(
        "v1/agents/import", content=b"\xff\xfe\x00A", headers={"content-type": "text/markdown"}
    )
    refused(resp, "UTF-8")
