import { useState } from "react";
import { type List, type Model, type OrgSettings, type Provider, get, patch, post } from "../api";
import { ErrorLine, message, useLoad } from "./common";

const DRIVERS = ["openai", "anthropic", "gemini", "openai_completions", "openrouter", "azure_openai", "bedrock", "llmsim"];

export function Providers() {
  const [providers, error, reload] = useLoad(() => get<List<Provider>>("/v1/providers?limit=100"), []);
  const [models, modelError, reloadModels, setModels] = useLoad(() => get<List<Model>>("/v1/models?limit=100"), []);
  // Shown at once, then saved; a refused change comes back as the server has it.
  const change = (model: Model, update: Partial<Model>) => {
    if (models) setModels({ ...models, data: models.data.map((m) => (m.id === model.id ? { ...m, ...update } : m)) });
    patch(`/v1/models/${model.id}`, update).then(
      () => setFailure(null),
      (e) => (setFailure(message(e)), reloadModels()),
    );
  };
  const [failure, setFailure] = useState<string | null>(null);
  return (
    <section className="page">
      <div className="pane-head">
        <h1>Providers</h1>
      </div>
      <ProviderForm onSaved={() => (reload(), reloadModels())} />
      <ErrorLine error={error ?? modelError ?? failure} />
      <table className="table">
        <thead>
          <tr>
            <th>Provider</th>
            <th>Driver</th>
            <th>Key</th>
            <th>Status</th>
          </tr>
        </thead>
        <tbody>
          {providers?.data.map((p) => (
            <tr key={p.id}>
              <td>{p.name}</td>
              <td>
                <code>{p.provider_type}</code>
              </td>
              <td>{p.api_key_set ? <span className="badge idle">Key set</span> : <span className="muted">No key</span>}</td>
              <td>
                <span className={`badge ${p.status}`}>{p.status}</span>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      <h2>Models</h2>
      <DefaultModel models={models?.data ?? []} />
      <table className="table">
        <thead>
          <tr>
            <th>Model</th>
            <th>Provider</th>
            <th>Enabled</th>
            <th>Favorite</th>
          </tr>
        </thead>
        <tbody>
          {models?.data.map((m) => (
            <tr key={m.id}>
              <td>
                {m.display_name || m.model_id} <span className="muted small">{m.model_id}</span>
              </td>
              <td>{m.provider_name ?? providers?.data.find((p) => p.id === m.provider_id)?.name}</td>
              <td>
                <input
                  type="checkbox"
                  aria-label={`Enable ${m.model_id}`}
                  checked={m.enabled}
                  onChange={(e) => change(m, { enabled: e.target.checked })}
                />
              </td>
              <td>
                <button
                  type="button"
                  className="ghost"
                  aria-label={`${m.is_favorite ? "Unfavorite" : "Favorite"} ${m.model_id}`}
                  aria-pressed={!!m.is_favorite}
                  onClick={() => change(m, { is_favorite: !m.is_favorite })}
                >
                  {m.is_favorite ? "★" : "☆"}
                </button>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}

function ProviderForm({ onSaved }: { onSaved: () => void }) {
  const [name, setName] = useState("");
  const [driver, setDriver] = useState("openai");
  const [key, setKey] = useState("");
  const [baseUrl, setBaseUrl] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [saved, setSaved] = useState<string | null>(null);
  return (
    <form
      className="card"
      onSubmit={async (event) => {
        event.preventDefault();
        try {
          const provider = await post<Provider>("/v1/providers", {
            name,
            provider_type: driver,
            api_key: key || undefined,
            base_url: baseUrl || undefined,
          });
          // The key is never shown again: only whether one is set.
          setKey("");
          setName("");
          setBaseUrl("");
          setError(null);
          setSaved(`${provider.name} added${provider.api_key_set ? " with its key" : ""}.`);
          onSaved();
        } catch (e) {
          setSaved(null);
          setError(message(e));
        }
      }}
    >
      <h2>Add a provider</h2>
      <div className="row">
        <label>
          Name
          <input value={name} onChange={(e) => setName(e.target.value)} required />
        </label>
        <label>
          Driver
          <select value={driver} onChange={(e) => setDriver(e.target.value)}>
            {DRIVERS.map((d) => (
              <option key={d}>{d}</option>
            ))}
          </select>
        </label>
      </div>
      <div className="row">
        <label>
          API key
          <input type="password" autoComplete="off" value={key} onChange={(e) => setKey(e.target.value)} />
        </label>
        <label>
          Base URL (optional)
          <input type="url" value={baseUrl} onChange={(e) => setBaseUrl(e.target.value)} placeholder="https://…" />
        </label>
      </div>
      <ErrorLine error={error} />
      {saved && <p role="status">{saved}</p>}
      <div className="actions">
        <button type="submit">Add provider</button>
      </div>
    </form>
  );
}

// The org default model: used when neither the message, the session, the agent nor its harness
// names one. Only enabled models are offered; the server refuses others.
function DefaultModel({ models }: { models: Model[] }) {
  const [settings, error, , setSettings] = useLoad(() => get<OrgSettings>("/v1/organization/settings"), []);
  const [failure, setFailure] = useState<string | null>(null);
  const [saved, setSaved] = useState(false);
  if (!settings) return <ErrorLine error={error} />;
  const fallback = settings.deployment_default_model
    ? `Deployment default (${settings.deployment_default_model})`
    : "None (turns need a model)";
  const choices = models.filter((m) => m.enabled || m.id === settings.default_model_id);
  return (
    <div className="row default-model">
      <label>
        Default model
        <select
          value={settings.default_model_id ?? ""}
          onChange={(e) => {
            setSaved(false);
            patch<OrgSettings>("/v1/organization/settings", { default_model_id: e.target.value || null }).then(
              (next) => (setSettings(next), setFailure(null), setSaved(true)),
              (e) => setFailure(message(e)),
            );
          }}
        >
          <option value="">{fallback}</option>
          {choices.map((m) => (
            <option key={m.id} value={m.id}>
              {m.display_name || m.model_id} ({m.provider_name ?? m.model_id})
            </option>
          ))}
        </select>
      </label>
      {saved && (
        <p role="status" className="muted small">
          Default model saved.
        </p>
      )}
      <ErrorLine error={failure} />
    </div>
  );
}
