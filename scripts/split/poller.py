"""Plays the Lambda SQS event source mapping for the local split (scripts/split-up).

Receives batches from the task queue, invokes the worker function through cargo lambda watch's
local invoke endpoint with an SQS event, and deletes the records the function did not name in
`batchItemFailures` (ReportBatchItemFailures semantics). Records that fail stay in the queue and
come back after their visibility timeout; the queue's redrive policy moves them to the DLQ.

Only 127.0.0.1 endpoints. Needs boto3 (installed with moto).
"""

from __future__ import annotations

import argparse
import http.client
import json
import sys
import threading
import time
import urllib.parse
from concurrent.futures import ThreadPoolExecutor

import boto3


def sqs_event(queue_arn: str, messages: list[dict]) -> dict:
    return {
        "Records": [
            {
                "messageId": m["MessageId"],
                "receiptHandle": m["ReceiptHandle"],
                "body": m["Body"],
                "attributes": {k: str(v) for k, v in m.get("Attributes", {}).items()},
                "messageAttributes": {},
                "md5OfBody": m.get("MD5OfBody", ""),
                "eventSource": "aws:sqs",
                "eventSourceARN": queue_arn,
                "awsRegion": "us-east-1",
            }
            for m in messages
        ]
    }


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--queue-url", required=True)
    ap.add_argument("--invoke-url", required=True, help="cargo lambda watch invoke URL of the worker function")
    ap.add_argument("--batch-size", type=int, default=10)
    ap.add_argument("--concurrency", type=int, default=4)
    ap.add_argument("--dwell-log", help="append each message's wait in the queue (ms) to this file")
    args = ap.parse_args()
    sqs = boto3.client("sqs")
    arn = sqs.get_queue_attributes(QueueUrl=args.queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    print(f"poller: {args.queue_url} -> {args.invoke_url}", flush=True)
    # Like the event source mapping, several batches may be in flight at once (one per
    # concurrent function instance).
    slots = threading.Semaphore(args.concurrency)
    pool = ThreadPoolExecutor(max_workers=args.concurrency)
    while True:
        slots.acquire()
        try:
            got = sqs.receive_message(QueueUrl=args.queue_url, MaxNumberOfMessages=args.batch_size,
                                      WaitTimeSeconds=1, AttributeNames=["All"])
        except Exception as exc:  # moto restarting: keep going
            print(f"poller: receive failed: {exc}", file=sys.stderr, flush=True)
            slots.release()
            time.sleep(1)
            continue
        messages = got.get("Messages", [])
        if not messages:
            slots.release()
            continue
        if args.dwell_log:
            log_dwell(args.dwell_log, messages)
        pool.submit(invoke, sqs, args, arn, messages, slots)


def log_dwell(path: str, messages: list[dict]) -> None:
    """The queue poll interval each message saw: SentTimestamp (ms, truncated) → received here."""
    now = time.time() * 1000
    with open(path, "a") as log:
        for m in messages:
            sent = int(m.get("Attributes", {}).get("SentTimestamp", now))
            log.write(f"{m['MessageId']} {max(0.0, now - sent - 0.5):.1f}\n")


_local = threading.local()


def post(url: str, body: bytes) -> bytes:
    """POSTs on this thread's kept-alive connection (opened again once if it went stale)."""
    target = urllib.parse.urlparse(url)
    for attempt in (1, 2):
        conn = getattr(_local, "conn", None)
        if conn is None:
            conn = _local.conn = http.client.HTTPConnection(target.hostname, target.port, timeout=900)
        try:
            conn.request("POST", target.path, body, {"Content-Type": "application/json"})
            response = conn.getresponse()
            data = response.read()
        except (ConnectionError, http.client.HTTPException):
            conn.close()
            _local.conn = None
            if attempt == 2:
                raise
            continue
        if response.status >= 300:
            raise RuntimeError(f"invoke answered {response.status}: {data[:200]!r}")
        return data
    raise AssertionError("unreachable")


def invoke(sqs, args, arn: str, messages: list[dict], slots: threading.Semaphore) -> None:
    try:
        body = json.dumps(sqs_event(arn, messages)).encode()
        try:
            answer = json.loads(post(args.invoke_url, body) or b"{}")
        except Exception as exc:  # the function crashed or timed out: every record is retried
            print(f"poller: invocation failed ({exc}); the batch will be redelivered", file=sys.stderr, flush=True)
            return
        failed = {f.get("itemIdentifier") for f in (answer or {}).get("batchItemFailures", [])}
        for m in messages:
            if m["MessageId"] not in failed:
                sqs.delete_message(QueueUrl=args.queue_url, ReceiptHandle=m["ReceiptHandle"])
    finally:
        slots.release()

if __name__ == "__main__":
    sys.exit(main())
