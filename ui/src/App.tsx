import { useEffect, useState } from "react";
import { ApiError, apiKey, get, setApiKey } from "./api";
import { go, useRoute } from "./route";
import { Agents } from "./pages/Agents";
import { Chat } from "./pages/Chat";
import { Providers } from "./pages/Providers";
import { Sessions } from "./pages/Sessions";

type Theme = "light" | "dark";

function initialTheme(): Theme {
  const saved = localStorage.getItem("everruns.theme");
  if (saved === "light" || saved === "dark") return saved;
  return window.matchMedia?.("(prefers-color-scheme: dark)").matches ? "dark" : "light";
}

export function App() {
  const route = useRoute();
  const [theme, setTheme] = useState<Theme>(initialTheme);
  const [authMode, setAuthMode] = useState<string | null>(null);
  const [needKey, setNeedKey] = useState(false);

  useEffect(() => {
    document.documentElement.dataset.theme = theme;
    localStorage.setItem("everruns.theme", theme);
  }, [theme]);

  useEffect(() => {
    get<{ mode?: string; auth_mode?: string }>("/v1/auth/config")
      .then((config) => {
        const mode = config.mode ?? config.auth_mode ?? "none";
        setAuthMode(mode);
        setNeedKey(mode !== "none" && !apiKey());
      })
      .catch(() => setAuthMode("none"));
  }, []);

  useEffect(() => {
    const onUnauthorized = (event: PromiseRejectionEvent) => {
      if (event.reason instanceof ApiError && event.reason.status === 401) setNeedKey(true);
    };
    window.addEventListener("unhandledrejection", onUnauthorized);
    return () => window.removeEventListener("unhandledrejection", onUnauthorized);
  }, []);

  const [section, id] = route;
  const page = needKey ? (
    <KeyEntry onDone={() => setNeedKey(false)} />
  ) : section === "sessions" && id ? (
    <Chat sessionId={id} tab={route[2] === "events" ? "events" : "chat"} />
  ) : section === "sessions" ? (
    <Sessions />
  ) : section === "providers" ? (
    <Providers />
  ) : (
    <Agents selected={section === "agents" ? id : undefined} />
  );

  return (
    <div className="shell">
      <header className="topbar">
        <a className="brand" href="#/agents" aria-label="Everruns">
          <span className="dot" aria-hidden="true" /> <span className="word">Everruns</span>
        </a>
        <nav aria-label="Main">
          <a href="#/agents" aria-current={!section || section === "agents" ? "page" : undefined}>
            Agents
          </a>
          <a href="#/sessions" aria-current={section === "sessions" ? "page" : undefined}>
            Sessions
          </a>
          <a href="#/providers" aria-current={section === "providers" ? "page" : undefined}>
            Providers
          </a>
        </nav>
        <div className="spacer" />
        {authMode && authMode !== "none" && apiKey() && (
          <button
            className="ghost"
            onClick={() => {
              setApiKey(null);
              setNeedKey(true);
            }}
          >
            Sign out
          </button>
        )}
        <button
          className="ghost"
          aria-label={theme === "dark" ? "Switch to light theme" : "Switch to dark theme"}
          onClick={() => setTheme(theme === "dark" ? "light" : "dark")}
        >
          {theme === "dark" ? "☀" : "☾"}
        </button>
      </header>
      <main>{page}</main>
    </div>
  );
}

function KeyEntry({ onDone }: { onDone: () => void }) {
  const [key, setKey] = useState("");
  const [error, setError] = useState<string | null>(null);
  return (
    <section className="card narrow">
      <h1>Sign in</h1>
      <p className="muted">This server requires an API key (AUTH_MODE=api_key). It is kept for this browser tab only.</p>
      <form
        onSubmit={async (event) => {
          event.preventDefault();
          setApiKey(key.trim());
          try {
            await get("/v1/auth/me");
            onDone();
            go("agents");
          } catch (e) {
            setApiKey(null);
            setError(e instanceof Error ? e.message : String(e));
          }
        }}
      >
        <label>
          API key
          <input type="password" autoComplete="off" value={key} onChange={(e) => setKey(e.target.value)} required />
        </label>
        {error && (
          <p role="alert" className="error">
            {error}
          </p>
        )}
        <button type="submit">Sign in</button>
      </form>
    </section>
  );
}
