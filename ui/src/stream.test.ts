import { describe, expect, it } from "vitest";
import { SseParser, apply, emptyTranscript, follow, type LiveEvent, type Transcript } from "./stream";

const run = (events: LiveEvent[], from: Transcript = emptyTranscript()) => events.reduce(apply, from);

const user = (id: string, text: string): LiveEvent => ({
  id,
  type: "input.message",
  data: { message: { id: `msg_${id}`, role: "user", content: [{ type: "text", text }] } },
});
const delta = (delta: string, accumulated: string): LiveEvent => ({
  type: "output.message.delta",
  data: { turn_id: "turn_1", message_id: "msg_out", delta, accumulated },
});
const completed = (id: string, text: string, error_code?: string): LiveEvent => ({
  id,
  type: "output.message.completed",
  data: { message: { id: "msg_out", role: "agent", content: [{ type: "text", text }] }, error_code },
});

describe("SseParser", () => {
  it("joins records split across chunks and drops heartbeat comments", () => {
    const parser = new SseParser();
    expect(parser.push("event: connected\nretry: 100\ndata: {}\n\n: heart")).toEqual([
      { event: "connected", data: "{}", retry: 100 },
    ]);
    expect(parser.push("beat\n\nevent: turn.started\nid: ev_1\nda")).toEqual([]);
    expect(parser.push('ta: {"a":1}\r\n\r\n')).toEqual([{ event: "turn.started", id: "ev_1", data: '{"a":1}' }]);
  });

  it("joins multi-line data", () => {
    expect(new SseParser().push("data: one\ndata: two\n\n")).toEqual([{ event: "message", data: "one\ntwo" }]);
  });
});

describe("the transcript", () => {
  it("streams deltas into one answer that the completed message settles", () => {
    let t = run([user("ev_1", "hi"), { id: "ev_2", type: "turn.started", data: {} }, delta("Ec", "Ec"), delta("ho", "Echo")]);
    expect(t.running).toBe(true);
    expect(t.items.map((i) => i.kind)).toEqual(["user", "assistant"]);
    expect(t.items[1]).toMatchObject({ text: "Echo", streaming: true });
    t = run([completed("ev_3", "Echo: hi"), { id: "ev_4", type: "turn.completed", data: {} }], t);
    expect(t.items[1]).toMatchObject({ text: "Echo: hi", streaming: false, failed: false });
    expect(t.running).toBe(false);
  });

  it("applies each event once, so a replay after since_id repeats nothing", () => {
    const first = [user("ev_1", "hi"), completed("ev_2", "Echo: hi")];
    const t = run(first);
    const replayed = run([...first, user("ev_5", "again")], t);
    expect(replayed.items.map((i) => i.kind)).toEqual(["user", "assistant", "user"]);
    expect(replayed.lastId).toBe("ev_5");
  });

  it("marks the friendly failure message", () => {
    const t = run([user("ev_1", "hi"), completed("ev_2", "Please try again later.", "provider_unavailable")]);
    expect(t.items[1]).toMatchObject({ kind: "assistant", failed: true });
  });

  it("shows tool calls with their results and client-tool requests", () => {
    const t = run([
      { id: "ev_1", type: "tool.started", data: { tool_call: { id: "call_1", name: "current_time", arguments: {} } } },
      { id: "ev_2", type: "tool.completed", data: { tool_call_id: "call_1", tool_name: "current_time", success: true, result: [{ type: "text", text: "12:00" }] } },
      { id: "ev_3", type: "tool.call_requested", data: { tool_calls: [{ id: "call_2", name: "open_file", arguments: { path: "a" } }] } },
    ]);
    expect(t.items[0]).toMatchObject({ kind: "tool", status: "done", result: "12:00" });
    expect(t.items[1]).toMatchObject({ kind: "client-tool", callId: "call_2", name: "open_file", answered: false });
  });

  it("notes a cancelled turn", () => {
    const t = run([{ id: "ev_1", type: "turn.started", data: {} }, { id: "ev_2", type: "turn.cancelled", data: {} }]);
    expect(t.running).toBe(false);
    expect(t.items.at(-1)).toMatchObject({ kind: "notice", text: "Turn cancelled" });
  });
});

describe("follow", () => {
  it("reconnects after disconnecting with since_id = the last persisted event", async () => {
    const urls: string[] = [];
    const bodies = [
      "event: connected\ndata: {}\n\nevent: input.message\nid: ev_1\ndata: {\"id\":\"ev_1\",\"type\":\"input.message\",\"data\":{}}\n\nevent: disconnecting\nretry: 1\ndata: {}\n\n",
      "event: connected\ndata: {}\n\nevent: turn.completed\nid: ev_2\ndata: {\"id\":\"ev_2\",\"type\":\"turn.completed\",\"data\":{}}\n\n",
    ];
    const abort = new AbortController();
    const seen: string[] = [];
    const original = globalThis.fetch;
    globalThis.fetch = (async (url: string) => {
      urls.push(url);
      const body = bodies.shift();
      if (body === undefined) {
        abort.abort();
        throw new Error("stop");
      }
      return new Response(body, { status: 200 });
    }) as typeof fetch;
    try {
      await follow({
        url: (since) => `/sse${since ? `?since_id=${since}` : ""}`,
        headers: () => ({}),
        onEvent: (e) => seen.push(`${e.type}:${e.id}`),
        signal: abort.signal,
      });
    } finally {
      globalThis.fetch = original;
    }
    expect(seen).toEqual(["input.message:ev_1", "turn.completed:ev_2"]);
    expect(urls.slice(0, 3)).toEqual(["/sse", "/sse?since_id=ev_1", "/sse?since_id=ev_2"]);
  });
});
