//! The OpenAPI 3.1 document served at `/api-doc/openapi.json`: every route of the REST surface
//! with its parameters, bodies and responses, and the component schemas (required fields as the
//! official SDK's models require them). Built once, validated against utoipa's OpenAPI model.

use std::sync::OnceLock;

use axum::Json;
use axum::extract::State;
use serde_json::{Map, Value, json};

use crate::state::AppState;

fn schema_ref(name: &str) -> Value {
    json!({"$ref": format!("#/components/schemas/{name}")})
}

fn string() -> Value {
    json!({"type": "string"})
}

fn object(required: &[&str], properties: &[(&str, Value)]) -> Value {
    let props: Map<String, Value> = properties.iter().map(|(k, v)| ((*k).to_owned(), v.clone())).collect();
    json!({"type": "object", "required": required, "properties": props})
}

fn array(items: Value) -> Value {
    json!({"type": "array", "items": items})
}

fn list_of(name: &str) -> Value {
    object(&["data"], &[("data", array(schema_ref(name)))])
}

fn paginated_of(name: &str) -> Value {
    object(
        &["data", "total", "offset", "limit"],
        &[
            ("data", array(schema_ref(name))),
            ("total", json!({"type": "integer"})),
            ("offset", json!({"type": "integer"})),
            ("limit", json!({"type": "integer"})),
            ("next_url", string()),
            ("prev_url", string()),
        ],
    )
}

/// One operation of the table.
struct Op {
    method: &'static str,
    path: &'static str,
    id: &'static str,
    tag: &'static str,
    summary: &'static str,
    query: &'static [(&'static str, &'static str)],
    body: Option<(&'static str, Value)>,
    ok: (u16, &'static str, Option<Value>),
}

fn operations() -> Vec<Op> {
    let list_query: &'static [(&str, &str)] =
        &[("search", "string"), ("include_archived", "boolean"), ("offset", "integer"), ("limit", "integer")];
    let filter_query: &'static [(&str, &str)] = &[("since_id", "string"), ("types", "array"), ("exclude", "array")];
    let json = |name: &str| Some(("application/json", schema_ref(name)));
    vec![
        Op {
            method: "get",
            path: "/v1/agents",
            id: "list_agents",
            tag: "agents",
            summary: "List agents",
            query: list_query,
            body: None,
            ok: (200, "Agents", Some(paginated_of("Agent"))),
        },
        Op {
            method: "post",
            path: "/v1/agents",
            id: "create_agent",
            tag: "agents",
            summary: "Create or update (upsert by id or name) an agent",
            query: &[],
            body: json("CreateAgentRequest"),
            ok: (201, "Created (200 when updated)", Some(schema_ref("Agent"))),
        },
        Op {
            method: "post",
            path: "/v1/agents/import",
            id: "import_agent",
            tag: "agents",
            summary: "Import an agent from Markdown with YAML front matter, YAML, JSON or plain text",
            query: &[("from-example", "string")],
            body: Some(("text/plain", string())),
            ok: (201, "Imported (200 when updated)", Some(schema_ref("Agent"))),
        },
        Op {
            method: "get",
            path: "/v1/agents/{agent_id}",
            id: "get_agent",
            tag: "agents",
            summary: "Get an agent by id or name",
            query: &[],
            body: None,
            ok: (200, "The agent", Some(schema_ref("Agent"))),
        },
        Op {
            method: "put",
            path: "/v1/agents/{agent_id}",
            id: "put_agent",
            tag: "agents",
            summary: "Create or replace an agent with this id",
            query: &[],
            body: json("CreateAgentRequest"),
            ok: (201, "Created (200 when updated)", Some(schema_ref("Agent"))),
        },
        Op {
            method: "patch",
            path: "/v1/agents/{agent_id}",
            id: "update_agent",
            tag: "agents",
            summary: "Update an agent",
            query: &[],
            body: json("UpdateAgentRequest"),
            ok: (200, "The agent", Some(schema_ref("Agent"))),
        },
        Op {
            method: "delete",
            path: "/v1/agents/{agent_id}",
            id: "delete_agent",
            tag: "agents",
            summary: "Archive an agent",
            query: &[],
            body: None,
            ok: (204, "Archived", None),
        },
        Op {
            method: "post",
            path: "/v1/agents/{agent_id}/copy",
            id: "copy_agent",
            tag: "agents",
            summary: "Copy an agent",
            query: &[],
            body: None,
            ok: (201, "The copy", Some(schema_ref("Agent"))),
        },
        Op {
            method: "get",
            path: "/v1/agents/{agent_id}/export",
            id: "export_agent",
            tag: "agents",
            summary: "Export an agent as Markdown",
            query: &[],
            body: None,
            ok: (200, "Markdown with YAML front matter", Some(string())),
        },
        Op {
            method: "get",
            path: "/v1/harnesses",
            id: "list_harnesses",
            tag: "harnesses",
            summary: "List harnesses",
            query: &[("search", "string"), ("include_archived", "boolean")],
            body: None,
            ok: (200, "Harnesses", Some(list_of("Harness"))),
        },
        Op {
            method: "post",
            path: "/v1/harnesses",
            id: "create_harness",
            tag: "harnesses",
            summary: "Create a harness",
            query: &[],
            body: json("CreateHarnessRequest"),
            ok: (201, "The harness", Some(schema_ref("Harness"))),
        },
        Op {
            method: "get",
            path: "/v1/harnesses/{harness_id}",
            id: "get_harness",
            tag: "harnesses",
            summary: "Get a harness by id or name",
            query: &[],
            body: None,
            ok: (200, "The harness", Some(schema_ref("Harness"))),
        },
        Op {
            method: "patch",
            path: "/v1/harnesses/{harness_id}",
            id: "update_harness",
            tag: "harnesses",
            summary: "Update a harness (built-ins are read-only)",
            query: &[],
            body: json("UpdateHarnessRequest"),
            ok: (200, "The harness", Some(schema_ref("Harness"))),
        },
        Op {
            method: "delete",
            path: "/v1/harnesses/{harness_id}",
            id: "delete_harness",
            tag: "harnesses",
            summary: "Archive a harness",
            query: &[],
            body: None,
            ok: (204, "Archived", None),
        },
        Op {
            method: "get",
            path: "/v1/harness-examples",
            id: "list_harness_examples",
            tag: "harnesses",
            summary: "Harness examples",
            query: &[],
            body: None,
            ok: (200, "Examples (bare array)", Some(array(schema_ref("HarnessExample")))),
        },
        Op {
            method: "get",
            path: "/v1/models",
            id: "list_models",
            tag: "models",
            summary: "List models with their providers",
            query: &[("source", "string"), ("include_stale", "boolean"), ("favorites_only", "boolean")],
            body: None,
            ok: (200, "Models", Some(list_of("ModelWithProvider"))),
        },
        Op {
            method: "get",
            path: "/v1/models/{id}",
            id: "get_model",
            tag: "models",
            summary: "Get a model",
            query: &[],
            body: None,
            ok: (200, "The model", Some(schema_ref("ModelWithProvider"))),
        },
        Op {
            method: "patch",
            path: "/v1/models/{id}",
            id: "update_model",
            tag: "models",
            summary: "Update a model",
            query: &[],
            body: json("UpdateModelRequest"),
            ok: (200, "The model", Some(schema_ref("Model"))),
        },
        Op {
            method: "delete",
            path: "/v1/models/{id}",
            id: "delete_model",
            tag: "models",
            summary: "Delete a model",
            query: &[],
            body: None,
            ok: (204, "Deleted", None),
        },
        Op {
            method: "get",
            path: "/v1/providers/{provider_id}/models",
            id: "list_provider_models",
            tag: "models",
            summary: "List a provider's models",
            query: &[],
            body: None,
            ok: (200, "Models", Some(list_of("Model"))),
        },
        Op {
            method: "post",
            path: "/v1/providers/{provider_id}/models",
            id: "create_provider_model",
            tag: "models",
            summary: "Add a model to a provider",
            query: &[],
            body: json("CreateModelRequest"),
            ok: (201, "The model", Some(schema_ref("Model"))),
        },
        Op {
            method: "get",
            path: "/v1/providers",
            id: "list_providers",
            tag: "providers",
            summary: "List providers",
            query: &[],
            body: None,
            ok: (200, "Providers", Some(list_of("Provider"))),
        },
        Op {
            method: "post",
            path: "/v1/providers",
            id: "create_provider",
            tag: "providers",
            summary: "Create a provider (the key is encrypted and never returned)",
            query: &[],
            body: json("CreateProviderRequest"),
            ok: (201, "The provider", Some(schema_ref("Provider"))),
        },
        Op {
            method: "get",
            path: "/v1/providers/{id}",
            id: "get_provider",
            tag: "providers",
            summary: "Get a provider",
            query: &[],
            body: None,
            ok: (200, "The provider", Some(schema_ref("Provider"))),
        },
        Op {
            method: "patch",
            path: "/v1/providers/{id}",
            id: "update_provider",
            tag: "providers",
            summary: "Update a provider",
            query: &[],
            body: json("UpdateProviderRequest"),
            ok: (200, "The provider", Some(schema_ref("Provider"))),
        },
        Op {
            method: "delete",
            path: "/v1/providers/{id}",
            id: "delete_provider",
            tag: "providers",
            summary: "Delete a provider and its models",
            query: &[],
            body: None,
            ok: (204, "Deleted", None),
        },
        Op {
            method: "get",
            path: "/v1/sessions",
            id: "list_sessions",
            tag: "sessions",
            summary: "List sessions",
            query: &[("agent_id", "string"), ("search", "string"), ("offset", "integer"), ("limit", "integer")],
            body: None,
            ok: (200, "Sessions", Some(paginated_of("Session"))),
        },
        Op {
            method: "post",
            path: "/v1/sessions",
            id: "create_session",
            tag: "sessions",
            summary: "Create a session",
            query: &[],
            body: json("CreateSessionRequest"),
            ok: (201, "The session", Some(schema_ref("Session"))),
        },
        Op {
            method: "get",
            path: "/v1/sessions/{session_id}",
            id: "get_session",
            tag: "sessions",
            summary: "Get a session",
            query: &[],
            body: None,
            ok: (200, "The session", Some(schema_ref("Session"))),
        },
        Op {
            method: "patch",
            path: "/v1/sessions/{session_id}",
            id: "update_session",
            tag: "sessions",
            summary: "Update a session",
            query: &[],
            body: json("UpdateSessionRequest"),
            ok: (200, "The session", Some(schema_ref("Session"))),
        },
        Op {
            method: "delete",
            path: "/v1/sessions/{session_id}",
            id: "delete_session",
            tag: "sessions",
            summary: "Delete a session",
            query: &[],
            body: None,
            ok: (204, "Deleted", None),
        },
        Op {
            method: "post",
            path: "/v1/sessions/{session_id}/cancel",
            id: "cancel_turn",
            tag: "sessions",
            summary: "Cancel the running turn",
            query: &[],
            body: None,
            ok: (200, "Cancelled or no-op", Some(schema_ref("CancelTurnResponse"))),
        },
        Op {
            method: "get",
            path: "/v1/sessions/{session_id}/messages",
            id: "list_messages",
            tag: "messages",
            summary: "List messages",
            query: &[],
            body: None,
            ok: (200, "Messages", Some(list_of("Message"))),
        },
        Op {
            method: "post",
            path: "/v1/sessions/{session_id}/messages",
            id: "create_message",
            tag: "messages",
            summary: "Post a user message and start a turn",
            query: &[],
            body: json("CreateMessageRequest"),
            ok: (201, "The stored user message", Some(schema_ref("Message"))),
        },
        Op {
            method: "post",
            path: "/v1/sessions/{session_id}/tool-results",
            id: "submit_tool_results",
            tag: "messages",
            summary: "Submit client-side tool results",
            query: &[],
            body: json("SubmitToolResultsRequest"),
            ok: (200, "Accepted", Some(schema_ref("SubmitToolResultsResponse"))),
        },
        Op {
            method: "get",
            path: "/v1/sessions/{session_id}/events",
            id: "list_events",
            tag: "events",
            summary: "List persisted events",
            query: &[
                ("since_id", "string"),
                ("after_sequence", "integer"),
                ("before_sequence", "integer"),
                ("limit", "integer"),
                ("types", "array"),
                ("exclude", "array"),
            ],
            body: None,
            ok: (200, "Events", Some(list_of("Event"))),
        },
        Op {
            method: "get",
            path: "/v1/sessions/{session_id}/sse",
            id: "stream_events",
            tag: "events",
            summary: "Stream events (server-sent events)",
            query: filter_query,
            body: None,
            ok: (200, "text/event-stream: `connected`, events, `: heartbeat`, `disconnecting`", None),
        },
        Op {
            method: "get",
            path: "/v1/capabilities",
            id: "list_capabilities",
            tag: "capabilities",
            summary: "List capabilities",
            query: &[("search", "string"), ("offset", "integer"), ("limit", "integer")],
            body: None,
            ok: (200, "Capabilities", Some(paginated_of("CapabilityInfo"))),
        },
        Op {
            method: "get",
            path: "/v1/capabilities/{capability_id}",
            id: "get_capability",
            tag: "capabilities",
            summary: "Get a capability",
            query: &[],
            body: None,
            ok: (200, "The capability", Some(schema_ref("CapabilityInfo"))),
        },
        Op {
            method: "get",
            path: "/v1/auth/config",
            id: "get_auth_config",
            tag: "auth",
            summary: "The authentication mode (no credentials needed)",
            query: &[],
            body: None,
            ok: (200, "Auth configuration", Some(schema_ref("AuthConfig"))),
        },
        Op {
            method: "post",
            path: "/v1/auth/register",
            id: "register_organization",
            tag: "auth",
            summary: "Create an organization and its first API key (AUTH_SIGNUP_ENABLED; no credentials needed)",
            query: &[],
            body: json("RegisterRequest"),
            ok: (201, "Created; the key's secret is shown once", Some(schema_ref("RegisterResponse"))),
        },
        Op {
            method: "get",
            path: "/v1/auth/me",
            id: "get_caller",
            tag: "auth",
            summary: "The caller's organization and key",
            query: &[],
            body: None,
            ok: (200, "The caller", Some(schema_ref("Caller"))),
        },
        Op {
            method: "get",
            path: "/v1/auth/api-keys",
            id: "list_api_keys",
            tag: "auth",
            summary: "List the organization's API keys (never their secrets)",
            query: &[],
            body: None,
            ok: (200, "API keys", Some(list_of("ApiKey"))),
        },
        Op {
            method: "post",
            path: "/v1/auth/api-keys",
            id: "create_api_key",
            tag: "auth",
            summary: "Create an API key of the organization",
            query: &[],
            body: json("CreateApiKeyRequest"),
            ok: (201, "Created; the secret (`key`) is shown once", Some(schema_ref("CreatedApiKey"))),
        },
        Op {
            method: "delete",
            path: "/v1/auth/api-keys/{key_id}",
            id: "delete_api_key",
            tag: "auth",
            summary: "Revoke an API key",
            query: &[],
            body: None,
            ok: (204, "Revoked", None),
        },
    ]
}

fn schemas() -> Value {
    let ts = || json!({"type": "string", "format": "date-time"});
    let status = || json!({"type": "string", "enum": ["active", "archived", "deleted"]});
    let any = || json!({"type": ["object", "array", "string", "number", "boolean", "null"]});
    let strings = || array(string());
    let caps = || array(schema_ref("AgentCapabilityConfig"));
    let tools = || array(schema_ref("ToolDefinition"));
    let agent_fields = vec![
        ("id", string()),
        ("name", string()),
        ("display_name", string()),
        ("description", string()),
        ("system_prompt", string()),
        ("harness_id", string()),
        ("harness_name", string()),
        ("default_model_id", string()),
        ("capabilities", caps()),
        ("tools", tools()),
        ("initial_files", array(any())),
        ("tags", strings()),
        ("max_iterations", json!({"type": "integer"})),
        ("parallel_tool_calls", json!({"type": "boolean"})),
        ("network_access", any()),
        ("mcpServers", any()),
    ];
    let mut agent = agent_fields.clone();
    agent.retain(|(k, _)| *k != "harness_name");
    agent.extend([
        ("status", status()),
        ("usage", schema_ref("TokenUsage")),
        ("created_at", ts()),
        ("updated_at", ts()),
        ("archived_at", ts()),
    ]);
    let mut update_agent = agent_fields.clone();
    update_agent.push(("status", status()));
    let harness_fields = vec![
        ("name", string()),
        ("display_name", string()),
        ("description", string()),
        ("system_prompt", string()),
        ("parent_harness_id", string()),
        ("default_model_id", string()),
        ("capabilities", caps()),
        ("initial_files", array(any())),
        ("tags", strings()),
        ("network_access", any()),
        ("parallel_tool_calls", json!({"type": "boolean"})),
        ("mcpServers", any()),
        ("embedder_metadata", any()),
    ];
    let mut harness = harness_fields.clone();
    harness.extend([
        ("id", string()),
        ("is_built_in", json!({"type": "boolean"})),
        ("status", status()),
        ("created_at", ts()),
        ("updated_at", ts()),
    ]);
    let mut update_harness = harness_fields.clone();
    update_harness.push(("status", status()));
    let session_fields = vec![
        ("title", string()),
        ("locale", string()),
        ("model_id", string()),
        ("tags", strings()),
        ("capabilities", caps()),
        ("tools", tools()),
        ("initial_files", array(any())),
        ("system_prompt", string()),
        ("hints", any()),
        ("max_iterations", json!({"type": "integer"})),
        ("parallel_tool_calls", json!({"type": "boolean"})),
        ("network_access", any()),
        ("mcpServers", any()),
    ];
    let mut create_session = session_fields.clone();
    create_session.extend([
        ("harness_id", string()),
        ("harness_name", string()),
        ("agent_id", string()),
        ("agent_name", string()),
    ]);
    let mut session = session_fields.clone();
    session.extend([
        ("id", string()),
        ("organization_id", string()),
        ("harness_id", string()),
        ("agent_id", string()),
        ("status", json!({"type": "string", "enum": ["started", "active", "idle", "waitingfortoolresults"]})),
        ("preview", string()),
        ("output_preview", string()),
        ("usage", schema_ref("TokenUsage")),
        ("started_at", ts()),
        ("finished_at", ts()),
        ("created_at", ts()),
        ("updated_at", ts()),
    ]);
    let model = vec![
        ("id", string()),
        ("provider_id", string()),
        ("model_id", string()),
        ("display_name", string()),
        ("capabilities", strings()),
        ("enabled", json!({"type": "boolean"})),
        ("is_favorite", json!({"type": "boolean"})),
        ("source", json!({"type": "string", "enum": ["manual", "discovered", "predefined"]})),
        ("created_at", ts()),
        ("updated_at", ts()),
    ];
    let mut model_with_provider = model.clone();
    model_with_provider.extend([
        ("provider_name", string()),
        ("provider_type", string()),
        ("healthy", json!({"type": "boolean"})),
        ("model_vendor", string()),
    ]);
    let content_part = object(
        &["type"],
        &[
            ("type", json!({"type": "string", "enum": ["text", "image", "image_file", "tool_call", "tool_result"]})),
            ("text", string()),
            ("base64", string()),
            ("url", string()),
            ("media_type", string()),
            ("image_id", string()),
            ("filename", string()),
            ("id", string()),
            ("name", string()),
            ("arguments", any()),
            ("tool_call_id", string()),
            ("result", any()),
            ("error", string()),
        ],
    );
    json!({
        "Agent": object(&["id", "name", "system_prompt", "harness_id", "status", "created_at", "updated_at"], &agent),
        "CreateAgentRequest": object(&["name", "system_prompt"], &agent_fields),
        "UpdateAgentRequest": object(&[], &update_agent),
        "Harness": object(&["id", "name", "status", "created_at", "updated_at"], &harness),
        "CreateHarnessRequest": object(&["name"], &harness_fields),
        "UpdateHarnessRequest": object(&[], &update_harness),
        "HarnessExample": object(&["name", "display_name", "description", "capabilities", "tags", "dev_only"], &[
            ("name", string()), ("display_name", string()), ("description", string()), ("capabilities", caps()),
            ("tags", strings()), ("dev_only", json!({"type": "boolean"})), ("parent_name", string()),
        ]),
        "Model": object(&["id", "provider_id", "model_id", "display_name", "capabilities", "enabled", "is_favorite", "source", "created_at", "updated_at"], &model),
        "ModelWithProvider": object(&["id", "model_id", "display_name", "provider_id", "provider_name", "provider_type", "capabilities", "enabled", "healthy", "is_favorite", "source", "created_at", "updated_at"], &model_with_provider),
        "CreateModelRequest": object(&["model_id", "display_name"], &[("model_id", string()), ("display_name", string()), ("capabilities", strings()), ("enabled", json!({"type": "boolean"})), ("is_favorite", json!({"type": "boolean"}))]),
        "UpdateModelRequest": object(&[], &[("model_id", string()), ("display_name", string()), ("capabilities", strings()), ("enabled", json!({"type": "boolean"})), ("is_favorite", json!({"type": "boolean"})), ("provider_id", string())]),
        "Provider": object(&["id", "name", "provider_type", "status", "api_key_set", "created_at", "updated_at"], &[
            ("id", string()), ("name", string()), ("provider_type", string()), ("status", json!({"type": "string", "enum": ["active", "disabled"]})),
            ("api_key_set", json!({"type": "boolean"})), ("base_url", string()), ("created_at", ts()), ("updated_at", ts()),
        ]),
        "CreateProviderRequest": object(&["name", "provider_type"], &[("name", string()), ("provider_type", string()), ("api_key", json!({"type": "string", "writeOnly": true})), ("base_url", string())]),
        "UpdateProviderRequest": object(&[], &[("name", string()), ("provider_type", string()), ("api_key", json!({"type": "string", "writeOnly": true})), ("base_url", string()), ("status", json!({"type": "string", "enum": ["active", "disabled"]}))]),
        "Session": object(&["id", "organization_id", "harness_id", "status", "created_at", "updated_at"], &session),
        "CreateSessionRequest": object(&[], &create_session),
        "UpdateSessionRequest": object(&[], &session_fields),
        "ContentPart": content_part,
        "Message": object(&["id", "role", "content", "created_at"], &[
            ("id", string()), ("role", json!({"type": "string", "enum": ["system", "user", "agent", "tool_result"]})),
            ("content", array(schema_ref("ContentPart"))), ("created_at", ts()), ("controls", schema_ref("Controls")),
            ("metadata", any()), ("phase", json!({"type": "string", "enum": ["commentary", "final_answer"]})),
            ("thinking", string()), ("session_id", string()), ("sequence", json!({"type": "integer"})),
        ]),
        "Controls": object(&[], &[("model_id", string()), ("reasoning", any()), ("locale", string()), ("hints", any()), ("error_disclosure", json!({"type": "string", "enum": ["generic", "standard", "detailed"]}))]),
        "CreateMessageRequest": object(&["message"], &[
            ("message", object(&["content"], &[("role", json!({"type": "string", "enum": ["user"]})), ("content", array(schema_ref("ContentPart")))])),
            ("controls", schema_ref("Controls")), ("metadata", any()),
        ]),
        "Event": object(&["id", "type", "ts", "session_id", "context", "data"], &[
            ("id", string()), ("type", string()), ("ts", ts()), ("session_id", string()), ("context", any()),
            ("data", any()), ("sequence", json!({"type": "integer"})), ("metadata", any()), ("tags", strings()),
        ]),
        "SubmitToolResultsRequest": object(&["tool_results"], &[("tool_results", array(object(&["tool_call_id"], &[("tool_call_id", string()), ("result", any()), ("error", string())])))]),
        "SubmitToolResultsResponse": object(&["accepted", "status"], &[("accepted", json!({"type": "integer"})), ("status", string())]),
        "CancelTurnResponse": object(&["status", "message"], &[("status", json!({"type": "string", "enum": ["cancelled", "no_op"]})), ("message", string())]),
        "CapabilityInfo": object(&["id", "name", "description", "status"], &[
            ("id", string()), ("name", string()), ("description", string()), ("status", string()), ("category", string()),
            ("icon", string()), ("dependencies", strings()), ("risk_level", string()), ("is_mcp", json!({"type": "boolean"})),
            ("is_skill", json!({"type": "boolean"})), ("system_prompt", string()), ("tool_definitions", array(any())),
        ]),
        "AgentCapabilityConfig": object(&["ref"], &[("ref", string()), ("config", any())]),
        "ToolDefinition": object(&["name", "description", "parameters"], &[
            ("type", json!({"type": "string", "enum": ["client_side", "builtin"]})), ("name", string()),
            ("description", string()), ("parameters", any()), ("display_name", string()), ("category", string()),
        ]),
        "TokenUsage": object(&["input_tokens", "output_tokens"], &[("input_tokens", json!({"type": "integer"})), ("output_tokens", json!({"type": "integer"})), ("cache_read_tokens", json!({"type": "integer"})), ("cache_creation_tokens", json!({"type": "integer"}))]),
        "AuthConfig": object(&["mode", "password_auth_enabled", "oauth_providers", "signup_enabled"], &[
            ("mode", json!({"type": "string", "enum": ["none", "api_key"]})), ("password_auth_enabled", json!({"type": "boolean"})),
            ("oauth_providers", strings()), ("signup_enabled", json!({"type": "boolean"})),
        ]),
        "Organization": object(&["id", "name", "created_at"], &[("id", string()), ("name", string()), ("created_at", ts())]),
        "ApiKey": object(&["id", "organization_id", "name", "key_prefix", "scopes", "created_at"], &[
            ("id", string()), ("organization_id", string()), ("name", string()), ("key_prefix", string()),
            ("scopes", strings()), ("expires_at", ts()), ("last_used_at", ts()), ("created_at", ts()),
        ]),
        "CreatedApiKey": {"allOf": [schema_ref("ApiKey"), object(&["key"], &[("key", string())])]},
        "CreateApiKeyRequest": object(&["name"], &[("name", string()), ("expires_at", ts()), ("expires_in_days", json!({"type": "integer", "minimum": 1})), ("scopes", strings())]),
        "RegisterRequest": object(&["organization_name"], &[("organization_name", string()), ("key_name", string())]),
        "RegisterResponse": object(&["organization", "api_key"], &[("organization", schema_ref("Organization")), ("api_key", schema_ref("CreatedApiKey"))]),
        "Caller": object(&["organization", "auth_mode"], &[("organization", schema_ref("Organization")), ("api_key_id", string()), ("auth_mode", string())]),
        "Problem": object(&["title", "status", "error"], &[
            ("type", string()), ("title", string()), ("status", json!({"type": "integer"})), ("detail", string()),
            ("code", string()), ("retry_after_seconds", json!({"type": "integer"})),
            ("error", object(&["code", "message"], &[("code", string()), ("message", string())])),
        ]),
    })
}

fn operation(op: &Op) -> Value {
    let mut parameters: Vec<Value> = op
        .path
        .split('/')
        .filter_map(|seg| seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
        .map(|name| json!({"name": name, "in": "path", "required": true, "schema": string()}))
        .collect();
    for (name, kind) in op.query {
        let schema = if *kind == "array" { array(string()) } else { json!({"type": kind}) };
        let mut param = json!({"name": name, "in": "query", "required": false, "schema": schema});
        if *kind == "array" {
            param["style"] = json!("form");
            param["explode"] = json!(true);
        }
        parameters.push(param);
    }
    let problem = |description: &str| json!({"description": description, "content": {"application/problem+json": {"schema": schema_ref("Problem")}}});
    let (code, description, schema) = &op.ok;
    let mut ok = json!({"description": description});
    if let Some(schema) = schema {
        let media = if op.id == "export_agent" { "text/markdown" } else { "application/json" };
        ok["content"] = json!({ media: {"schema": schema} });
    }
    if op.id == "stream_events" {
        ok["content"] = json!({"text/event-stream": {"schema": string()}});
    }
    let mut responses = json!({ code.to_string(): ok, "400": problem("Invalid input"), "401": problem("Missing or invalid credentials (AUTH_MODE=api_key)"), "429": problem("Rate or connection limit"), "500": problem("Internal error") });
    if op.path.contains('{') {
        responses["404"] = problem("Not found");
    }
    if op.body.is_some() {
        responses["413"] = problem("Body too large");
    }
    let mut value = json!({"operationId": op.id, "tags": [op.tag], "summary": op.summary, "parameters": parameters, "responses": responses});
    if let Some((media, schema)) = &op.body {
        value["requestBody"] = json!({"required": true, "content": { *media: {"schema": schema} }});
    }
    value
}

/// Builds the document for REST routes mounted under `prefix`.
pub fn build(prefix: &str) -> Value {
    let mut paths = Map::new();
    for op in operations() {
        let entry = paths.entry(format!("{prefix}{}", op.path)).or_insert_with(|| json!({}));
        entry[op.method] = operation(&op);
    }
    paths.insert("/health".into(), json!({"get": {"operationId": "health", "tags": ["system"], "summary": "Liveness", "responses": {"200": {"description": "ok"}}}}));
    paths.insert("/api-doc/openapi.json".into(), json!({"get": {"operationId": "openapi", "tags": ["system"], "summary": "This document", "responses": {"200": {"description": "OpenAPI 3.1"}}}}));
    let document = json!({
        "openapi": "3.1.0",
        "info": {"title": "Everruns API", "version": env!("CARGO_PKG_VERSION"), "description": "Durable AI-agent execution: agents, harnesses, sessions, turns and typed events."},
        "servers": [{"url": "/"}],
        "paths": paths,
        "components": {
            "schemas": schemas(),
            "securitySchemes": {"apiKey": {"type": "apiKey", "in": "header", "name": "Authorization"}},
        },
        "security": [{"apiKey": []}],
    });
    // Validate the shape against utoipa's OpenAPI model; serve what it serializes.
    match serde_json::from_value::<utoipa::openapi::OpenApi>(document.clone()) {
        Ok(openapi) => serde_json::to_value(openapi).unwrap_or(document),
        Err(error) => {
            tracing::error!("the OpenAPI document does not validate: {error}");
            document
        }
    }
}

/// `GET /api-doc/openapi.json`.
pub async fn document(State(state): State<AppState>) -> Json<Value> {
    static DOCUMENT: OnceLock<Value> = OnceLock::new();
    Json(DOCUMENT.get_or_init(|| build(&state.config.api_prefix)).clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_operation_is_documented_and_the_document_validates() {
        let doc = build("/api");
        assert!(serde_json::from_value::<utoipa::openapi::OpenApi>(doc.clone()).is_ok());
        let paths = doc["paths"].as_object().map(|p| p.len()).unwrap_or(0);
        assert_eq!(paths, 29, "distinct paths, including /health and this document");
        assert!(doc["paths"]["/api/v1/sessions/{session_id}/sse"]["get"].is_object());
        assert_eq!(doc["components"]["schemas"]["Agent"]["required"][0], "id");
        let ops: usize = doc["paths"]
            .as_object()
            .map(|p| p.values().map(|v| v.as_object().map_or(0, |o| o.len())).sum())
            .unwrap_or(0);
        assert_eq!(ops, operations().len() + 2);
    }
}
