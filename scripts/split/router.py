"""The local stand-in for the load balancer of the split (scripts/split-up): one 127.0.0.1 port
where SSE paths (`/api/v1/sessions/{id}/sse`) and the MCP endpoint (`/mcp`) reach the bridge and
everything else reaches the API function served by cargo lambda watch (under
`/lambda-url/<function>`). Like the deployed edge, it tells both the public host in
`X-Forwarded-Host` (OAuth's issuer is built from it). One request per
connection (`Connection: close`), bytes piped both ways, so SSE streams flow unbuffered.

cargo lambda watch (1.9) sometimes answers a function's perfectly good response with its own
`500 {"type":"https://httpstatuses.com/500",…}` (about 1 request in 100 with a large body: the
emulator acknowledges the function's response before it has read the body, and loses the race).
API Gateway has no such failure, so idempotent requests (GET, HEAD, PUT, DELETE) that meet it are
sent again, up to three times; a POST is passed through as it is (it may have taken effect). The
function instance behind such a 500 can stay stuck (a CI run saw the resent GET wait 30 s), so an
idempotent attempt that gets no answer within ATTEMPT_TIMEOUT seconds is sent again too (a busy
instance makes the emulator start another).
"""

from __future__ import annotations

import argparse
import asyncio
import re

SSE = re.compile(rb"^/(api/)?v1/sessions/[^/?]+/sse(\?|$)")
MCP = re.compile(rb"^/mcp/?(\?|$)")
IDEMPOTENT = {b"GET", b"HEAD", b"PUT", b"DELETE"}
EMULATOR_FAILURE = b"httpstatuses.com/500"
RETRIES = 3
ATTEMPT_TIMEOUT = 8.0


async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while chunk := await reader.read(65536):
            writer.write(chunk)
            await writer.drain()
    except (ConnectionError, asyncio.CancelledError):
        pass
    finally:
        try:
            writer.close()
        except Exception:
            pass


async def handle(client_r, client_w, bridge: tuple[str, int], api: tuple[str, int], api_prefix: bytes) -> None:
    try:
        head = await client_r.readuntil(b"\r\n\r\n")
    except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
        client_w.close()
        return
    lines = head[:-4].split(b"\r\n")
    method, target, version = lines[0].split(b" ", 2)
    if SSE.match(target) or MCP.match(target):
        upstream, path = bridge, target
    else:
        upstream, path = api, api_prefix + target
    public_host = next((l.split(b":", 1)[1].strip() for l in lines[1:] if l.lower().startswith(b"host:")), None)
    headers = [l for l in lines[1:] if not l.lower().startswith((b"connection:", b"host:", b"x-forwarded-host:"))]
    headers += [b"Host: %s:%d" % (upstream[0].encode(), upstream[1]), b"Connection: close"]
    if public_host:
        headers.append(b"X-Forwarded-Host: " + public_host)
    request_head = b" ".join([method, path, version]) + b"\r\n" + b"\r\n".join(headers) + b"\r\n\r\n"
    length = content_length(lines)
    if upstream == api and method in IDEMPOTENT and length is not None:
        await replayable(client_r, client_w, upstream, request_head, length)
        return
    try:
        up_r, up_w = await asyncio.open_connection(*upstream)
    except OSError:
        await bad_gateway(client_w)
        return
    up_w.write(request_head)
    await asyncio.gather(pipe(client_r, up_w), pipe(up_r, client_w))


def content_length(lines: list[bytes]) -> int | None:
    """The request body's length: 0 without one, None when chunked (not replayable)."""
    length = 0
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"transfer-encoding":
            return None
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    return length


async def replayable(client_r, client_w, upstream, request_head: bytes, length: int) -> None:
    """Sends a buffered idempotent request, again if the emulator itself failed it."""
    try:
        body = await client_r.readexactly(length)
    except (asyncio.IncompleteReadError, ConnectionError):
        client_w.close()
        return
    for attempt in range(RETRIES + 1):
        try:
            up_r, up_w = await asyncio.open_connection(*upstream)
        except OSError:
            await bad_gateway(client_w)
            return
        up_w.write(request_head + body)
        try:
            response = await asyncio.wait_for(up_r.read(), ATTEMPT_TIMEOUT if attempt < RETRIES else None)
        except asyncio.TimeoutError:
            up_w.close()
            print(f"router: no answer in {ATTEMPT_TIMEOUT} s; sending {request_head.split(b' ', 2)[1].decode()} again",
                  flush=True)
            continue
        up_w.close()
        status = response.split(b"\r\n", 1)[0]
        if b" 500 " in status + b" " and EMULATOR_FAILURE in response and attempt < RETRIES:
            print(f"router: cargo lambda watch failed a response; sending {request_head.split(b' ', 2)[1].decode()} again",
                  flush=True)
            continue
        client_w.write(response)
        try:
            await client_w.drain()
        except ConnectionError:
            pass
        client_w.close()
        return


async def bad_gateway(client_w) -> None:
    client_w.write(b"HTTP/1.1 502 Bad Gateway\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
    await client_w.drain()
    client_w.close()


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--bridge", required=True, help="host:port of the bridge")
    ap.add_argument("--api", required=True, help="host:port of cargo lambda watch")
    ap.add_argument("--api-function", default="everruns-api")
    args = ap.parse_args()
    split = lambda s: (s.rsplit(":", 1)[0], int(s.rsplit(":", 1)[1]))
    bridge, api = split(args.bridge), split(args.api)
    prefix = f"/lambda-url/{args.api_function}".encode()
    server = await asyncio.start_server(lambda r, w: handle(r, w, bridge, api, prefix), "127.0.0.1", args.port)
    print(f"router: 127.0.0.1:{args.port} (SSE -> {args.bridge}, rest -> {args.api}{prefix.decode()})", flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main())
