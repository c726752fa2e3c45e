"""Cancel latency through the local serverless split (scripts/split-up must be up): a turn on
`llmsim-slow` runs in a worker function; 200–400 ms after its first delta, `POST /cancel` goes
through the API function. The worker function learns of it over its gRPC `WatchTurn` stream from
the bridge (the API function's `turn.cancelled` reaches the bridge through PostgreSQL), drops the
driver's stream and stores the cancellation message. The driver runs in another process here, so
the figure is cancel sent → the cancellation message read on the bridge's SSE stream: an upper
bound of the drop (the engine stores that message right after dropping the stream). Also
reported: deltas read after the cancel answered, and cancel sent → session idle (REST).

    python3 scripts/split/bench_cancel.py --api $EVERRUNS_API_URL --sse $EVERRUNS_SSE_URL [--runs 30]
"""

from __future__ import annotations

import argparse
import http.client
import queue
import threading
import time
import urllib.parse

from bench_turn import call  # the same JSON call helper (this folder is on sys.path when run)

CANCELLED_TEXT = "Work was cancelled by user."


def stream(sse_base: str, session: str, records: "queue.Queue[tuple[float, str, str]]") -> None:
    url = urllib.parse.urlparse(f"{sse_base}/v1/sessions/{session}/sse")
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=600)
    conn.request("GET", url.path, headers={"Accept": "text/event-stream"})
    response = conn.getresponse()
    event = ""
    while True:
        line = response.readline()
        if not line:
            return
        text = line.decode().rstrip("\n")
        if text.startswith("event: "):
            event = text[7:]
        elif text.startswith("data: "):
            records.put((time.perf_counter(), event, text[6:]))


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[round((len(ordered) - 1) * p)]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--api", required=True)
    ap.add_argument("--sse", required=True)
    ap.add_argument("--runs", type=int, default=30)
    args = ap.parse_args()
    models = call(args.api, "GET", "/v1/models")["data"]
    slow = next(m["id"] for m in models if m["model_id"] == "llmsim-slow")
    to_message, to_idle, late = [], [], []
    for run in range(args.runs):
        session = call(args.api, "POST", "/v1/sessions", {"model_id": slow})["id"]
        records: queue.Queue = queue.Queue()
        threading.Thread(target=stream, args=(args.sse, session, records), daemon=True).start()
        while records.get(timeout=30)[1] != "connected":
            pass
        call(args.api, "POST", f"/v1/sessions/{session}/messages",
             {"message": {"role": "user", "content": [{"type": "text", "text": "a long story"}]}})
        while records.get(timeout=60)[1] != "output.message.delta":
            pass
        time.sleep(0.2 + (run * 37 % 200) / 1000)
        sent = time.perf_counter()
        call(args.api, "POST", f"/v1/sessions/{session}/cancel", {})
        answered = time.perf_counter()
        while call(args.api, "GET", f"/v1/sessions/{session}")["status"] != "idle":
            if time.perf_counter() - sent > 10:
                raise SystemExit(f"run {run}: not idle 10 s after the cancel")
            time.sleep(0.005)
        to_idle.append((time.perf_counter() - sent) * 1000)
        deltas = 0
        while True:
            at, event, data = records.get(timeout=30)
            if event == "output.message.delta" and at > answered:
                deltas += 1
            if event == "output.message.completed" and CANCELLED_TEXT in data:
                to_message.append((at - sent) * 1000)
            if event == "session.idled":
                break
        late.append(deltas)
    print(f"cancel through the split ({args.runs} runs, llmsim-slow)")
    print(f"cancel sent → cancellation message on SSE  p50 {percentile(to_message, 0.5):.1f} ms  "
          f"p99 {percentile(to_message, 0.99):.1f} ms  max {max(to_message):.1f} ms")
    print(f"cancel sent → session idle (REST)          p50 {percentile(to_idle, 0.5):.1f} ms  "
          f"p99 {percentile(to_idle, 0.99):.1f} ms  max {max(to_idle):.1f} ms")
    print(f"deltas read after the cancel answered: total {sum(late)}, at most {max(late)} in one run")


if __name__ == "__main__":
    main()
