"""AUTH_MODE=api_key driven by the official SDK: it sends the raw key in `Authorization` (and
`X-Org-Id` when given one); organizations created through sign-up are isolated from each other.

Runs in both modes: in DEV_MODE its own server process; in durable mode a second server on the
suite's PostgreSQL database (the suite's workers, attached to the first server, run its turns)."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest
from everruns_sdk import Everruns
from everruns_sdk.errors import AuthenticationError, NotFoundError

import conftest

BOOTSTRAP = "evr_" + "5a" * 32


@pytest.fixture(scope="module")
def auth_server(server):
    with conftest.extra_server("auth", AUTH_MODE="api_key", AUTH_SIGNUP_ENABLED="true",
                              AUTH_BOOTSTRAP_API_KEY=BOOTSTRAP) as root:
        yield f"{root}/api"


def register(base: str, name: str) -> tuple[str, str]:
    resp = httpx.post(f"{base}/v1/auth/register", json={"organization_name": name}, trust_env=False)
    assert resp.status_code == 201, resp.text
    body = resp.json()
    return body["organization"]["id"], body["api_key"]["key"]


@pytest.mark.asyncio
async def test_the_sdk_authenticates_with_an_api_key_and_orgs_are_isolated(auth_server):
    org_a, key_a = register(auth_server, "acme")
    org_b, key_b = register(auth_server, "globex")

    async with Everruns(api_key="fake-key", base_url=auth_server) as anonymous:
        with pytest.raises(AuthenticationError):
            await anonymous.agents.list()

    async with Everruns(api_key=key_a, base_url=auth_server, org_id=org_a) as a, \
            Everruns(api_key=key_b, base_url=auth_server) as b:
        agent = await a.agents.create(name="isolated", system_prompt="Answer briefly.")
        assert [x.id for x in await a.agents.list()] == [agent.id]
        assert await b.agents.list() == []
        with pytest.raises(NotFoundError):
            await b.agents.get(agent.id)

        session = await a.sessions.create(agent_id=agent.id, title="org a")
        with pytest.raises(NotFoundError):
            await b.sessions.get(session.id)
        await a.messages.create(session.id, "hello from acme")
        deadline = time.monotonic() + conftest.LONG_WAIT
        while True:
            types = [e.type for e in await a.events.list(session.id)]
            if "turn.completed" in types:
                break
            assert "turn.failed" not in types, types
            assert time.monotonic() < deadline, f"the turn did not complete: {types}"
            await asyncio.sleep(0.1)
        with pytest.raises(NotFoundError):
            await b.events.list(session.id)

    # A key of org A used with org B's id is refused.
    async with Everruns(api_key=key_a, base_url=auth_server, org_id=org_b) as crossed:
        with pytest.raises(Exception) as refused:
            await crossed.agents.list()
        assert getattr(refused.value, "status_code", None) == 403, refused.value
