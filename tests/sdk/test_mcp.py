"""Everruns as an MCP server, driven by the official MCP Python SDK (`mcp`), and the OAuth 2.1
sign-in MCP clients use, scripted step by step against the real binary.

- The suite's server (AUTH_MODE=none; in the split the router sends `/mcp` to the bridge): the
  SDK connects to `/mcp`, lists the tools and runs a turn, with progress notifications.
- A server with AUTH_MODE=api_key: register → authorize (consent with an organization API key,
  PKCE S256) → token → `/mcp` with the token (the SDK, and the REST API) → refresh (rotation) →
  revoke → 401 with the `WWW-Authenticate` that names the resource metadata; the SDK's own OAuth
  provider doing the same on its own; and every bad input the RFCs name, answered with their
  error responses.
"""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
import time
import urllib.parse

import httpx
import httpx2
import pytest
from mcp import Client
from mcp.client.auth import AuthorizationCodeResult, OAuthClientProvider
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client
from mcp.shared.auth import OAuthClientInformationFull, OAuthClientMetadata, OAuthToken

import conftest

BOOTSTRAP = "evr_" + "6b" * 32
REDIRECT = "http://127.0.0.1:8765/callback"
TOOLS = {"list_agents", "get_agent", "create_session", "send_message", "list_events", "cancel_turn"}


def pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


def http(root: str) -> httpx.Client:
    return httpx.Client(base_url=root, trust_env=False, timeout=30.0)


def mcp_root(server: conftest.ServerInfo) -> str:
    return server.root


# ---------------------------------------------------------------------------------------------
# The SDK against the suite's server (AUTH_MODE=none)
# ---------------------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_the_mcp_sdk_lists_tools_and_runs_a_turn(server):
    async with Client(f"{mcp_root(server)}/mcp") as client:
        tools = await client.list_tools()
        assert {t.name for t in tools.tools} == TOOLS
        send = next(t for t in tools.tools if t.name == "send_message")
        assert set(send.input_schema["required"]) == {"session_id", "text"}

        agents = await client.call_tool("list_agents", {"limit": 5})
        assert not agents.is_error and "agents" in agents.structured_content

        created = await client.call_tool("create_session", {"title": "over mcp"})
        assert not created.is_error, created.content
        session_id = created.structured_content["id"]
        assert conftest.ID_RE["session"].match(session_id)

        progress: list[str] = []

        async def on_progress(value: float, total: float | None, message: str | None) -> None:
            progress.append(message or "")

        answer = await client.call_tool("send_message", {"session_id": session_id, "text": "hello over MCP"},
                                        progress_callback=on_progress)
        assert not answer.is_error, answer.content
        body = answer.structured_content
        assert body["status"] == "completed", body
        assert "hello over MCP" in body["answer"], body
        assert conftest.ID_RE["turn"].match(body["turn_id"])
        # The answer streamed as progress notifications, and they add up to it.
        assert progress and "".join(progress) == body["answer"], progress

        events = await client.call_tool("list_events", {"session_id": session_id})
        types = [e["type"] for e in events.structured_content["events"]]
        assert "input.message" in types and "turn.completed" in types, types
        only = await client.call_tool("list_events", {"session_id": session_id, "types": ["turn.completed"]})
        assert [e["type"] for e in only.structured_content["events"]] == ["turn.completed"]

        cancelled = await client.call_tool("cancel_turn", {"session_id": session_id})
        assert cancelled.structured_content["status"] == "no_op"


@pytest.mark.asyncio
async def test_mcp_bad_arguments_are_tool_errors(server):
    async with Client(f"{mcp_root(server)}/mcp") as client:
        for name, args, expected in [
            ("send_message", {"session_id": "session_1"}, "must be a session id"),
            ("send_message", {"session_id": "session_" + "0" * 32}, "'text' is required"),
            ("send_message", {"session_id": "session_" + "0" * 32, "text": "hi"}, "not found"),
            ("list_events", {"session_id": "session_" + "0" * 32, "limit": 0}, "'limit' must be an integer"),
            ("list_agents", {"limit": "ten"}, "'limit' must be an integer"),
            ("create_session", {"agent_id": "agent_" + "0" * 32}, "not found"),
            ("get_agent", {"agent": "nobody-by-that-name"}, "not found"),
            ("cancel_turn", {"session_id": 7}, "must be a string"),
            ("list_agents", {"colour": "blue"}, "unknown argument 'colour'"),
        ]:
            result = await client.call_tool(name, args)
            assert result.is_error, (name, args, result)
            text = " ".join(c.text for c in result.content)
            assert expected in text, (name, args, text)
        with pytest.raises(Exception) as unknown:
            await client.call_tool("rm_rf", {})
        assert "unknown tool" in str(unknown.value)


@pytest.mark.asyncio
async def test_send_message_reports_a_turn_waiting_on_a_client_tool(server, client):
    """An agent with a client-side tool: the call returns when the turn hands the call over."""
    from test_tools import LOOKUP_ORDER

    tools_model = await conftest.model_id_for(client, "llmsim-tools")
    agent = await client.agents.create(f"mcp-client-tool-{secrets.token_hex(4)}", "You look up orders.",
                                       default_model_id=tools_model, tools=[LOOKUP_ORDER])
    async with Client(f"{mcp_root(server)}/mcp") as mcp:
        session = await mcp.call_tool("create_session", {"agent_id": agent.id})
        assert not session.is_error, session.content
        waiting = await mcp.call_tool("send_message", {"session_id": session.structured_content["id"],
                                                        "text": "Where is order 42? Call lookup_order please.",
                                                        "timeout_seconds": 60})
        assert waiting.structured_content["status"] == "waiting_for_tool_results", waiting.structured_content
        await mcp.call_tool("cancel_turn", {"session_id": session.structured_content["id"]})


def test_mcp_refuses_malformed_requests(server):
    with http(mcp_root(server)) as api:
        bad = api.post("/mcp", content=b"{not json", headers={"content-type": "application/json",
                                                              "accept": "application/json, text/event-stream"})
        assert 400 <= bad.status_code < 500, bad.text


# ---------------------------------------------------------------------------------------------
# OAuth 2.1 (AUTH_MODE=api_key)
# ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def oauth_server(server):
    with conftest.extra_server("oauth", AUTH_MODE="api_key", AUTH_SIGNUP_ENABLED="true",
                               AUTH_BOOTSTRAP_API_KEY=BOOTSTRAP) as root:
        yield root


@pytest.fixture(scope="module")
def short_token_server(server):
    with conftest.extra_server("oauth-ttl", AUTH_MODE="api_key", AUTH_BOOTSTRAP_API_KEY=BOOTSTRAP,
                               OAUTH_ACCESS_TOKEN_TTL_SECS="1") as root:
        yield root


def register_org(root: str, name: str) -> tuple[str, str]:
    resp = httpx.post(f"{root}/api/v1/auth/register", json={"organization_name": name}, trust_env=False)
    assert resp.status_code == 201, resp.text
    return resp.json()["organization"]["id"], resp.json()["api_key"]["key"]


def register_client(api: httpx.Client, **extra) -> dict:
    body = {"redirect_uris": [REDIRECT], "token_endpoint_auth_method": "none", "client_name": "pytest",
            "grant_types": ["authorization_code", "refresh_token"], **extra}
    resp = api.post("/oauth/register", json=body)
    assert resp.status_code == 201, resp.text
    assert resp.headers["cache-control"] == "no-store"
    return resp.json()


def authorize(api: httpx.Client, client_id: str, key: str, challenge: str, state: str = "xyz", **extra) -> str:
    """Runs the consent page as a person would; answers the code."""
    params = {"response_type": "code", "client_id": client_id, "redirect_uri": REDIRECT,
              "code_challenge": challenge, "code_challenge_method": "S256", "state": state, "scope": "mcp",
              **extra}
    page = api.get("/oauth/authorize", params=params)
    assert page.status_code == 200, page.text
    assert "Authorize pytest" in page.text and 'name="api_key"' in page.text
    assert page.headers["x-frame-options"] == "DENY"
    decided = api.post("/oauth/authorize", data={**params, "api_key": key, "decision": "approve"})
    assert decided.status_code == 303, decided.text
    location = urllib.parse.urlsplit(decided.headers["location"])
    query = dict(urllib.parse.parse_qsl(location.query))
    assert f"{location.scheme}://{location.netloc}{location.path}" == REDIRECT
    assert query["state"] == state and query["iss"] == str(api.base_url).rstrip("/"), query
    return query["code"]


def token(api: httpx.Client, **form) -> httpx.Response:
    return api.post("/oauth/token", data=form)


def challenge_of(resp: httpx.Response) -> str:
    assert resp.status_code == 401, resp.text
    return resp.headers["www-authenticate"]


def mcp_post(api: httpx.Client, access: str | None) -> httpx.Response:
    headers = {"accept": "application/json, text/event-stream", "content-type": "application/json"}
    if access:
        headers["authorization"] = f"Bearer {access}"
    body = {"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}}
    return api.post("/mcp", json=body, headers=headers)


@pytest.mark.asyncio
async def test_the_whole_oauth_flow(oauth_server):
    org, key = register_org(oauth_server, "mcp-org")
    with http(oauth_server) as api:
        # Unauthenticated: 401 pointing at the resource metadata, which points at the server.
        challenge = challenge_of(mcp_post(api, None))
        metadata_url = re.search(r'resource_metadata="([^"]+)"', challenge).group(1)
        assert metadata_url == f"{oauth_server}/.well-known/oauth-protected-resource/mcp"
        assert "error=" not in challenge
        resource = api.get(metadata_url).json()
        assert resource["resource"] == f"{oauth_server}/mcp"
        assert resource["authorization_servers"] == [oauth_server]
        meta = api.get("/.well-known/oauth-authorization-server").json()
        assert meta["issuer"] == oauth_server
        assert meta["code_challenge_methods_supported"] == ["S256"]
        assert {"authorization_code", "refresh_token"} <= set(meta["grant_types_supported"])
        for endpoint in ("authorization_endpoint", "token_endpoint", "registration_endpoint", "revocation_endpoint"):
            assert meta[endpoint].startswith(oauth_server + "/oauth/"), meta

        client = register_client(api)
        client_id = client["client_id"]
        assert "client_secret" not in client and client["redirect_uris"] == [REDIRECT]

        verifier, challenge = pkce()
        # A wrong key re-shows the page (401), no code.
        params = {"response_type": "code", "client_id": client_id, "redirect_uri": REDIRECT, "code_challenge": challenge,
                  "code_challenge_method": "S256", "state": "s1"}
        wrong = api.post("/oauth/authorize", data={**params, "api_key": "evr_" + "0" * 64, "decision": "approve"})
        assert wrong.status_code == 401 and "not accepted" in wrong.text
        # Declining sends access_denied back.
        denied = api.post("/oauth/authorize", data={**params, "decision": "deny"})
        assert denied.status_code == 303 and "error=access_denied" in denied.headers["location"]
        assert "state=s1" in denied.headers["location"]

        code = authorize(api, client_id, key, challenge, resource=f"{oauth_server}/mcp")
        issued = token(api, grant_type="authorization_code", code=code, redirect_uri=REDIRECT, client_id=client_id,
                       code_verifier=verifier, resource=f"{oauth_server}/mcp")
        assert issued.status_code == 200, issued.text
        assert issued.headers["cache-control"] == "no-store"
        first = issued.json()
        assert first["token_type"] == "Bearer" and first["expires_in"] == 3600 and first["scope"] == "mcp"
        assert first["access_token"].startswith("evr_at_") and first["refresh_token"].startswith("evr_rt_")

        # The token acts for the organization that consented: over REST and over MCP.
        made = api.post("/api/v1/agents", json={"name": "oauth-agent", "system_prompt": "Be brief."},
                        headers={"authorization": key})
        assert made.status_code == 201, made.text
        rest = api.get("/api/v1/agents", headers={"authorization": f"Bearer {first['access_token']}"})
        assert rest.status_code == 200 and [a["name"] for a in rest.json()["data"]] == ["oauth-agent"]

        async with httpx2.AsyncClient(headers={"authorization": f"Bearer {first['access_token']}"},
                                      timeout=httpx2.Timeout(30.0, read=120.0)) as authed:
            async with Client(streamable_http_client(f"{oauth_server}/mcp", http_client=authed)) as mcp:
                listed = await mcp.call_tool("list_agents", {})
                assert [a["name"] for a in listed.structured_content["agents"]] == ["oauth-agent"]
                session = await mcp.call_tool("create_session", {"agent_id": "oauth-agent", "title": "via oauth"})
                assert not session.is_error, session.content
                answer = await mcp.call_tool("send_message", {"session_id": session.structured_content["id"],
                                                              "text": "signed in over OAuth"})
                assert answer.structured_content["status"] == "completed", answer.structured_content
                assert "signed in over OAuth" in answer.structured_content["answer"]

        # Refresh rotates: a new pair; the old refresh token is spent.
        refreshed = token(api, grant_type="refresh_token", refresh_token=first["refresh_token"], client_id=client_id)
        assert refreshed.status_code == 200, refreshed.text
        second = refreshed.json()
        assert second["refresh_token"] != first["refresh_token"] and second["access_token"] != first["access_token"]
        assert mcp_post(api, second["access_token"]).status_code == 200

        # Revoking the refresh token revokes its grant: the access token stops working.
        revoked = api.post("/oauth/revoke", data={"token": second["refresh_token"], "client_id": client_id})
        assert revoked.status_code == 200, revoked.text
        challenge = challenge_of(mcp_post(api, second["access_token"]))
        assert 'error="invalid_token"' in challenge and "resource_metadata=" in challenge, challenge
        assert challenge_of(mcp_post(api, first["access_token"])), "the grant's first access token is revoked too"
        again = token(api, grant_type="refresh_token", refresh_token=second["refresh_token"], client_id=client_id)
        assert again.status_code == 400 and again.json()["error"] == "invalid_grant"
        # Revoking something unknown is not an error (RFC 7009 §2.2).
        assert api.post("/oauth/revoke", data={"token": "nope", "client_id": client_id}).status_code == 200


def test_oauth_bad_input_gets_the_rfc_errors(oauth_server):
    _, key = register_org(oauth_server, "bad-input-org")
    with http(oauth_server) as api:
        client_id = register_client(api)["client_id"]
        verifier, challenge = pkce()
        base = {"response_type": "code", "client_id": client_id, "redirect_uri": REDIRECT,
                "code_challenge": challenge, "code_challenge_method": "S256", "state": "st"}

        # Unknown client and unregistered redirect URI: a page, never a redirect.
        for params in ({**base, "client_id": "evrc_unknown"}, {**base, "redirect_uri": "http://127.0.0.1:9/elsewhere"},
                       {**base, "redirect_uri": "https://evil.example/cb"}):
            page = api.get("/oauth/authorize", params=params)
            assert page.status_code == 400 and "location" not in page.headers, page.text
        # Plain PKCE, no PKCE, another response type: back to the client with the error.
        for params, error in [({**base, "code_challenge_method": "plain"}, "invalid_request"),
                              ({k: v for k, v in base.items() if k not in ("code_challenge", "code_challenge_method")},
                               "invalid_request"),
                              ({**base, "response_type": "token"}, "unsupported_response_type"),
                              ({**base, "scope": "admin"}, "invalid_scope"),
                              ({**base, "resource": "https://other.example/mcp"}, "invalid_target")]:
            resp = api.get("/oauth/authorize", params=params)
            assert resp.status_code == 303, resp.text
            query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(resp.headers["location"]).query))
            assert query["error"] == error and query["state"] == "st", query

        def error_of(resp: httpx.Response, status: int = 400) -> str:
            assert resp.status_code == status, resp.text
            assert resp.headers["cache-control"] == "no-store"
            return resp.json()["error"]

        # A wrong verifier spends the code.
        code = authorize(api, client_id, key, challenge)
        assert error_of(token(api, grant_type="authorization_code", code=code, redirect_uri=REDIRECT,
                              client_id=client_id, code_verifier=pkce()[0])) == "invalid_grant"
        # A reused code is refused and revokes what it issued.
        code = authorize(api, client_id, key, challenge)
        good = token(api, grant_type="authorization_code", code=code, redirect_uri=REDIRECT, client_id=client_id,
                     code_verifier=verifier)
        assert good.status_code == 200, good.text
        assert error_of(token(api, grant_type="authorization_code", code=code, redirect_uri=REDIRECT,
                              client_id=client_id, code_verifier=verifier)) == "invalid_grant"
        assert challenge_of(mcp_post(api, good.json()["access_token"]))
        # Redirect URI mismatch, unknown client, no verifier, unknown grant type, unknown code.
        code = authorize(api, client_id, key, challenge)
        assert error_of(token(api, grant_type="authorization_code", code=code, redirect_uri="http://127.0.0.1:8765/other",
                              client_id=client_id, code_verifier=verifier)) == "invalid_grant"
        assert error_of(token(api, grant_type="authorization_code", code="evr_ac_x", redirect_uri=REDIRECT,
                              client_id="evrc_nobody", code_verifier=verifier), 401) == "invalid_client"
        assert error_of(token(api, grant_type="authorization_code", code="evr_ac_x", redirect_uri=REDIRECT,
                              client_id=client_id)) == "invalid_request"
        assert error_of(token(api, grant_type="password", username="a", client_id=client_id)) == "unsupported_grant_type"
        assert error_of(token(api, grant_type="authorization_code", code="evr_ac_unknown", redirect_uri=REDIRECT,
                              client_id=client_id, code_verifier=verifier)) == "invalid_grant"
        assert error_of(api.post("/oauth/token", json={"grant_type": "refresh_token"})) == "invalid_request"
        # A refresh token of another client, and a replayed one.
        other = register_client(api)["client_id"]
        code = authorize(api, client_id, key, challenge)
        pair = token(api, grant_type="authorization_code", code=code, redirect_uri=REDIRECT, client_id=client_id,
                     code_verifier=verifier).json()
        assert error_of(token(api, grant_type="refresh_token", refresh_token=pair["refresh_token"],
                              client_id=other)) == "invalid_grant"
        assert token(api, grant_type="refresh_token", refresh_token=pair["refresh_token"], client_id=client_id).status_code == 200
        assert error_of(token(api, grant_type="refresh_token", refresh_token=pair["refresh_token"],
                              client_id=client_id)) == "invalid_grant"

        # Registration: RFC 7591 errors.
        for body, error in [({"redirect_uris": ["http://evil.example/cb"]}, "invalid_redirect_uri"),
                            ({"redirect_uris": []}, "invalid_redirect_uri"),
                            ({"redirect_uris": [REDIRECT], "grant_types": ["client_credentials"]}, "invalid_client_metadata"),
                            ({"redirect_uris": [REDIRECT], "token_endpoint_auth_method": "private_key_jwt"},
                             "invalid_client_metadata")]:
            assert error_of(api.post("/oauth/register", json=body)) == error, body
        assert error_of(api.post("/oauth/register", content=b"{", headers={"content-type": "application/json"})) \
            == "invalid_client_metadata"

        # A confidential client: Basic credentials work, a wrong secret is invalid_client.
        confidential = register_client(api, token_endpoint_auth_method="client_secret_basic")
        secret = confidential["client_secret"]
        code = authorize(api, confidential["client_id"], key, challenge)
        basic = httpx.BasicAuth(confidential["client_id"], "wrong")
        assert error_of(api.post("/oauth/token", auth=basic, data={"grant_type": "authorization_code", "code": code,
                                                                  "redirect_uri": REDIRECT, "code_verifier": verifier}),
                        401) == "invalid_client"
        code = authorize(api, confidential["client_id"], key, challenge)
        ok = api.post("/oauth/token", auth=httpx.BasicAuth(confidential["client_id"], secret),
                      data={"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT,
                            "code_verifier": verifier})
        assert ok.status_code == 200, ok.text


def test_an_expired_access_token_is_refused(short_token_server):
    key = BOOTSTRAP
    with http(short_token_server) as api:
        client_id = register_client(api)["client_id"]
        verifier, challenge = pkce()
        code = authorize(api, client_id, key, challenge)
        pair = token(api, grant_type="authorization_code", code=code, redirect_uri=REDIRECT, client_id=client_id,
                     code_verifier=verifier).json()
        assert pair["expires_in"] == 1
        assert mcp_post(api, pair["access_token"]).status_code == 200
        time.sleep(1.2)
        challenge = challenge_of(mcp_post(api, pair["access_token"]))
        assert 'error="invalid_token"' in challenge and "expired" in challenge, challenge
        # The refresh token still works and gives a working access token.
        fresh = token(api, grant_type="refresh_token", refresh_token=pair["refresh_token"], client_id=client_id).json()
        assert mcp_post(api, fresh["access_token"]).status_code == 200


class MemoryStorage:
    def __init__(self) -> None:
        self.tokens: OAuthToken | None = None
        self.client: OAuthClientInformationFull | None = None

    async def get_tokens(self) -> OAuthToken | None:
        return self.tokens

    async def set_tokens(self, tokens: OAuthToken) -> None:
        self.tokens = tokens

    async def get_client_info(self) -> OAuthClientInformationFull | None:
        return self.client

    async def set_client_info(self, client_info: OAuthClientInformationFull) -> None:
        self.client = client_info


@pytest.mark.asyncio
async def test_the_mcp_sdk_signs_in_with_its_own_oauth_provider(oauth_server):
    """The SDK discovers, registers, authorizes (we play the person at the consent page) and calls."""
    _, key = register_org(oauth_server, "sdk-oauth-org")
    landed: dict[str, str] = {}

    async def redirect_handler(url: str) -> None:
        with http(oauth_server) as browser:
            query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(url).query))
            page = browser.get(url)
            assert page.status_code == 200, page.text
            decided = browser.post("/oauth/authorize", data={**query, "api_key": key, "decision": "approve"})
            assert decided.status_code == 303, decided.text
            landed.update(urllib.parse.parse_qsl(urllib.parse.urlsplit(decided.headers["location"]).query))

    async def callback_handler() -> AuthorizationCodeResult:
        return AuthorizationCodeResult(code=landed["code"], state=landed.get("state"), iss=landed.get("iss"))

    storage = MemoryStorage()
    provider = OAuthClientProvider(
        server_url=f"{oauth_server}/mcp",
        client_metadata=OAuthClientMetadata(client_name="pytest", redirect_uris=[REDIRECT],
                                            grant_types=["authorization_code", "refresh_token"],
                                            response_types=["code"]),
        storage=storage,
        redirect_handler=redirect_handler,
        callback_handler=callback_handler,
    )
    async with create_mcp_http_client(auth=provider) as authed:
        async with Client(streamable_http_client(f"{oauth_server}/mcp", http_client=authed)) as mcp:
            tools = await mcp.list_tools()
            assert {t.name for t in tools.tools} == TOOLS
    assert storage.tokens is not None and storage.tokens.access_token.startswith("evr_at_")
    assert storage.client is not None and storage.client.client_id.startswith("evrc_")


def test_cli_login_success_page(server):
    with http(mcp_root(server)) as api:
        page = api.get("/cli/login-success")
        assert page.status_code == 200 and "signed in" in page.text
        assert page.headers["content-type"].startswith("text/html")
