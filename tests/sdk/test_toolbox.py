"""The generic harness's file-system tools: a session's initial files land in its workspace and the
model reads them (llmsim-tools calls ``read_file``), the Python side of the Rust SDK's
``initial_files`` example (scripts/sdk-examples)."""

from __future__ import annotations

import uuid

import pytest
from everruns_sdk import InitialFile

from conftest import (
    LONG_WAIT,
    EventCollector,
    event_text,
    index_of,
    model_id_for,
    post_and_wait_turn,
    types_of,
)

pytestmark = pytest.mark.asyncio


async def test_initial_file_is_read_by_the_model(client):
    tools_model = await model_id_for(client, "llmsim-tools")
    marker = f"The launch code is {uuid.uuid4().hex[:12]}."
    content = f"# Demo Project\n\n{marker}\n"
    session = await client.sessions.create(
        model_id=tools_model,
        title="sdk initial files",
        initial_files=[InitialFile(path="/workspace/README.md", content=content)],
    )
    assert session.model_id == tools_model

    async with EventCollector(client, session.id) as col:
        _, turn_id, _ = await post_and_wait_turn(client, col, "Please read README.md", timeout=LONG_WAIT)
        events = list(col.events)

    types = types_of(events)
    assert "turn.failed" not in types, f"the turn failed: {types}"
    i_done = index_of(
        events,
        lambda e: e.type == "turn.completed" and e.data.get("turn_id") == turn_id,
        "turn.completed of the turn",
    )
    tools = [e.data for e in events[:i_done] if e.type == "tool.completed"]
    answers = [e for e in events[:i_done] if e.type == "output.message.completed"]
    assert answers, f"no answer before turn.completed: {types}"
    final = event_text(answers[-1])
    read = [t for t in tools if t.get("tool_name") == "read_file"]
    assert read, f"no read_file call completed; tool.completed: {tools}; the answer: {final!r}"
    assert all(t.get("success") is True for t in read), read
    assert content.strip() in final, f"the answer does not carry README.md's content {content!r}: {final!r}"
