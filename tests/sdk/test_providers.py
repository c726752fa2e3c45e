"""10. Provider API keys are stored but never echoed (the SDK has no providers client: raw HTTP)."""

from __future__ import annotations

import uuid

import pytest

from conftest import ID_RE

pytestmark = pytest.mark.asyncio

SECRET = "sk-test-SECRET123"


def assert_no_secret(resp, secret: str = SECRET) -> None:
    assert secret not in resp.text, f"{resp.request.method} {resp.request.url} echoed the key"
    assert "SECRET123" not in resp.text


async def test_provider_key_is_never_echoed(client, api):
    name = f"sdk-openai-{uuid.uuid4().hex[:8]}"
    created = await api.post(
        "v1/providers", json={"name": name, "provider_type": "openai", "api_key": SECRET}
    )
    assert created.status_code == 201, created.text
    assert_no_secret(created)
    provider = created.json()
    assert ID_RE["provider"].match(provider["id"]), provider
    assert provider["name"] == name
    assert provider["provider_type"] == "openai"
    assert provider["api_key_set"] is True
    assert "api_key" not in provider
    assert provider["status"] in ("active", "disabled")

    got = await api.get(f"v1/providers/{provider['id']}")
    assert got.status_code == 200, got.text
    assert_no_secret(got)
    assert got.json()["api_key_set"] is True

    listed = await api.get("v1/providers")
    assert listed.status_code == 200, listed.text
    assert_no_secret(listed)
    mine = [p for p in listed.json()["data"] if p["id"] == provider["id"]]
    assert len(mine) == 1 and mine[0]["api_key_set"] is True

    # A key rotation is not echoed either.
    patched = await api.patch(f"v1/providers/{provider['id']}", json={"api_key": "sk-test-OTHER456"})
    assert patched.status_code == 200, patched.text
    assert "OTHER456" not in patched.text
    assert patched.json()["api_key_set"] is True

    # Nowhere else either (models carry provider info; the SDK still parses them).
    models = await api.get("v1/models")
    assert models.status_code == 200
    assert_no_secret(models)
    assert "OTHER456" not in models.text
    await client.models.list()

    # A provider created without a key reports api_key_set false.
    keyless = await api.post(
        "v1/providers", json={"name": f"{name}-nokey", "provider_type": "openai"}
    )
    assert keyless.status_code == 201, keyless.text
    assert keyless.json()["api_key_set"] is False

    for pid in (provider["id"], keyless.json()["id"]):
        deleted = await api.delete(f"v1/providers/{pid}")
        assert deleted.status_code == 204, deleted.text
