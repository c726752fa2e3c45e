"""7. Resuming the SSE stream with `since_id` (persisted ids, and ids that were never stored)."""

from __future__ import annotations

import asyncio
import time

import pytest

from conftest import (
    EPHEMERAL_TYPES,
    WAIT,
    EventCollector,
    RawSse,
    post_and_wait_turn,
    sse_path,
    uuid7_event_id,
)

pytestmark = pytest.mark.asyncio


async def replay_ids(client, session_id: str, since_id: str, until_id: str) -> list[str]:
    """Opens the SDK stream with since_id and returns the ids it yields up to ``until_id``."""
    async with EventCollector(client, session_id, since_id=since_id) as replay:
        await replay.wait_for(lambda e: e.id == until_id, what=f"replay of {until_id}")
        return [e.id for e in replay.events]


async def test_since_id_replays_exactly_the_persisted_events_after_it(client, api):
    session = await client.sessions.create(title="sdk since_id")
    async with EventCollector(client, session.id) as col:
        await post_and_wait_turn(client, col, "first turn for replay")

    persisted = await client.events.list(session.id)
    assert len(persisted) >= 5, [e.type for e in persisted]
    assert [e.sequence for e in persisted] == sorted({e.sequence for e in persisted})
    mid = persisted[len(persisted) // 2]
    expected = [e.id for e in persisted if e.sequence > mid.sequence]
    assert expected

    # SDK stream: exactly the persisted events after the cursor, in order, once.
    got = await replay_ids(client, session.id, mid.id, expected[-1])
    assert got == expected

    # Raw stream: same records, SSE `id:` equals the event id, and nothing more (no duplicate
    # replay) before the next heartbeat shows the server has gone quiet.
    async with RawSse(api, sse_path(session.id), params={"since_id": mid.id}) as sse:
        assert sse.response.status_code == 200
        first = await sse.next_record()
        assert first.event == "connected", first
        seen: list[str] = []
        while not seen or seen[-1] != expected[-1]:
            rec = await sse.next_record()
            data = rec.json()
            assert rec.event == data["type"], rec
            assert rec.id == data["id"], "persisted events carry an SSE id: line equal to data.id"
            seen.append(data["id"])
        assert seen == expected
        while True:
            kind, item = await sse.next_item(timeout=WAIT)
            if kind == "comment" and item == "heartbeat":
                break
            assert kind == "comment", f"unexpected record after the replay: {item}"


async def test_since_id_that_was_never_persisted(client):
    session = await client.sessions.create(title="sdk since_id unknown")
    async with EventCollector(client, session.id) as col:
        _, _, idled_a = await post_and_wait_turn(client, col, "turn A")
        # A v7 id for "now": after every event of turn A, before every event of turn B.
        cut_ms = int(time.time() * 1000)
        fake_since = uuid7_event_id(cut_ms)
        while int(time.time() * 1000) <= cut_ms:  # clock granularity only
            await asyncio.sleep(0.002)
        first_b = len(col.events)
        _, turn_b, idled_b = await post_and_wait_turn(client, col, "turn B")
        b_live = col.events[first_b:]

    persisted = await client.events.list(session.id)
    ids = [e.id for e in persisted]
    assert fake_since not in ids
    seq_a_end = next(e.sequence for e in persisted if e.id == idled_a.id)
    b_ids = [e.id for e in persisted if e.sequence > seq_a_end]
    assert b_ids and b_ids[-1] == idled_b.id

    # Unknown (never stored) cursor slightly in the past: no failure, replay of what came after.
    got = await replay_ids(client, session.id, fake_since, b_ids[-1])
    assert got == b_ids

    # The SDK's real-life case: its cursor is the id of the last event it yielded, often an
    # ephemeral delta. Resuming from it replays a gap-free tail of turn B: no deltas, no
    # duplicates, nothing from turn A, and at least everything after the delta.
    delta = next(e for e in b_live if e.type == "output.message.delta")
    completed_after = next(
        e for e in b_live[b_live.index(delta):] if e.type == "output.message.completed"
    )
    got = await replay_ids(client, session.id, delta.id, b_ids[-1])
    assert got, "replay after an ephemeral id"
    assert not any(i not in b_ids for i in got), "only persisted events of turn B are replayed"
    k = b_ids.index(got[0])
    assert got == b_ids[k:], "a contiguous tail, in order, without duplicates"
    assert completed_after.id in got
    assert turn_b
    listed_types = {e.type for e in persisted}
    assert not (listed_types & EPHEMERAL_TYPES)
