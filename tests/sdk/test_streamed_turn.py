"""2. One streamed turn on the default harness/model, observed through the SDK's SSE EventStream."""

from __future__ import annotations

import pytest

from conftest import (
    CONNECTED,
    EPHEMERAL_TYPES,
    ID_RE,
    EventCollector,
    event_text,
    index_of,
    post_and_wait_turn,
    text_of,
    types_of,
    wait_session_status,
)

pytestmark = pytest.mark.asyncio


async def test_streamed_echo_turn(client):
    generic = await client.harnesses.get("generic")
    session = await client.sessions.create(title="sdk streamed turn")
    assert ID_RE["session"].match(session.id), session.id
    assert session.status == "started"
    assert session.harness_id == generic.id, "no agent, no harness -> org default `generic`"
    assert ID_RE["org"].match(session.organization_id), session.organization_id

    text = "hello from the sdk suite"
    async with EventCollector(client, session.id) as col:
        message, turn_id, idled = await post_and_wait_turn(client, col, text)
        events = list(col.events)
        timeline = list(col.timeline)

    # The stored user message comes back from POST .../messages.
    assert ID_RE["message"].match(message.id), message.id
    assert message.role == "user"
    assert text_of(message) == text

    # `connected` never reaches SDK users; the SDK saw it before any domain event.
    assert "connected" not in types_of(events) and "disconnecting" not in types_of(events)
    assert timeline[0] == CONNECTED, timeline

    assert all(e.session_id == session.id for e in events)
    assert all(ID_RE["event"].match(e.id) for e in events), [e.id for e in events]

    # Order: input.message -> turn.started -> delta(s) -> output.message.completed -> turn.completed
    i_input = index_of(events, lambda e: e.type == "input.message", "input.message")
    assert events[i_input].data["message"]["id"] == message.id
    assert event_text(events[i_input]) == text
    i_started = index_of(events, lambda e: e.type == "turn.started", "turn.started", i_input)
    assert events[i_started].data["turn_id"] == turn_id
    i_first_delta = index_of(events, lambda e: e.type == "output.message.delta", "a delta", i_started)
    i_completed = index_of(
        events, lambda e: e.type == "output.message.completed", "output.message.completed", i_first_delta
    )
    i_turn_done = index_of(events, lambda e: e.type == "turn.completed", "turn.completed", i_completed)
    i_idled = index_of(events, lambda e: e.type == "session.idled", "session.idled", i_turn_done)
    assert events[i_idled] is idled

    expected = f"Echo: {text}"
    completed = events[i_completed]
    assert completed.data["message"]["role"] == "agent"
    assert event_text(completed) == expected

    deltas = [e for e in events[i_started:i_completed] if e.type == "output.message.delta"]
    assert deltas, "at least one delta"
    assert not any(e.type == "output.message.delta" for e in events[i_completed:]), "no delta after completion"
    assert "".join(d.data["delta"] for d in deltas) == expected, [d.data for d in deltas]
    assert deltas[-1].data["accumulated"] == expected
    for d in deltas:
        assert d.data["turn_id"] == turn_id
        assert d.sequence is None, "ephemeral events carry no sequence"

    turn_done = events[i_turn_done]
    assert turn_done.data["turn_id"] == turn_id
    assert isinstance(turn_done.data["iterations"], int) and turn_done.data["iterations"] >= 1
    assert idled.data["turn_id"] == turn_id
    assert not any(e.type in ("turn.failed", "turn.cancelled") for e in events)

    persisted_live = [e for e in events if e.type not in EPHEMERAL_TYPES]
    seqs = [e.sequence for e in persisted_live]
    assert all(isinstance(s, int) for s in seqs), seqs
    assert seqs == sorted(set(seqs)), f"persisted events arrive in sequence order, once: {seqs}"

    await wait_session_status(client, session.id, "idle")

    # GET /events: persisted only, in sequence order, a superset of what the live stream showed.
    listed = await client.events.list(session.id)
    listed_types = types_of(listed)
    assert "output.message.delta" not in listed_types
    assert not (set(listed_types) & EPHEMERAL_TYPES)
    for needed in ("input.message", "turn.started", "output.message.completed", "turn.completed", "session.idled"):
        assert needed in listed_types, listed_types
    listed_seqs = [e.sequence for e in listed]
    assert listed_seqs == sorted(set(listed_seqs)) and listed_seqs[0] >= 1, listed_seqs
    assert len({e.id for e in listed}) == len(listed)
    by_id = {e.id: e for e in listed}
    for live in persisted_live:
        assert live.id in by_id, f"live {live.type} {live.id} missing from GET /events"
        assert by_id[live.id].sequence == live.sequence
        assert by_id[live.id].type == live.type

    # GET /messages: the user message and the agent reply, in that order.
    messages = await client.messages.list(session.id)
    user_idx = next(i for i, m in enumerate(messages) if m.role == "user" and text_of(m) == text)
    agent_idx = next(i for i, m in enumerate(messages) if m.role == "agent" and text_of(m) == expected)
    assert messages[user_idx].id == message.id
    assert user_idx < agent_idx


async def test_second_turn_sees_history(client):
    """A second message in the same session runs a new turn with its own turn_id."""
    session = await client.sessions.create()
    async with EventCollector(client, session.id) as col:
        _, turn_1, _ = await post_and_wait_turn(client, col, "one")
        _, turn_2, _ = await post_and_wait_turn(client, col, "two")
        replies = [event_text(e) for e in col.events if e.type == "output.message.completed"]
    assert turn_1 != turn_2
    assert replies == ["Echo: one", "Echo: two"]
    messages = await client.messages.list(session.id)
    assert [text_of(m) for m in messages] == ["one", "Echo: one", "two", "Echo: two"]
