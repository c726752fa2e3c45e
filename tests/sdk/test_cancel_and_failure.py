"""5. Cancelling a slow turn, and 6. a provider failure that leaves the session usable."""

from __future__ import annotations

import pytest
from everruns_sdk import Controls

from conftest import (
    LONG_WAIT,
    EventCollector,
    event_text,
    model_id_for,
    post_and_wait_turn,
    types_of,
    wait_session_status,
)

pytestmark = pytest.mark.asyncio

CANCELLED_TEXT = "Work was cancelled by user."


async def test_cancel_slow_turn(client, recorder, api):
    slow = await model_id_for(client, "llmsim-slow")
    session = await client.sessions.create(model_id=slow, title="sdk cancel")

    async with EventCollector(client, session.id) as col:
        message = await client.messages.create(session.id, "Write me a long story.")
        started = await col.wait_type(
            "turn.started", pred=lambda e: e.data.get("input_message_id") == message.id
        )
        turn_id = started.data["turn_id"]
        await col.wait_type("output.message.delta")

        # SDK cancel (returns None); the recorder shows the body it received.
        await client.sessions.cancel(session.id)
        resp = recorder.last("POST", f"/sessions/{session.id}/cancel")
        assert resp.status_code == 200, resp.text
        body = resp.json()
        assert body["status"] == "cancelled", body
        assert isinstance(body.get("message"), str) and body["message"]

        cancelled = await col.wait_type("turn.cancelled", timeout=LONG_WAIT)
        assert cancelled.data["turn_id"] == turn_id
        notice = await col.wait_type(
            "output.message.completed", pred=lambda e: event_text(e) == CANCELLED_TEXT, timeout=LONG_WAIT
        )
        idled = await col.wait_idle_after(turn_id, timeout=LONG_WAIT)
        events = list(col.events)

    i_idled = events.index(idled)
    assert events.index(cancelled) < i_idled
    assert events.index(notice) < i_idled
    turn_types = types_of(events[: i_idled + 1])
    assert "turn.completed" not in turn_types and "turn.failed" not in turn_types, turn_types
    # The slow answer (40 words of lorem ipsum, ~2.6 s) was really cut short.
    for e in events:
        if e.type == "output.message.completed":
            assert len(event_text(e).split()) < 40, event_text(e)

    await wait_session_status(client, session.id, "idle")

    # Idempotent: nothing is running, so the SDK call succeeds and the server answers no_op.
    await client.sessions.cancel(session.id)
    again = recorder.last("POST", f"/sessions/{session.id}/cancel")
    assert again.status_code == 200, again.text
    assert again.json()["status"] == "no_op", again.json()

    raw = await api.post(f"v1/sessions/{session.id}/cancel", json={})
    assert raw.status_code == 200 and raw.json()["status"] == "no_op", raw.text


async def test_provider_failure_then_recovery(client):
    failing = await model_id_for(client, "llmsim-fail")
    echo = await model_id_for(client, "llmsim-echo")
    session = await client.sessions.create(model_id=failing, title="sdk provider failure")

    async with EventCollector(client, session.id) as col:
        message = await client.messages.create(session.id, "Are you there?")
        started = await col.wait_type(
            "turn.started", pred=lambda e: e.data.get("input_message_id") == message.id
        )
        turn_id = started.data["turn_id"]
        # Driver-level retries (1 s, 2 s backoff) come first: allow for them.
        failed = await col.wait_type("turn.failed", timeout=LONG_WAIT)
        idled = await col.wait_idle_after(turn_id, timeout=LONG_WAIT)
        events = list(col.events)

        i_failed = events.index(failed)
        notices = [
            e for e in events[:i_failed]
            if e.type == "output.message.completed" and e.data.get("error_code")
        ]
        assert notices, f"a friendly output.message.completed precedes turn.failed: {types_of(events)}"
        notice = notices[-1]
        text = event_text(notice)
        assert "Please try again later" in text or "experiencing issues" in text, text
        assert notice.data["message"]["role"] == "agent"
        assert isinstance(notice.data["error_code"], str)
        assert failed.data["turn_id"] == turn_id
        assert isinstance(failed.data.get("error"), str) and failed.data["error"], failed.data
        assert failed.data.get("error_code"), failed.data
        assert events.index(idled) > i_failed
        assert "turn.completed" not in types_of(events[: events.index(idled)])

        await wait_session_status(client, session.id, "idle")

        # Still usable: the next message picks a working model through controls.model_id.
        _, turn_2, _ = await post_and_wait_turn(
            client, col, "second try", controls=Controls(model_id=echo), timeout=LONG_WAIT
        )
        replies = [
            event_text(e)
            for e in col.events
            if e.type == "output.message.completed" and not e.data.get("error_code")
        ]
        assert "Echo: second try" in replies, replies
        assert any(e.type == "turn.completed" and e.data["turn_id"] == turn_2 for e in col.events)
