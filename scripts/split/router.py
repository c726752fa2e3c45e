"""The local stand-in for the load balancer of the split (scripts/split-up): one 127.0.0.1 port
where SSE paths (`/api/v1/sessions/{id}/sse`) reach the bridge and everything else reaches the API
function served by cargo lambda watch (under `/lambda-url/<function>`). One request per
connection (`Connection: close`), bytes piped both ways, so SSE streams flow unbuffered.
"""

from __future__ import annotations

import argparse
import asyncio
import re

SSE = re.compile(rb"^/(api/)?v1/sessions/[^/?]+/sse(\?|$)")


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
    if SSE.match(target):
        upstream, path = bridge, target
    else:
        upstream, path = api, api_prefix + target
    headers = [l for l in lines[1:] if not l.lower().startswith((b"connection:", b"host:"))]
    headers += [b"Host: %s:%d" % (upstream[0].encode(), upstream[1]), b"Connection: close"]
    try:
        up_r, up_w = await asyncio.open_connection(*upstream)
    except OSError:
        client_w.write(b"HTTP/1.1 502 Bad Gateway\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
        await client_w.drain()
        client_w.close()
        return
    up_w.write(b" ".join([method, path, version]) + b"\r\n" + b"\r\n".join(headers) + b"\r\n\r\n")
    await asyncio.gather(pipe(client_r, up_w), pipe(up_r, client_w))


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
