// The REST client: every request goes to /api on this origin, with the API key kept in session
// storage (AUTH_MODE=api_key) as the Authorization header. Errors carry the server's message.

export const API = "/api";
const KEY = "everruns.apiKey";

export function apiKey(): string | null {
  return sessionStorage.getItem(KEY);
}

export function setApiKey(key: string | null): void {
  if (key) sessionStorage.setItem(KEY, key);
  else sessionStorage.removeItem(KEY);
}

export function authHeaders(): Record<string, string> {
  const key = apiKey();
  return key ? { Authorization: key } : {};
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

async function problem(response: Response): Promise<ApiError> {
  let code = "http_error";
  let message = `${response.status} ${response.statusText}`;
  try {
    const body = await response.json();
    code = body?.error?.code ?? body?.code ?? code;
    message = body?.error?.message ?? body?.detail ?? message;
  } catch {
    // Not JSON: keep the status line.
  }
  return new ApiError(response.status, code, message);
}

export async function request<T>(method: string, path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = { ...authHeaders() };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(`${API}${path}`, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (!response.ok) throw await problem(response);
  if (response.status === 204) return undefined as T;
  const text = await response.text();
  return (text ? JSON.parse(text) : undefined) as T;
}

export const get = <T>(path: string) => request<T>("GET", path);
export const post = <T>(path: string, body: unknown = {}) => request<T>("POST", path, body);
export const patch = <T>(path: string, body: unknown) => request<T>("PATCH", path, body);
export const del = (path: string) => request<void>("DELETE", path);

export interface List<T> {
  data: T[];
  total?: number;
}

export interface Agent {
  id: string;
  name: string;
  display_name?: string | null;
  description?: string | null;
  system_prompt: string;
  default_model_id?: string | null;
  harness_id?: string | null;
  capabilities?: { ref: string }[];
  status: string;
  updated_at?: string;
}

export interface Session {
  id: string;
  title?: string | null;
  status: string;
  agent_id?: string | null;
  model_id?: string | null;
  created_at?: string;
}

export interface Provider {
  id: string;
  name: string;
  provider_type: string;
  status: string;
  api_key_set?: boolean;
  base_url?: string | null;
}

export interface Model {
  id: string;
  model_id: string;
  display_name?: string | null;
  provider_id: string;
  provider_name?: string;
  enabled: boolean;
  is_favorite?: boolean;
}

export interface OrgSettings {
  default_model_id: string | null;
  deployment_default_model: string | null;
}

export interface Capability {
  id: string;
  name?: string;
  display_name?: string;
  description?: string;
  category?: string;
}

export interface Harness {
  id: string;
  name: string;
  display_name?: string | null;
}

export interface StoredEvent {
  id: string;
  type: string;
  sequence?: number;
  ts?: string;
  data: Record<string, unknown>;
}
