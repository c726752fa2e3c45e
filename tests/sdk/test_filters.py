"""8. `types` / `exclude` filters (repeated query keys) on GET /events and on the SSE stream."""

from __future__ import annotations

import uuid

import pytest
from everruns_sdk import ApiError, NotFoundError

from conftest import (
    EventCollector,
    RawSse,
    assert_json_error,
    post_and_wait_turn,
    sse_path,
    types_of,
    wait_session_status,
)

pytestmark = pytest.mark.asyncio

WANTED = ["output.message.completed", "turn.completed"]


async def test_event_list_filters(client, api):
    session = await client.sessions.create(title="sdk filters list")
    async with EventCollector(client, session.id) as col:
        await post_and_wait_turn(client, col, "filter me")
    everything = await client.events.list(session.id)
    all_types = set(types_of(everything))
    assert {"input.message", "turn.started", "output.message.completed", "turn.completed"} <= all_types

    only = await client.events.list(session.id, types=WANTED)  # ?types=a&types=b
    assert only and set(types_of(only)) == set(WANTED), types_of(only)
    assert [e.id for e in only] == [e.id for e in everything if e.type in WANTED]

    without = await client.events.list(session.id, exclude=["output.message.completed"])
    assert "output.message.completed" not in types_of(without)
    assert [e.id for e in without] == [e.id for e in everything if e.type != "output.message.completed"]

    both = await client.events.list(session.id, types=WANTED, exclude=["turn.completed"])
    assert set(types_of(both)) == {"output.message.completed"}, types_of(both)

    # Raw repeated keys, same answer as the SDK's encoding.
    resp = await api.get(
        f"v1/sessions/{session.id}/events",
        params=[("types", "turn.started"), ("types", "turn.completed")],
    )
    assert resp.status_code == 200, resp.text
    assert {e["type"] for e in resp.json()["data"]} == {"turn.started", "turn.completed"}


async def test_unknown_event_type_is_400(client, api):
    session = await client.sessions.create(title="sdk filters unknown")
    for param in ("types", "exclude"):
        resp = await api.get(f"v1/sessions/{session.id}/events", params={param: "no.such.type"})
        assert_json_error(resp, 400)
        async with RawSse(api, sse_path(session.id), params={param: "no.such.type"}) as sse:
            assert sse.response.status_code == 400, sse.response.status_code
            await sse.read_body()
            assert_json_error(sse.response, 400)
    with pytest.raises(ApiError) as info:
        await client.events.list(session.id, types=["no.such.type"])
    assert info.value.status_code == 400


async def test_sse_rejects_bad_session_before_streaming(api, client):
    """Validation happens before the stream starts: 400 bad id, 404 unknown session (JSON, not SSE).
    (The SDK's EventStream would silently retry these forever, so they are checked raw.)"""
    async with RawSse(api, sse_path("session_123")) as sse:
        assert sse.response.status_code == 400
        await sse.read_body()
        assert_json_error(sse.response, 400)
    async with RawSse(api, sse_path(f"session_{uuid.uuid4().hex}")) as sse:
        assert sse.response.status_code == 404
        await sse.read_body()
        assert_json_error(sse.response, 404)
    with pytest.raises(NotFoundError):
        await client.events.list(f"session_{uuid.uuid4().hex}")


async def test_sse_filters_live_and_replay(client):
    session = await client.sessions.create(title="sdk filters sse")

    # Live stream with a positive filter: nothing but the wanted types.
    async with EventCollector(client, session.id, types=WANTED) as col:
        await client.messages.create(session.id, "filtered stream")
        done = await col.wait_type("turn.completed")
        seen = types_of(col.events)
    assert set(seen) <= set(WANTED), seen
    assert "output.message.completed" in seen
    turn_id = done.data["turn_id"]
    await wait_session_status(client, session.id, "idle")

    # Live stream with a negative filter: no deltas, everything else still comes.
    async with EventCollector(client, session.id, exclude=["output.message.delta"]) as col:
        await client.messages.create(session.id, "second filtered turn")
        await col.wait_type("session.idled", pred=lambda e: e.data.get("turn_id") != turn_id)
        seen = types_of(col.events)
    assert "output.message.delta" not in seen, seen
    assert {"input.message", "turn.started", "output.message.completed", "turn.completed"} <= set(seen)

    # Replay (since_id) goes through the same filters.
    persisted = await client.events.list(session.id)
    first = persisted[0]
    expected = [e.id for e in persisted if e.sequence > first.sequence and e.type in WANTED]
    async with EventCollector(client, session.id, since_id=first.id, types=WANTED) as col:
        await col.wait_for(lambda e: e.id == expected[-1], what="last filtered replay event")
        got = [e.id for e in col.events]
    assert got == expected

    expected_ex = [e.id for e in persisted if e.sequence > first.sequence and e.type != "turn.started"]
    async with EventCollector(client, session.id, since_id=first.id, exclude=["turn.started"]) as col:
        await col.wait_for(lambda e: e.id == expected_ex[-1], what="last excluded replay event")
        got = [e.id for e in col.events]
    assert got == expected_ex
