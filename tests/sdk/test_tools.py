"""3. A built-in (server-side) tool call, and 4. a client-side tool round trip via tool-results."""

from __future__ import annotations

import uuid

import pytest
from everruns_sdk import ApiError, ContentPart, ToolDefinition

from conftest import (
    LONG_WAIT,
    EventCollector,
    assert_json_error,
    event_text,
    index_of,
    model_id_for,
    types_of,
    wait_session_status,
)

pytestmark = pytest.mark.asyncio


async def test_builtin_tool_get_current_time(client):
    tools_model = await model_id_for(client, "llmsim-tools")
    session = await client.sessions.create(model_id=tools_model, title="sdk builtin tool")
    assert session.model_id == tools_model

    async with EventCollector(client, session.id) as col:
        await client.messages.create(session.id, "What time is it? Please use get_current_time.")
        started = await col.wait_type(
            "tool.started", timeout=LONG_WAIT
        )
        call = started.data["tool_call"]
        assert call["name"] == "get_current_time", started.data
        assert call["id"]
        assert isinstance(call["arguments"], dict)

        done = await col.wait_type(
            "tool.completed", pred=lambda e: e.data.get("tool_call_id") == call["id"], timeout=LONG_WAIT
        )
        assert done.data["success"] is True, done.data
        assert done.data["status"] == "success", done.data
        assert done.data["tool_name"] == "get_current_time", done.data

        i_done = col.events.index(done)
        final = await col.wait_type(
            "output.message.completed",
            pred=lambda e: "The tool returned" in event_text(e),
            timeout=LONG_WAIT,
        )
        assert col.events.index(final) > i_done
        turn_done = await col.wait_type("turn.completed", timeout=LONG_WAIT)
        assert col.events.index(turn_done) > col.events.index(final)
        assert turn_done.data["iterations"] >= 2, turn_done.data
        await col.wait_idle_after(turn_done.data["turn_id"], timeout=LONG_WAIT)
        events = list(col.events)

    # The first answer carried the tool call as a tool_call content part.
    i_first = index_of(events, lambda e: e.type == "output.message.completed", "first completed message")
    first_parts = events[i_first].data["message"]["content"]
    assert any(p.get("type") == "tool_call" and p.get("name") == "get_current_time" for p in first_parts), first_parts
    assert events.index(started) > i_first
    assert not any(e.type in ("turn.failed", "tool.call_requested") for e in events), types_of(events)

    listed = types_of(await client.events.list(session.id))
    assert "tool.started" in listed and "tool.completed" in listed


LOOKUP_ORDER = ToolDefinition(
    name="lookup_order",
    description="Look up an order by its id and return its shipping status.",
    parameters={
        "type": "object",
        "properties": {"order_id": {"type": "string", "description": "The order id"}},
        "required": ["order_id"],
    },
)


async def test_client_tool_round_trip(client, api):
    tools_model = await model_id_for(client, "llmsim-tools")
    agent = await client.agents.create(
        f"sdk-client-tool-{uuid.uuid4().hex[:8]}",
        "You look up orders with the lookup_order tool.",
        default_model_id=tools_model,
        tools=[LOOKUP_ORDER],
    )
    assert [t.name for t in agent.tools] == ["lookup_order"]
    raw_agent = (await api.get(f"v1/agents/{agent.id}")).json()
    assert raw_agent["tools"][0]["type"] == "client_side", "responses carry the tool `type`"
    assert raw_agent["tools"][0]["parameters"]["required"] == ["order_id"]
    assert agent.default_model_id == tools_model

    session = await client.sessions.create(agent_id=agent.id, title="sdk client tool")
    assert session.agent_id == agent.id
    assert session.harness_id == agent.harness_id, "agent-first harness resolution"

    tracking = f"TRK-{uuid.uuid4().hex[:12]}"
    async with EventCollector(client, session.id) as col:
        await client.messages.create(session.id, "Where is order 42? Call lookup_order please.")
        requested = await col.wait_type("tool.call_requested", timeout=LONG_WAIT)
        calls = requested.tool_calls()  # SDK helper (extract_tool_calls)
        assert len(calls) == 1, requested.data
        call = calls[0]
        assert call.name == "lookup_order"
        assert isinstance(call.arguments.get("order_id"), str), call.arguments

        await wait_session_status(client, session.id, "waitingfortoolresults")

        result = {"order_id": call.arguments["order_id"], "status": "shipped", "tracking": tracking}
        resp = await client.messages.create_tool_results(
            session.id, [ContentPart.make_tool_result(call.id, result)]
        )
        assert resp.accepted == 1
        assert resp.status == "active"

        done = await col.wait_type(
            "tool.completed", pred=lambda e: e.data.get("tool_call_id") == call.id, timeout=LONG_WAIT
        )
        assert done.data["success"] is True, done.data
        final = await col.wait_type(
            "output.message.completed",
            pred=lambda e: tracking in event_text(e),
            timeout=LONG_WAIT,
        )
        assert "The tool returned" in event_text(final)
        turn_done = await col.wait_type("turn.completed", timeout=LONG_WAIT)
        assert col.events.index(turn_done) > col.events.index(final)
        await col.wait_idle_after(turn_done.data["turn_id"], timeout=LONG_WAIT)
        assert col.events.index(requested) < col.events.index(done)

    await wait_session_status(client, session.id, "idle")

    # Not waiting any more: 409 whose message names the state (the SDKs string-match it).
    raw = await api.post(
        f"v1/sessions/{session.id}/tool-results",
        json={"tool_results": [{"tool_call_id": call.id, "result": {"late": True}}]},
    )
    body = assert_json_error(raw, 409)
    assert "not waiting for tool results" in body["error"]["message"], body

    # The SDK retries exactly this 409 (5 times, 100 ms doubling), then raises it.
    with pytest.raises(ApiError) as info:
        await client.messages.create_tool_results(
            session.id, [ContentPart.make_tool_result(call.id, {"late": True})]
        )
    assert info.value.status_code == 409
    assert "not waiting for tool results" in info.value.message

    # An empty result list is a validation error.
    raw = await api.post(f"v1/sessions/{session.id}/tool-results", json={"tool_results": []})
    assert_json_error(raw, 400)
