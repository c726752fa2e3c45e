import { useEffect, useReducer, useRef, useState } from "react";
import { API, type List, type Session, type StoredEvent, authHeaders, get, post } from "../api";
import { type Item, type LiveEvent, type Transcript, answered, apply, emptyTranscript, follow } from "../stream";
import { ErrorLine, message, useLoad } from "./common";

type Action = { event: LiveEvent } | { answered: string } | { reset: true };

function reduce(state: Transcript, action: Action): Transcript {
  if ("reset" in action) return emptyTranscript();
  if ("answered" in action) return answered(state, action.answered);
  return apply(state, action.event);
}

export function Chat({ sessionId, tab }: { sessionId: string; tab: "chat" | "events" }) {
  const [session, error, reload] = useLoad(() => get<Session>(`/v1/sessions/${sessionId}`), [sessionId]);
  const [transcript, dispatch] = useReducer(reduce, undefined, emptyTranscript);
  const [connected, setConnected] = useState(false);
  const [text, setText] = useState("");
  const [failure, setFailure] = useState<string | null>(null);
  const bottom = useRef<HTMLDivElement>(null);

  useEffect(() => {
    const abort = new AbortController();
    dispatch({ reset: true });
    (async () => {
      try {
        // The stored history first, then the stream from its last event: nothing in between is lost.
        const history = await get<List<StoredEvent>>(`/v1/sessions/${sessionId}/events?limit=1000`);
        history.data.forEach((e) => dispatch({ event: { id: e.id, type: e.type, data: e.data } }));
        await follow({
          url: (since) => `${API}/v1/sessions/${sessionId}/sse${since ? `?since_id=${encodeURIComponent(since)}` : ""}`,
          headers: authHeaders,
          sinceId: history.data.at(-1)?.id,
          onEvent: (event) => {
            dispatch({ event });
            if (event.type === "session.idled" || event.type === "turn.started") reload();
          },
          onState: setConnected,
          signal: abort.signal,
        });
      } catch (e) {
        if (!abort.signal.aborted) setFailure(message(e));
      }
    })();
    return () => abort.abort();
  }, [sessionId]);

  useEffect(() => {
    // Braces: newer browsers' scrollIntoView returns a promise, and an effect may return only a cleanup.
    void bottom.current?.scrollIntoView?.({ block: "end" });
  }, [transcript.items]);

  const send = async (event: React.FormEvent) => {
    event.preventDefault();
    const body = text.trim();
    if (!body) return;
    try {
      await post(`/v1/sessions/${sessionId}/messages`, { message: { role: "user", content: [{ type: "text", text: body }] } });
      setText("");
      setFailure(null);
    } catch (e) {
      setFailure(message(e));
    }
  };

  const running = transcript.running || session?.status === "active";
  return (
    <section className="chat">
      <div className="pane-head">
        <h1 className="ellipsis">{session?.title || "Chat"}</h1>
        <span className={`badge ${session?.status ?? ""}`}>{session?.status ?? "…"}</span>
        <span className={`live ${connected ? "on" : ""}`} title={connected ? "Live" : "Reconnecting"} aria-label={connected ? "Live" : "Reconnecting"} />
        <div className="spacer" />
        <nav className="tabs" aria-label="Session views">
          <a href={`#/sessions/${sessionId}`} aria-current={tab === "chat" ? "page" : undefined}>
            Chat
          </a>
          <a href={`#/sessions/${sessionId}/events`} aria-current={tab === "events" ? "page" : undefined}>
            Events
          </a>
        </nav>
      </div>
      <ErrorLine error={error ?? failure} />
      {tab === "events" ? (
        <EventsInspector sessionId={sessionId} />
      ) : (
        <>
          <ol className="transcript" aria-live="polite">
            {transcript.items.map((item) => (
              <ChatItem key={item.key} item={item} sessionId={sessionId} onAnswered={(id) => dispatch({ answered: id })} />
            ))}
            {transcript.items.length === 0 && <li className="muted">Say something to start a turn.</li>}
          </ol>
          <div ref={bottom} />
          <form className="composer" onSubmit={send}>
            <textarea
              aria-label="Message"
              rows={2}
              value={text}
              placeholder="Message"
              onChange={(e) => setText(e.target.value)}
              onKeyDown={(e) => {
                if (e.key === "Enter" && !e.shiftKey) {
                  e.preventDefault();
                  (e.currentTarget.form as HTMLFormElement).requestSubmit();
                }
              }}
            />
            {running ? (
              <button type="button" className="danger" onClick={() => post(`/v1/sessions/${sessionId}/cancel`).catch((e) => setFailure(message(e)))}>
                Cancel
              </button>
            ) : null}
            <button type="submit" disabled={!text.trim()}>
              Send
            </button>
          </form>
        </>
      )}
    </section>
  );
}

function ChatItem({ item, sessionId, onAnswered }: { item: Item; sessionId: string; onAnswered: (callId: string) => void }) {
  const [result, setResult] = useState("");
  switch (item.kind) {
    case "user":
      return <li className="bubble user">{item.text}</li>;
    case "assistant":
      return (
        <li className={`bubble agent ${item.failed ? "failed" : ""} ${item.streaming ? "streaming" : ""}`} data-testid="agent-message">
          {item.text}
        </li>
      );
    case "tool":
      return (
        <li className={`tool ${item.status}`}>
          <details>
            <summary>
              <code>{item.name}</code> <span className="muted small">{item.status}</span>
            </summary>
            {item.args && <pre>{item.args}</pre>}
            {item.result !== undefined && <pre>{item.result}</pre>}
          </details>
        </li>
      );
    case "client-tool":
      return (
        <li className="tool client">
          <p>
            The agent asks this app to run <code>{item.name}</code> <span className="muted small">{item.args}</span>
          </p>
          {!item.answered && (
            <form
              className="inline"
              onSubmit={async (e) => {
                e.preventDefault();
                await post(`/v1/sessions/${sessionId}/tool-results`, {
                  tool_results: [{ tool_call_id: item.callId, result: result }],
                });
                onAnswered(item.callId);
              }}
            >
              <input aria-label={`Result of ${item.name}`} value={result} onChange={(e) => setResult(e.target.value)} />
              <button type="submit">Send result</button>
            </form>
          )}
        </li>
      );
    case "notice":
      return <li className="notice muted">{item.text}</li>;
  }
}

function EventsInspector({ sessionId }: { sessionId: string }) {
  const [filter, setFilter] = useState("");
  const [events, error, reload] = useLoad(() => get<List<StoredEvent>>(`/v1/sessions/${sessionId}/events?limit=1000`), [sessionId]);
  const shown = events?.data.filter((e) => !filter || e.type.includes(filter)) ?? [];
  return (
    <div className="events">
      <div className="inline">
        <input type="search" aria-label="Filter events by type" placeholder="Filter by type" value={filter} onChange={(e) => setFilter(e.target.value)} />
        <button type="button" className="secondary" onClick={reload}>
          Refresh
        </button>
      </div>
      <ErrorLine error={error} />
      <table className="table">
        <thead>
          <tr>
            <th>#</th>
            <th>Type</th>
            <th>Time</th>
            <th>Data</th>
          </tr>
        </thead>
        <tbody>
          {shown.map((e) => (
            <tr key={e.id}>
              <td className="muted small">{e.sequence}</td>
              <td>
                <code>{e.type}</code>
              </td>
              <td className="muted small">{e.ts ? new Date(e.ts).toLocaleTimeString() : ""}</td>
              <td>
                <details>
                  <summary className="small">{e.id}</summary>
                  <pre>{JSON.stringify(e.data, null, 2)}</pre>
                </details>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
