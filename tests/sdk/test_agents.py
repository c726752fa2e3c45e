"""1. Agent CRUD through the SDK, plus the validation / error-shape contract over raw HTTP."""

from __future__ import annotations

import json
import uuid

import httpx
import pytest
from everruns_sdk import ApiError, NotFoundError, generate_agent_id

from conftest import ID_RE, assert_json_error

pytestmark = pytest.mark.asyncio


def unique_name(prefix: str = "sdk-agent") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


async def test_agent_crud_round_trip(client, api):
    generic = await client.harnesses.get("generic")
    assert generic.name == "generic"
    assert ID_RE["harness"].match(generic.id), generic.id

    name = unique_name()
    agent = await client.agents.create(
        name,
        "You are a system-test agent.",
        description="created by the sdk suite",
        tags=["sdk-test"],
    )
    assert ID_RE["agent"].match(agent.id), agent.id
    assert agent.name == name
    assert agent.system_prompt == "You are a system-test agent."
    assert agent.description == "created by the sdk suite"
    assert agent.status == "active"
    assert agent.harness_id == generic.id, "no harness given on create -> org default `generic`"

    by_id = await client.agents.get(agent.id)
    assert (by_id.id, by_id.name, by_id.system_prompt) == (agent.id, name, agent.system_prompt)

    by_name = await client.agents.get(name)
    assert by_name.id == agent.id, "GET /v1/agents/{name} resolves the slug"

    found = await client.agents.list(search=name)
    assert [a.id for a in found] == [agent.id]
    # search is a case-insensitive substring of name/description
    found_upper = await client.agents.list(search=name[-10:].upper())
    assert agent.id in [a.id for a in found_upper]
    none = await client.agents.list(search=f"no-such-{uuid.uuid4().hex}")
    assert agent.id not in [a.id for a in none]

    # PATCH (the SDK has no agents.update): only provided fields change.
    resp = await api.patch(
        f"v1/agents/{agent.id}",
        json={"system_prompt": "Patched prompt.", "description": "patched"},
    )
    assert resp.status_code == 200, resp.text
    patched = resp.json()
    assert patched["id"] == agent.id
    assert patched["system_prompt"] == "Patched prompt."
    assert patched["name"] == name
    again = await client.agents.get(agent.id)
    assert again.system_prompt == "Patched prompt."
    assert again.description == "patched"
    assert again.tags == ["sdk-test"], "an absent list leaves the stored list alone"

    # apply_by_name: same name -> update of the same agent, never a 409.
    applied = await client.agents.apply_by_name(name, "Applied prompt.", description="applied")
    assert applied.id == agent.id
    assert applied.system_prompt == "Applied prompt."
    assert [a.id for a in await client.agents.list(search=name)] == [agent.id]

    # delete archives
    await client.agents.delete(agent.id)
    archived = await client.agents.get(agent.id)
    assert archived.status == "archived"
    assert archived.archived_at, "archived_at is set on archive"


async def test_agent_apply_with_client_supplied_id_upserts(client, api):
    agent_id = generate_agent_id()
    name = unique_name("sdk-apply")
    created = await client.agents.apply(agent_id, name, "v1 prompt")
    assert created.id == agent_id, "POST /v1/agents with an unknown id creates it with that id"
    updated = await client.agents.apply(agent_id, name, "v2 prompt")
    assert updated.id == agent_id
    assert updated.system_prompt == "v2 prompt"
    assert [a.id for a in await client.agents.list(search=name)] == [agent_id]

    resp = await api.delete(f"v1/agents/{agent_id}")
    assert resp.status_code == 204, resp.text
    assert resp.content == b""


async def test_invalid_agent_name_is_400_json(api):
    for bad in ("Bad Name!", "UPPER", "trailing-", "a" * 65, "under_score"):
        resp = await api.post("v1/agents", json={"name": bad, "system_prompt": "x"})
        assert_json_error(resp, 400)


async def test_malformed_agent_id_is_400(client, api):
    resp = await api.get("v1/agents/agent_123")
    assert_json_error(resp, 400)
    with pytest.raises(ApiError) as info:
        await client.agents.get("agent_123")
    assert info.value.status_code == 400
    assert not isinstance(info.value, NotFoundError)


async def test_unknown_agent_id_is_404(client, api):
    unknown = f"agent_{uuid.uuid4().hex}"
    resp = await api.get(f"v1/agents/{unknown}")
    assert_json_error(resp, 404)
    with pytest.raises(NotFoundError) as info:
        await client.agents.get(unknown)
    assert info.value.status_code == 404
    assert info.value.code != "unknown", "the SDK parsed error.code from the body"


async def test_harness_id_and_name_together_is_400(client, api):
    generic = await client.harnesses.get("generic")
    resp = await api.post(
        "v1/agents",
        json={
            "name": unique_name(),
            "system_prompt": "x",
            "harness_id": generic.id,
            "harness_name": "generic",
        },
    )
    assert_json_error(resp, 400)


async def test_malformed_json_body_is_4xx_json_not_500(api):
    resp = await api.post(
        "v1/agents",
        content=b'{"name": "broken", "system_prompt": ',
        headers={"Content-Type": "application/json"},
    )
    assert 400 <= resp.status_code < 500 and resp.status_code != 404, (resp.status_code, resp.text)
    assert_json_error(resp)

    # Well-formed JSON missing a required field is also a client error, not a 500.
    resp = await api.post("v1/agents", json={"name": unique_name()})
    assert 400 <= resp.status_code < 500, (resp.status_code, resp.text)
    assert_json_error(resp)

    # Wrong JSON type for a field.
    resp = await api.post("v1/agents", json={"name": unique_name(), "system_prompt": 42})
    assert 400 <= resp.status_code < 500, (resp.status_code, resp.text)
    assert_json_error(resp)


async def test_oversize_body_is_413_json(api):
    body = json.dumps({"name": unique_name(), "system_prompt": "a" * (11 * 1024 * 1024)}).encode()
    last_error = None
    for _ in range(3):
        try:
            resp = await api.post(
                "v1/agents", content=body, headers={"Content-Type": "application/json"}
            )
        except httpx.TransportError as exc:  # server closed before answering: retry, then fail
            last_error = exc
            continue
        assert_json_error(resp, 413)
        return
    pytest.fail(f"no 413 response to an 11 MiB body, only transport errors: {last_error!r}")
