"""Turn overhead through the local serverless split (scripts/split-up must be up):
POST a message through the API function → `turn.completed` read on the bridge's SSE stream, with
the 0-latency `llmsim-echo` model. Sequential turns after a warm-up, `--per-session` turns on each
session; with 40 or more per session it also reports the p50 of each session's first 20 turns
against its last 20 (an iteration's context load should not grow with the session).

    python3 scripts/split/bench_turn.py --api $EVERRUNS_API_URL --sse $EVERRUNS_SSE_URL [--turns 100]
"""

from __future__ import annotations

import argparse
import http.client
import json
import queue
import statistics
import threading
import time
import urllib.parse
import urllib.request


def call(base: str, method: str, path: str, body=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(base + path, method=method, data=data, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as response:
        return json.loads(response.read() or b"null")


def stream(sse_base: str, session: str, lines: "queue.Queue[tuple[float, str]]") -> None:
    url = urllib.parse.urlparse(f"{sse_base}/v1/sessions/{session}/sse")
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=600)
    conn.request("GET", url.path, headers={"Accept": "text/event-stream"})
    response = conn.getresponse()
    while True:
        line = response.readline()
        if not line:
            return
        lines.put((time.perf_counter(), line.decode().rstrip()))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--api", required=True)
    ap.add_argument("--sse", required=True)
    ap.add_argument("--turns", type=int, default=100)
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--per-session", type=int, default=1)
    ap.add_argument("--dwell-log", help="the poller's --dwell-log: report the overhead beyond the queue wait too")
    args = ap.parse_args()
    samples, beyond = [], []
    dwell_seen = 0
    if args.dwell_log:
        with open(args.dwell_log, "a+") as log:
            log.seek(0)
            dwell_seen = len(log.read().splitlines())
    lines: queue.Queue = queue.Queue()
    session = ""
    for i in range(args.warmup + args.turns):
        if i % args.per_session == 0:
            session = call(args.api, "POST", "/v1/sessions", {})["id"]
            lines = queue.Queue()
            threading.Thread(target=stream, args=(args.sse, session, lines), daemon=True).start()
            while "connected" not in lines.get(timeout=30)[1]:
                pass
        started = time.perf_counter()
        message = {"message": {"role": "user", "content": [{"type": "text", "text": f"turn {i}"}]}}
        call(args.api, "POST", f"/v1/sessions/{session}/messages", message)
        while True:
            at, line = lines.get(timeout=60)
            if line == "event: turn.completed":
                break
        # Let session.idled arrive before the next message.
        while True:
            _, line = lines.get(timeout=60)
            if line == "event: session.idled":
                break
        # The queue waits of this turn's messages (one per iteration).
        waited = 0.0
        if args.dwell_log:
            with open(args.dwell_log) as log:
                entries = log.read().splitlines()
            waited = sum(float(e.split()[1]) for e in entries[dwell_seen:])
            dwell_seen = len(entries)
        if i >= args.warmup:
            samples.append((at - started) * 1000)
            beyond.append((at - started) * 1000 - waited)
    report("split turn (POST via API function -> turn.completed on bridge SSE)", samples, args.per_session)
    if args.per_session >= 40 and args.warmup == 0:
        growth(samples, args.per_session)
    if args.dwell_log:
        report("  beyond the queue poll interval (SentTimestamp -> received by the poller)", beyond, args.per_session)


def growth(samples: list[float], per_session: int) -> None:
    """p50 of the first 20 turns of each session against its last 20 (samples in posting order)."""
    sessions = [samples[i:i + per_session] for i in range(0, len(samples), per_session)]
    sessions = [s for s in sessions if len(s) == per_session]
    first = sorted(t for s in sessions for t in s[:20])
    last = sorted(t for s in sessions for t in s[-20:])
    a, b = statistics.median(first), statistics.median(last)
    print(f"one session, turns 1-20 p50 {a:.1f} ms | turns {per_session - 19}-{per_session} p50 {b:.1f} ms | ratio {b / a:.2f}")


def report(title: str, samples: list[float], per_session: int) -> None:
    samples = sorted(samples)
    p = lambda q: samples[round((len(samples) - 1) * q)]
    print(f"{title}, {len(samples)} turns, {per_session} per session: "
          f"p50 {p(0.5):.1f} ms, p99 {p(0.99):.1f} ms, mean {statistics.mean(samples):.1f} ms, max {samples[-1]:.1f} ms")


if __name__ == "__main__":
    main()
