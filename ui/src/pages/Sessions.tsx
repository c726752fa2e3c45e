import { useState } from "react";
import { type Agent, type List, type Model, type Session, get, post } from "../api";
import { go } from "../route";
import { ErrorLine, message, useLoad } from "./common";

export function Sessions() {
  const [sessions, error] = useLoad(() => get<List<Session>>("/v1/sessions?limit=100"), []);
  const [agents] = useLoad(() => get<List<Agent>>("/v1/agents?limit=100"), []);
  const [models] = useLoad(() => get<List<Model>>("/v1/models?limit=100"), []);
  const [choice, setChoice] = useState("");
  const [failure, setFailure] = useState<string | null>(null);
  const agentName = (id?: string | null) => agents?.data.find((a) => a.id === id)?.name;

  const start = async (event: React.FormEvent) => {
    event.preventDefault();
    const [kind, id] = choice.split(":");
    try {
      const body = kind === "agent" ? { agent_id: id } : kind === "model" ? { model_id: id } : {};
      const session = await post<Session>("/v1/sessions", body);
      go(`sessions/${session.id}`);
    } catch (e) {
      setFailure(message(e));
    }
  };

  return (
    <section className="page">
      <div className="pane-head">
        <h1>Sessions</h1>
      </div>
      <form className="card inline" onSubmit={start}>
        <label>
          Start with
          <select value={choice} onChange={(e) => setChoice(e.target.value)}>
            <option value="">The default model</option>
            <optgroup label="Agents">
              {agents?.data.map((a) => (
                <option key={a.id} value={`agent:${a.id}`}>
                  {a.display_name || a.name}
                </option>
              ))}
            </optgroup>
            <optgroup label="Models">
              {models?.data
                .filter((m) => m.enabled)
                .map((m) => (
                  <option key={m.id} value={`model:${m.id}`}>
                    {m.display_name || m.model_id}
                  </option>
                ))}
            </optgroup>
          </select>
        </label>
        <button type="submit">New session</button>
      </form>
      <ErrorLine error={error ?? failure} />
      <table className="table">
        <thead>
          <tr>
            <th>Session</th>
            <th>Agent</th>
            <th>Status</th>
            <th>Created</th>
          </tr>
        </thead>
        <tbody>
          {sessions?.data.map((s) => (
            <tr key={s.id}>
              <td>
                <a href={`#/sessions/${s.id}`}>{s.title || s.id}</a>
              </td>
              <td>{agentName(s.agent_id) ?? "—"}</td>
              <td>
                <span className={`badge ${s.status}`}>{s.status}</span>
              </td>
              <td className="muted small">{s.created_at ? new Date(s.created_at).toLocaleString() : ""}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {sessions && sessions.data.length === 0 && <p className="muted">No sessions yet.</p>}
    </section>
  );
}
