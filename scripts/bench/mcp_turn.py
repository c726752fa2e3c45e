#!/usr/bin/env python3
"""Benchmark: a turn through `/mcp` (JSON-RPC `tools/call send_message`, which posts the message and
answers when the turn ends) against the same turn over REST (post the message, read the session's
SSE stream to `turn.completed`). Raw HTTP with httpx, so the figures are the server's, not an SDK's.

    python3 scripts/bench/mcp_turn.py --root http://127.0.0.1:9000 --turns 200 [--token evr_at_…]

Prints p50/p95/mean per shape: `mcp` (JSON answer), `mcp+progress` (a progress token: the answer
streams as SSE notifications) and `rest+sse`; each turn in a fresh session (created untimed)."""

from __future__ import annotations

import argparse
import json
import statistics
import time

import httpx

MCP_HEADERS = {"accept": "application/json, text/event-stream", "content-type": "application/json"}


def rpc(client: httpx.Client, method: str, params: dict, progress: str | None = None) -> dict:
    if progress is not None:
        params = {**params, "_meta": {"progressToken": progress}}
    body = {"jsonrpc": "2.0", "id": 1, "method": method, "params": params}
    resp = client.post("/mcp", json=body, headers=MCP_HEADERS)
    resp.raise_for_status()
    if resp.headers["content-type"].startswith("text/event-stream"):
        for line in resp.text.splitlines():
            if line.startswith("data:"):
                message = json.loads(line[5:])
                if message.get("id") == 1:
                    return message
        raise RuntimeError("no answer in the stream")
    return resp.json()


def call(client: httpx.Client, tool: str, args: dict, progress: str | None = None) -> dict:
    answer = rpc(client, "tools/call", {"name": tool, "arguments": args}, progress)
    result = answer["result"]
    if result.get("isError"):
        raise RuntimeError(result["content"])
    return result["structuredContent"]


def rest_turn(client: httpx.Client, session: str) -> None:
    with client.stream("GET", f"/api/v1/sessions/{session}/sse", params={"types": "turn.completed"}) as stream:
        client.post(f"/api/v1/sessions/{session}/messages",
                    json={"message": {"content": [{"type": "text", "text": "bench"}]}}).raise_for_status()
        for line in stream.iter_lines():
            if line.startswith("event: turn.completed"):
                return


def summary(name: str, samples: list[float]) -> str:
    ordered = sorted(samples)
    p = lambda q: ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000  # noqa: E731
    return f"{name:14} n={len(samples)} p50={p(0.5):.2f} ms p95={p(0.95):.2f} ms mean={statistics.mean(samples) * 1000:.2f} ms"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--root", default="http://127.0.0.1:9000")
    parser.add_argument("--turns", type=int, default=200)
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--token", help="a Bearer token or API key (AUTH_MODE=api_key)")
    args = parser.parse_args()
    headers = {"authorization": f"Bearer {args.token}"} if args.token else {}
    with httpx.Client(base_url=args.root, headers=headers, timeout=60.0, trust_env=False) as client:
        results: dict[str, list[float]] = {"mcp": [], "mcp+progress": [], "rest+sse": []}
        for i in range(args.warmup + args.turns):
            for shape in results:
                session = call(client, "create_session", {"title": "bench"})["id"]
                started = time.perf_counter()
                if shape == "rest+sse":
                    rest_turn(client, session)
                else:
                    ended = call(client, "send_message", {"session_id": session, "text": "bench"},
                                 progress=f"p{i}" if shape == "mcp+progress" else None)
                    assert ended["status"] == "completed", ended
                elapsed = time.perf_counter() - started
                if i >= args.warmup:
                    results[shape].append(elapsed)
                client.delete(f"/api/v1/sessions/{session}")
        for shape, samples in results.items():
            print(summary(shape, samples))


if __name__ == "__main__":
    main()
