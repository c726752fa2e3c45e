"""9. Per-session SSE connection limit, and 11. heartbeats / `connected` framing (raw SSE)."""

from __future__ import annotations

import asyncio
import json
import time

import httpx
import pytest

from conftest import API_KEY, WAIT, RawSse, SseTimeout, assert_json_error, sse_path

pytestmark = pytest.mark.asyncio

PER_SESSION_MAX = 5  # SSE_PER_SESSION_MAX given to the server by the fixture


async def open_connected(http: httpx.AsyncClient, session_id: str) -> RawSse:
    sse = RawSse(http, sse_path(session_id))
    await sse.open()
    try:
        assert sse.response.status_code == 200, sse.response.status_code
        rec = await sse.next_record()
        assert rec.event == "connected", rec
    except BaseException:
        await sse.aclose()
        raise
    return sse


async def try_extra(http: httpx.AsyncClient, session_id: str) -> tuple[int, RawSse]:
    sse = RawSse(http, sse_path(session_id))
    await sse.open()
    return sse.response.status_code, sse


async def test_per_session_sse_limit(client, base_url):
    session = await client.sessions.create(title="sdk sse limit")
    other = await client.sessions.create(title="sdk sse limit other")
    async with httpx.AsyncClient(
        base_url=base_url.rstrip("/") + "/",
        headers={"Authorization": API_KEY},
        limits=httpx.Limits(max_connections=50, max_keepalive_connections=0),
        trust_env=False,
    ) as http:
        open_streams: list[RawSse] = []
        try:
            for _ in range(PER_SESSION_MAX):
                open_streams.append(await open_connected(http, session.id))

            status, extra = await try_extra(http, session.id)
            try:
                assert status == 429, f"connection #{PER_SESSION_MAX + 1} must be refused, got {status}"
                await extra.read_body()
                assert_json_error(extra.response, 429)
            finally:
                await extra.aclose()

            # The limit is per session: another session still streams.
            other_sse = await open_connected(http, other.id)
            await other_sse.aclose()

            # Closing one frees a slot. The server may only notice the closed socket on its next
            # write (a heartbeat, every 2 s), so retry for a while.
            await open_streams.pop().aclose()
            deadline = time.monotonic() + WAIT
            while True:
                status, again = await try_extra(http, session.id)
                if status == 200:
                    try:
                        rec = await again.next_record()
                        assert rec.event == "connected"
                    finally:
                        await again.aclose()
                    break
                await again.aclose()
                assert status == 429, status
                assert time.monotonic() < deadline, "closing a stream never freed its slot"
                await asyncio.sleep(0.25)
        finally:
            for sse in open_streams:
                await sse.aclose()


async def test_heartbeats_and_connected_first(client, api):
    session = await client.sessions.create(title="sdk heartbeat")
    async with RawSse(api, sse_path(session.id)) as sse:
        resp = sse.response
        assert resp.status_code == 200
        assert resp.headers.get("content-type", "").startswith("text/event-stream"), resp.headers

        heartbeats = 0
        first_record = None
        start = time.monotonic()
        window = 6.5  # interval 2 s -> two heartbeats within ~5 s; slack for a loaded machine
        while heartbeats < 2 or first_record is None:
            remaining = window - (time.monotonic() - start)
            if remaining <= 0:
                break
            try:
                kind, item = await sse.next_item(timeout=remaining)
            except SseTimeout:
                break
            if kind == "comment":
                if item == "heartbeat":
                    heartbeats += 1
                continue
            if first_record is None:
                first_record = item
                assert item.event == "connected", f"the first record must be `connected`, got {item}"
                assert item.id is None, "connected carries no id: line"
                assert json.loads(item.data) == {"status": "connected"}
            else:
                assert item.event != "connected", "connected is sent once per connection"
        assert first_record is not None, "no `connected` record"
        assert heartbeats >= 2, f"{heartbeats} heartbeat(s) in {window}s with SSE_HEARTBEAT_INTERVAL_SECS=2"
