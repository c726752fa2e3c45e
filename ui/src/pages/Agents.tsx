import { useState } from "react";
import { type Agent, type Capability, type Harness, type List, type Model, type Session, del, get, patch, post } from "../api";
import { go } from "../route";
import { ErrorLine, message, useLoad } from "./common";

export function Agents({ selected }: { selected?: string }) {
  const [search, setSearch] = useState("");
  const [agents, error, reload] = useLoad(
    () => get<List<Agent>>(`/v1/agents?limit=100${search ? `&search=${encodeURIComponent(search)}` : ""}`),
    [search],
  );
  const editing = selected === "new" ? null : agents?.data.find((a) => a.id === selected);
  return (
    <div className="split">
      <section className="list-pane">
        <div className="pane-head">
          <h1>Agents</h1>
          <a className="button" href="#/agents/new">
            New agent
          </a>
        </div>
        <input type="search" aria-label="Search agents" placeholder="Search" value={search} onChange={(e) => setSearch(e.target.value)} />
        <ErrorLine error={error} />
        <ul className="rows">
          {agents?.data.map((agent) => (
            <li key={agent.id}>
              <a href={`#/agents/${agent.id}`} aria-current={agent.id === selected ? "true" : undefined}>
                <strong>{agent.display_name || agent.name}</strong>
                <span className="muted small">{agent.name}</span>
              </a>
            </li>
          ))}
          {agents && agents.data.length === 0 && <li className="muted">No agents yet.</li>}
        </ul>
      </section>
      <section className="detail-pane">
        {selected === "new" || editing ? (
          <AgentForm key={selected} agent={editing ?? undefined} onSaved={(a) => (reload(), go(`agents/${a.id}`))} onArchived={() => (reload(), go("agents"))} />
        ) : (
          <p className="muted">Choose an agent, or create one.</p>
        )}
      </section>
    </div>
  );
}

function AgentForm({ agent, onSaved, onArchived }: { agent?: Agent; onSaved: (a: Agent) => void; onArchived: () => void }) {
  const [name, setName] = useState(agent?.name ?? "");
  const [displayName, setDisplayName] = useState(agent?.display_name ?? "");
  const [prompt, setPrompt] = useState(agent?.system_prompt ?? "You are a helpful assistant.");
  const [model, setModel] = useState(agent?.default_model_id ?? "");
  const [harness, setHarness] = useState(agent?.harness_id ?? "");
  const [caps, setCaps] = useState<string[]>(agent?.capabilities?.map((c) => c.ref) ?? []);
  const [error, setError] = useState<string | null>(null);
  const [models] = useLoad(() => get<List<Model>>("/v1/models?limit=100"), []);
  const [capabilities] = useLoad(() => get<List<Capability>>("/v1/capabilities"), []);
  const [harnesses] = useLoad(() => get<List<Harness>>("/v1/harnesses?limit=100"), []);

  const save = async (event: React.FormEvent) => {
    event.preventDefault();
    const body = {
      name,
      display_name: displayName || undefined,
      system_prompt: prompt,
      default_model_id: model || undefined,
      harness_id: harness || undefined,
      capabilities: caps.map((ref) => ({ ref })),
    };
    try {
      onSaved(agent ? await patch<Agent>(`/v1/agents/${agent.id}`, body) : await post<Agent>("/v1/agents", body));
      setError(null);
    } catch (e) {
      setError(message(e));
    }
  };

  return (
    <form className="card" onSubmit={save}>
      <h2>{agent ? `Edit ${agent.display_name || agent.name}` : "New agent"}</h2>
      <label>
        Name
        <input value={name} onChange={(e) => setName(e.target.value)} placeholder="my-agent" required />
      </label>
      <label>
        Display name
        <input value={displayName} onChange={(e) => setDisplayName(e.target.value)} />
      </label>
      <label>
        System prompt
        <textarea rows={6} value={prompt} onChange={(e) => setPrompt(e.target.value)} required />
      </label>
      <div className="row">
        <label>
          Model
          <select value={model} onChange={(e) => setModel(e.target.value)}>
            <option value="">Default</option>
            {models?.data
              .filter((m) => m.enabled)
              .map((m) => (
                <option key={m.id} value={m.id}>
                  {m.display_name || m.model_id}
                </option>
              ))}
          </select>
        </label>
        <label>
          Harness
          <select value={harness} onChange={(e) => setHarness(e.target.value)}>
            <option value="">Default</option>
            {harnesses?.data.map((h) => (
              <option key={h.id} value={h.id}>
                {h.display_name || h.name}
              </option>
            ))}
          </select>
        </label>
      </div>
      <fieldset>
        <legend>Capabilities</legend>
        {capabilities?.data.map((c) => (
          <label key={c.id} className="check">
            <input
              type="checkbox"
              checked={caps.includes(c.id)}
              onChange={(e) => setCaps(e.target.checked ? [...caps, c.id] : caps.filter((x) => x !== c.id))}
            />
            {c.display_name || c.name || c.id}
          </label>
        ))}
      </fieldset>
      <ErrorLine error={error} />
      <div className="actions">
        <button type="submit">{agent ? "Save" : "Create agent"}</button>
        {agent && (
          <>
            <button
              type="button"
              className="secondary"
              onClick={async () => {
                try {
                  const session = await post<Session>("/v1/sessions", { agent_id: agent.id });
                  go(`sessions/${session.id}`);
                } catch (e) {
                  setError(message(e));
                }
              }}
            >
              Chat
            </button>
            <button
              type="button"
              className="danger"
              onClick={async () => {
                if (!confirm(`Archive ${agent.name}?`)) return;
                try {
                  await del(`/v1/agents/${agent.id}`);
                  onArchived();
                } catch (e) {
                  setError(message(e));
                }
              }}
            >
              Archive
            </button>
          </>
        )}
      </div>
    </form>
  );
}
