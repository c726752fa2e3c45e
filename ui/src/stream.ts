// A session's live events: an incremental SSE parser, the chat transcript built from events (each
// event applied once, by id, so a reconnect with since_id neither loses nor repeats anything), and
// a follower that keeps the stream open, resuming after the last event it saw. fetch, not
// EventSource: EventSource cannot send the Authorization header an API key needs.

export interface SseRecord {
  event: string;
  id?: string;
  data: string;
  retry?: number;
}

/** Turns chunks of a text/event-stream into records; comments (heartbeats) are dropped. */
export class SseParser {
  private buffer = "";

  push(chunk: string): SseRecord[] {
    this.buffer += chunk.replace(/\r\n?/g, "\n");
    const records: SseRecord[] = [];
    let end: number;
    while ((end = this.buffer.indexOf("\n\n")) >= 0) {
      const block = this.buffer.slice(0, end);
      this.buffer = this.buffer.slice(end + 2);
      const record: SseRecord = { event: "message", data: "" };
      const data: string[] = [];
      let fields = 0;
      for (const line of block.split("\n")) {
        if (line === "" || line.startsWith(":")) continue;
        const colon = line.indexOf(":");
        const name = colon < 0 ? line : line.slice(0, colon);
        const value = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
        fields++;
        if (name === "event") record.event = value;
        else if (name === "id") record.id = value;
        else if (name === "data") data.push(value);
        else if (name === "retry" && /^\d+$/.test(value)) record.retry = Number(value);
      }
      if (fields === 0) continue;
      record.data = data.join("\n");
      records.push(record);
    }
    return records;
  }
}

export interface LiveEvent {
  id?: string;
  type: string;
  data: Record<string, any>;
}

export type Item =
  | { kind: "user"; key: string; text: string }
  | { kind: "assistant"; key: string; text: string; streaming: boolean; failed: boolean }
  | { kind: "tool"; key: string; name: string; args: string; status: "running" | "done" | "failed"; result?: string }
  | { kind: "client-tool"; key: string; callId: string; name: string; args: string; answered: boolean }
  | { kind: "notice"; key: string; text: string };

export interface Transcript {
  items: Item[];
  seen: Set<string>;
  lastId?: string;
  running: boolean;
}

export const emptyTranscript = (): Transcript => ({ items: [], seen: new Set(), running: false });

/** The text of a message's content parts. */
export function textOf(message: any): string {
  const content = message?.content;
  if (typeof content === "string") return content;
  if (!Array.isArray(content)) return "";
  return content
    .filter((part: any) => part?.type === "text" && typeof part.text === "string")
    .map((part: any) => part.text)
    .join("");
}

function upsert(items: Item[], key: string, make: () => Item, change: (item: any) => Item): Item[] {
  const at = items.findIndex((item) => item.key === key);
  if (at < 0) return [...items, make()];
  const next = items.slice();
  next[at] = change(items[at]);
  return next;
}

/** Applies one event to the transcript; an event already applied (same id) changes nothing. */
export function apply(state: Transcript, event: LiveEvent): Transcript {
  if (event.id) {
    if (state.seen.has(event.id)) return state;
    state = { ...state, seen: new Set(state.seen).add(event.id), lastId: event.id };
  }
  const d = event.data ?? {};
  const items = state.items;
  switch (event.type) {
    case "input.message": {
      const key = d.message?.id ?? event.id ?? `user-${items.length}`;
      return { ...state, items: upsert(items, key, () => ({ kind: "user", key, text: textOf(d.message) }), (i) => i) };
    }
    case "turn.started":
      return { ...state, running: true };
    case "output.message.delta": {
      const key = d.message_id ?? `turn-${d.turn_id}`;
      const text = typeof d.accumulated === "string" && d.accumulated ? d.accumulated : undefined;
      return {
        ...state,
        items: upsert(
          items,
          key,
          () => ({ kind: "assistant", key, text: text ?? d.delta ?? "", streaming: true, failed: false }),
          (i) => (i.streaming ? { ...i, text: text ?? i.text + (d.delta ?? "") } : i),
        ),
      };
    }
    case "output.message.completed": {
      const key = d.message?.id ?? `turn-${d.message?.turn_id}`;
      const final: Item = { kind: "assistant", key, text: textOf(d.message), streaming: false, failed: !!d.error_code };
      // A streamed answer may be keyed by its turn until the completed message names it.
      const streamed = items.findIndex((i) => i.kind === "assistant" && i.streaming);
      if (!items.some((i) => i.key === key) && streamed >= 0) {
        const next = items.slice();
        next[streamed] = final;
        return { ...state, items: next };
      }
      return { ...state, items: upsert(items, key, () => final, () => final) };
    }
    case "tool.started": {
      const call = d.tool_call ?? {};
      const key = `tool-${call.id}`;
      const args = JSON.stringify(call.arguments ?? {});
      return {
        ...state,
        items: upsert(items, key, () => ({ kind: "tool", key, name: call.name ?? "tool", args, status: "running" }), (i) => i),
      };
    }
    case "tool.completed": {
      const key = `tool-${d.tool_call_id}`;
      const result = d.error ?? textOf({ content: d.result ?? [] });
      const status = d.success ? "done" : "failed";
      return {
        ...state,
        items: upsert(
          items,
          key,
          () => ({ kind: "tool", key, name: d.tool_name ?? "tool", args: "", status, result }),
          (i) => ({ ...i, status, result }),
        ),
      };
    }
    case "tool.call_requested": {
      let next = items;
      for (const call of d.tool_calls ?? []) {
        const key = `client-${call.id}`;
        const args = JSON.stringify(call.arguments ?? {});
        next = upsert(next, key, () => ({ kind: "client-tool", key, callId: call.id, name: call.name, args, answered: false }), (i) => i);
      }
      return { ...state, items: next };
    }
    case "turn.cancelled":
      return { ...state, running: false, items: [...items, { kind: "notice", key: event.id ?? `cancel-${items.length}`, text: "Turn cancelled" }] };
    case "turn.completed":
    case "turn.failed":
    case "session.idled":
      return { ...state, running: false };
    default:
      return state;
  }
}

/** Marks a client-tool request answered. */
export function answered(state: Transcript, callId: string): Transcript {
  return { ...state, items: state.items.map((i) => (i.kind === "client-tool" && i.callId === callId ? { ...i, answered: true } : i)) };
}

export interface FollowOptions {
  url: (sinceId?: string) => string;
  headers: () => Record<string, string>;
  sinceId?: string;
  onEvent: (event: LiveEvent) => void;
  onState?: (connected: boolean) => void;
  signal: AbortSignal;
}

/**
 * Keeps a session's stream open until `signal` aborts: on `disconnecting`, an error or the end of
 * the response it reconnects after the server's retry delay with `since_id` = the last event id
 * seen, so persisted events missed in between are replayed and none is repeated.
 */
export async function follow(options: FollowOptions): Promise<void> {
  let sinceId = options.sinceId;
  let retry = 100;
  while (!options.signal.aborted) {
    try {
      const response = await fetch(options.url(sinceId), {
        headers: { Accept: "text/event-stream", ...options.headers() },
        signal: options.signal,
      });
      if (!response.ok || !response.body) throw new Error(`stream answered ${response.status}`);
      options.onState?.(true);
      const reader = response.body.getReader();
      const decoder = new TextDecoder();
      const parser = new SseParser();
      let reading = true;
      while (reading) {
        const { value, done } = await reader.read();
        if (done) break;
        for (const record of parser.push(decoder.decode(value, { stream: true }))) {
          if (record.retry !== undefined) retry = record.retry;
          if (record.event === "connected") continue;
          if (record.event === "disconnecting") {
            reading = false;
            break;
          }
          let parsed: any;
          try {
            parsed = JSON.parse(record.data);
          } catch {
            continue;
          }
          const event: LiveEvent = { id: record.id ?? parsed?.id, type: parsed?.type ?? record.event, data: parsed?.data ?? {} };
          if (record.id) sinceId = record.id;
          options.onEvent(event);
        }
      }
      await reader.cancel().catch(() => undefined);
    } catch (error) {
      if (options.signal.aborted) return;
      retry = Math.min(Math.max(retry, 500), 5000);
    }
    options.onState?.(false);
    if (options.signal.aborted) return;
    await new Promise((resolve) => setTimeout(resolve, retry));
  }
}
