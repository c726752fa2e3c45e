"""The management UI in headless Chromium against the real server: agents, streamed chat, cancel,
provider keys that are never shown back, the friendly failure message, sign-in with an API key,
and the same pages at phone width. Screenshots (light and dark, desktop and phone) are written to
EVERRUNS_UI_SCREENSHOTS when it is set."""

import json
import os
import re
import urllib.request
import uuid

import pytest
from playwright.sync_api import expect

from conftest import Server

SECRET = "sk-ui-test-" + uuid.uuid4().hex


def api(base: str, path: str):
    with urllib.request.urlopen(f"{base}/api{path}", timeout=5) as response:
        return json.loads(response.read())


def model_id(base: str, name: str) -> str:
    return next(m["id"] for m in api(base, "/v1/models?limit=100")["data"] if m["model_id"] == name)


def new_session(page, base: str, model: str) -> None:
    """Starts a session on `model` from the Sessions page and lands in its chat."""
    page.goto(f"{base}/#/sessions")
    page.get_by_label("Start with").select_option(f"model:{model_id(base, model)}")
    page.get_by_role("button", name="New session").click()
    expect(page.get_by_role("textbox", name="Message")).to_be_visible()


def say(page, text: str) -> None:
    page.get_by_role("textbox", name="Message").fill(text)
    page.get_by_role("button", name="Send").click()


def test_the_ui_is_served_at_the_root_with_its_navigation(base_url, open_page):
    page = open_page(f"{base_url}/")
    for name in ["Agents", "Sessions", "Providers"]:
        expect(page.get_by_role("link", name=name, exact=True)).to_be_visible()
    with urllib.request.urlopen(f"{base_url}/") as response:
        assert response.headers["Content-Type"].startswith("text/html")
        assert "default-src 'self'" in response.headers["Content-Security-Policy"]


def test_create_an_agent_and_chat_with_a_streamed_reply(base_url, open_page):
    page = open_page(f"{base_url}/#/agents")
    name = f"ui-agent-{uuid.uuid4().hex[:8]}"
    page.get_by_role("link", name="New agent").click()
    page.get_by_label("Name", exact=True).fill(name)
    page.get_by_label("Display name").fill("UI agent")
    page.get_by_role("button", name="Create agent").click()
    expect(page.get_by_role("heading", name="Edit UI agent")).to_be_visible()
    page.get_by_role("searchbox", name="Search agents").fill(name)
    expect(page.get_by_role("link", name=re.compile(name))).to_be_visible()

    page.get_by_role("button", name="Chat").click()
    say(page, "hello from the browser")
    expect(page.get_by_test_id("agent-message").last).to_have_text("Echo: hello from the browser", timeout=15000)
    # Reloaded, the same transcript comes back once: history, then the stream after its last event.
    page.reload()
    expect(page.get_by_test_id("agent-message")).to_have_count(1)
    expect(page.locator(".bubble.user")).to_have_count(1)


def test_a_slow_turn_streams_and_is_cancelled(base_url, open_page):
    page = open_page(f"{base_url}/")
    new_session(page, base_url, "llmsim-slow")
    say(page, "tell me a long story")
    expect(page.locator(".bubble.agent.streaming")).to_be_visible(timeout=10000)
    page.get_by_role("button", name="Cancel").click()
    expect(page.get_by_text("Turn cancelled")).to_be_visible(timeout=10000)
    expect(page.get_by_role("button", name="Cancel")).to_have_count(0, timeout=10000)


def test_the_friendly_failure_message(base_url, open_page):
    page = open_page(f"{base_url}/")
    new_session(page, base_url, "llmsim-fail")
    say(page, "this will fail")
    failed = page.locator(".bubble.agent.failed")
    expect(failed).to_be_visible(timeout=15000)
    expect(failed).to_contain_text("try again")


def test_a_provider_key_is_never_shown_back(base_url, open_page):
    page = open_page(f"{base_url}/#/providers")
    name = f"ui-openai-{uuid.uuid4().hex[:6]}"
    page.get_by_label("Name", exact=True).fill(name)
    page.get_by_label("Driver").select_option("openai")
    page.get_by_label("API key").fill(SECRET)
    page.get_by_role("button", name="Add provider").click()
    expect(page.get_by_role("status")).to_contain_text(f"{name} added with its key")
    row = page.get_by_role("row").filter(has_text=name)
    expect(row).to_contain_text("Key set")
    assert page.get_by_label("API key").input_value() == ""
    assert SECRET not in page.content()
    page.reload()
    expect(page.get_by_role("row").filter(has_text=name)).to_contain_text("Key set")
    assert SECRET not in page.content()
    assert SECRET not in json.dumps(api(base_url, "/v1/providers?limit=100"))


def test_models_are_enabled_and_disabled(base_url, open_page):
    page = open_page(f"{base_url}/#/providers")
    toggle = page.get_by_role("checkbox", name="Enable llmsim-tools")
    expect(toggle).to_be_checked()
    toggle.uncheck()
    expect(toggle).not_to_be_checked()
    page.reload()
    expect(page.get_by_role("checkbox", name="Enable llmsim-tools")).not_to_be_checked()
    page.get_by_role("checkbox", name="Enable llmsim-tools").check()
    expect(page.get_by_role("checkbox", name="Enable llmsim-tools")).to_be_checked()


def test_the_org_default_model_is_set_and_unset(base_url, open_page):
    page = open_page(f"{base_url}/#/providers")
    default = page.get_by_label("Default model")
    expect(default).to_have_value("")
    expect(default.locator("option").first).to_have_text("Deployment default (llmsim-echo)")
    tools = model_id(base_url, "llmsim-tools")
    default.select_option(tools)
    expect(page.get_by_role("status")).to_have_text("Default model saved.")
    assert api(base_url, "/v1/organization/settings")["default_model_id"] == tools
    page.reload()
    expect(page.get_by_label("Default model")).to_have_value(tools)
    # Back to the deployment's default, so the other tests' sessions keep theirs.
    page.get_by_label("Default model").select_option("")
    expect(page.get_by_role("status")).to_have_text("Default model saved.")
    assert api(base_url, "/v1/organization/settings")["default_model_id"] is None


def test_the_events_inspector_lists_a_sessions_events(base_url, open_page):
    page = open_page(f"{base_url}/")
    new_session(page, base_url, "llmsim-echo")
    say(page, "inspect me")
    expect(page.get_by_test_id("agent-message").last).to_have_text("Echo: inspect me", timeout=15000)
    page.get_by_role("link", name="Events").click()
    expect(page.get_by_role("cell", name="turn.completed")).to_be_visible()
    page.get_by_role("searchbox", name="Filter events by type").fill("input.")
    expect(page.get_by_role("cell", name="input.message")).to_be_visible()
    expect(page.get_by_role("cell", name="turn.completed")).to_have_count(0)


@pytest.mark.skipif(bool(os.environ.get("EVERRUNS_UI_BASE_URL")), reason="starts its own server")
def test_sign_in_with_an_api_key(open_page):
    key = "evr_" + uuid.uuid4().hex + uuid.uuid4().hex
    server = Server({"AUTH_MODE": "api_key", "AUTH_BOOTSTRAP_API_KEY": key})
    try:
        # The refused key's 401 is the one console error this test expects.
        page = open_page(f"{server.base}/", allowed="status of 401")
        expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
        page.get_by_label("API key").fill("evr_wrong")
        page.get_by_role("button", name="Sign in").click()
        expect(page.get_by_role("alert")).to_be_visible()
        page.get_by_label("API key").fill(key)
        page.get_by_role("button", name="Sign in").click()
        expect(page.get_by_role("heading", name="Agents")).to_be_visible()
        assert page.evaluate("sessionStorage.getItem('everruns.apiKey')") == key
    finally:
        server.stop()


@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize("width,height,label", [(1280, 860, "desktop"), (390, 844, "phone")])
def test_pages_fit_and_are_captured(base_url, open_page, scheme, width, height, label):
    page = open_page(f"{base_url}/", width=width, height=height, scheme=scheme)
    new_session(page, base_url, "llmsim-echo")
    say(page, "Show me what you can do")
    expect(page.get_by_test_id("agent-message").last).to_contain_text("Echo:", timeout=15000)
    for button in ["Send"]:
        expect(page.get_by_role("button", name=button)).to_be_in_viewport()
    overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 0, f"the page scrolls sideways by {overflow}px at {width}px"
    target = os.environ.get("EVERRUNS_UI_SCREENSHOTS")
    if target:
        os.makedirs(target, exist_ok=True)
        page.screenshot(path=os.path.join(target, f"chat-{label}-{scheme}.png"))
        page.goto(f"{base_url}/#/agents")
        expect(page.get_by_role("heading", name="Agents")).to_be_visible()
        page.screenshot(path=os.path.join(target, f"agents-{label}-{scheme}.png"))
