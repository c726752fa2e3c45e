//! The MCP tools: their definitions (JSON Schema inputs) and the dispatch to the application
//! services. Bad arguments and refused operations are tool errors (`isError: true` with the
//! reason), which an MCP client's model can read and correct; an unknown tool is a protocol error.

use std::sync::Arc;

use everruns_core::ids::SessionId;
use everruns_core::ports::{EventFilter, ListQuery};
use everruns_core::turns::CancelOutcome;
use everruns_services::auth::Caller;
use everruns_services::sessions::SessionInput;
use everruns_services::{ServiceError, agents, sessions};
use rmcp::model::{CallToolResult, ContentBlock, JsonObject, Tool};
use rmcp::service::RequestContext;
use rmcp::{ErrorData as McpError, RoleServer};
use serde_json::{Value, json};

use crate::state::AppState;

/// Most events `list_events` answers at once.
const MAX_EVENTS: u64 = 500;

fn schema(value: Value) -> Arc<JsonObject> {
    match value {
        Value::Object(map) => Arc::new(map),
        _ => Arc::new(JsonObject::new()),
    }
}

fn id_property(prefix: &str, what: &str) -> Value {
    json!({"type": "string", "description": format!("The {what}'s id ({prefix}_<32 hex>)."), "pattern": format!("^{prefix}_[0-9a-f]{{32}}$")})
}

/// Every tool, in a stable order (built once per process: listing and each call's lookup read it).
pub(super) fn definitions() -> &'static [Tool] {
    static TOOLS: std::sync::LazyLock<Vec<Tool>> = std::sync::LazyLock::new(build_definitions);
    &TOOLS
}

fn build_definitions() -> Vec<Tool> {
    vec![
        Tool::new(
            "list_agents",
            "List the organization's agents (id, name, description), newest first.",
            schema(json!({"type": "object", "properties": {
                "search": {"type": "string", "description": "Only agents whose name or description contains this."},
                "limit": {"type": "integer", "minimum": 1, "maximum": 100, "default": 20},
                "offset": {"type": "integer", "minimum": 0, "default": 0}
            }, "additionalProperties": false})),
        ),
        Tool::new(
            "get_agent",
            "Get one agent: its system prompt, capabilities, tools and default model.",
            schema(json!({"type": "object", "properties": {
                "agent": {"type": "string", "description": "The agent's id (agent_<32 hex>) or name."}
            }, "required": ["agent"], "additionalProperties": false})),
        ),
        Tool::new(
            "create_session",
            "Create a session: a conversation with an agent (or with the default harness when no agent is named). Returns the session; its id is what send_message takes.",
            schema(json!({"type": "object", "properties": {
                "agent_id": {"type": "string", "description": "The agent's id or name (optional)."},
                "title": {"type": "string", "description": "A title for the session."},
                "model_id": {"type": "string", "description": "A model to use instead of the agent's (model_<32 hex>)."}
            }, "additionalProperties": false})),
        ),
        Tool::new(
            "send_message",
            "Send a user message to a session and wait for the agent's turn to end. Progress notifications carry the answer as it streams. Returns the final answer and how the turn ended (completed, failed, cancelled, waiting_for_tool_results when the agent called a client-side tool, or running when timeout_seconds passed first).",
            schema(json!({"type": "object", "properties": {
                "session_id": id_property("session", "session"),
                "text": {"type": "string", "minLength": 1, "description": "The message."},
                "timeout_seconds": {"type": "integer", "minimum": 1, "maximum": 900, "default": 300, "description": "How long to wait for the turn to end."}
            }, "required": ["session_id", "text"], "additionalProperties": false})),
        ),
        Tool::new(
            "list_events",
            "List a session's stored events (oldest first): messages, turns, tool calls, errors.",
            schema(json!({"type": "object", "properties": {
                "session_id": id_property("session", "session"),
                "after_sequence": {"type": "integer", "minimum": 0, "description": "Only events after this sequence number."},
                "types": {"type": "array", "items": {"type": "string"}, "maxItems": 64, "description": "Only these event types (e.g. output.message.completed)."},
                "limit": {"type": "integer", "minimum": 1, "maximum": MAX_EVENTS, "default": 100, "description": "At most this many (the latest ones)."}
            }, "required": ["session_id"], "additionalProperties": false})),
        ),
        Tool::new(
            "cancel_turn",
            "Cancel the session's running turn, if any.",
            schema(json!({"type": "object", "properties": {
                "session_id": id_property("session", "session")
            }, "required": ["session_id"], "additionalProperties": false})),
        ),
    ]
}

/// A refused call: a tool error the caller can read.
pub(super) struct Refusal(pub(super) String);

impl From<ServiceError> for Refusal {
    fn from(error: ServiceError) -> Self {
        match error {
            ServiceError::Internal(detail) => {
                tracing::error!("mcp tool failed: {detail}");
                Self("the server failed to complete the call; try again".to_owned())
            }
            other => Self(other.to_string()),
        }
    }
}

impl From<everruns_core::ports::PortError> for Refusal {
    fn from(error: everruns_core::ports::PortError) -> Self {
        ServiceError::from(error).into()
    }
}

impl From<everruns_core::turns::TurnError> for Refusal {
    fn from(error: everruns_core::turns::TurnError) -> Self {
        ServiceError::from(error).into()
    }
}

/// The typed reading of a tool's arguments.
pub(super) struct Args<'a>(pub(super) &'a JsonObject);

impl Args<'_> {
    /// Refuses arguments the tool does not take.
    pub(super) fn only(&self, known: &[&str]) -> Result<(), Refusal> {
        match self.0.keys().find(|k| !known.contains(&k.as_str())) {
            Some(key) => Err(Refusal(format!("unknown argument '{key}' (expected: {})", known.join(", ")))),
            None => Ok(()),
        }
    }

    pub(super) fn text(&self, name: &str) -> Result<Option<String>, Refusal> {
        match self.0.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(Refusal(format!("'{name}' must be a string"))),
        }
    }

    pub(super) fn required(&self, name: &str) -> Result<String, Refusal> {
        self.text(name)?.filter(|s| !s.trim().is_empty()).ok_or_else(|| Refusal(format!("'{name}' is required")))
    }

    pub(super) fn number(&self, name: &str, min: u64, max: u64, default: u64) -> Result<u64, Refusal> {
        match self.0.get(name) {
            None | Some(Value::Null) => Ok(default),
            Some(value) => value
                .as_u64()
                .filter(|n| (min..=max).contains(n))
                .ok_or_else(|| Refusal(format!("'{name}' must be an integer from {min} to {max}"))),
        }
    }

    pub(super) fn session(&self) -> Result<SessionId, Refusal> {
        let text = self.required("session_id")?;
        SessionId::parse(text.trim())
            .map_err(|_| Refusal("'session_id' must be a session id like session_<32 hex>".to_owned()))
    }
}

fn ok(value: Value) -> CallToolResult {
    CallToolResult::structured(value)
}

/// Runs a tool.
pub(super) async fn call(
    state: &AppState,
    caller: Caller,
    name: &str,
    arguments: &JsonObject,
    context: &RequestContext<RoleServer>,
) -> Result<CallToolResult, McpError> {
    let args = Args(arguments);
    let outcome = match name {
        "list_agents" => list_agents(state, caller, &args).await,
        "get_agent" => get_agent(state, caller, &args).await,
        "create_session" => create_session(state, caller, &args).await,
        "send_message" => super::turn::send_message(state, caller, &args, context).await,
        "list_events" => list_events(state, caller, &args).await,
        "cancel_turn" => cancel_turn(state, caller, &args).await,
        other => {
            return Err(McpError::invalid_params(
                format!("unknown tool '{}'", other.chars().take(64).collect::<String>()),
                None,
            ));
        }
    };
    Ok(outcome.unwrap_or_else(|Refusal(reason)| CallToolResult::error(vec![ContentBlock::text(reason)])))
}

async fn list_agents(state: &AppState, caller: Caller, args: &Args<'_>) -> Result<CallToolResult, Refusal> {
    args.only(&["search", "limit", "offset"])?;
    let query = ListQuery {
        search: args.text("search")?,
        include_archived: false,
        offset: args.number("offset", 0, u64::from(u32::MAX), 0)? as u32,
        limit: args.number("limit", 1, 100, 20)? as u32,
    };
    let page = agents::list(state, caller.org, query).await?;
    let agents: Vec<Value> = page
        .items
        .iter()
        .map(|a| json!({"id": a.id, "name": a.name, "display_name": a.display_name, "description": a.description}))
        .collect();
    Ok(ok(json!({"agents": agents, "total": page.total})))
}

async fn get_agent(state: &AppState, caller: Caller, args: &Args<'_>) -> Result<CallToolResult, Refusal> {
    args.only(&["agent"])?;
    let agent = agents::find(state, caller.org, args.required("agent")?.trim()).await?;
    Ok(ok(serde_json::to_value(agent).map_err(|e| Refusal::from(ServiceError::Internal(e.to_string())))?))
}

async fn create_session(state: &AppState, caller: Caller, args: &Args<'_>) -> Result<CallToolResult, Refusal> {
    args.only(&["agent_id", "title", "model_id"])?;
    let agent = args.text("agent_id")?.map(|a| a.trim().to_owned());
    let (agent_id, agent_name) = match agent {
        Some(a) if a.starts_with("agent_") => (Some(a), None),
        other => (None, other),
    };
    let input = SessionInput {
        agent_id,
        agent_name,
        title: args.text("title")?,
        model_id: args.text("model_id")?,
        ..SessionInput::default()
    };
    let session = sessions::create(state, caller.org, input).await?;
    Ok(ok(serde_json::to_value(session).map_err(|e| Refusal::from(ServiceError::Internal(e.to_string())))?))
}

async fn list_events(state: &AppState, caller: Caller, args: &Args<'_>) -> Result<CallToolResult, Refusal> {
    args.only(&["session_id", "after_sequence", "types", "limit"])?;
    let id = args.session()?;
    let after_sequence = match args.0.get("after_sequence") {
        None | Some(Value::Null) => None,
        Some(_) => Some(args.number("after_sequence", 0, i64::MAX as u64, 0)? as i64),
    };
    let types = arguments_types(args)?;
    let filter = EventFilter {
        after_sequence,
        // Without a type filter the conversation copies in `llm.generation` are left out.
        exclude: if types.is_none() { vec!["llm.generation".to_owned()] } else { Vec::new() },
        types: types.unwrap_or_default(),
        limit: Some(args.number("limit", 1, MAX_EVENTS, 100)? as u32),
        ..EventFilter::default()
    };
    let session = sessions::find(state, caller.org, &id.to_string()).await?;
    let events = state.stores.events.list_events(session.id, &filter).await?;
    let events = serde_json::to_value(&events).map_err(|e| Refusal::from(ServiceError::Internal(e.to_string())))?;
    Ok(ok(json!({"session_id": session.id, "events": events})))
}

fn arguments_types(args: &Args<'_>) -> Result<Option<Vec<String>>, Refusal> {
    match args.0.get("types") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Array(items)) if items.len() <= 64 => items
            .iter()
            .map(|v| v.as_str().filter(|s| !s.is_empty() && s.len() <= 64).map(str::to_owned))
            .collect::<Option<Vec<_>>>()
            .map(Some)
            .ok_or_else(|| Refusal("'types' must be a list of event type names".to_owned())),
        Some(_) => Err(Refusal("'types' must be a list of at most 64 event type names".to_owned())),
    }
}

async fn cancel_turn(state: &AppState, caller: Caller, args: &Args<'_>) -> Result<CallToolResult, Refusal> {
    args.only(&["session_id"])?;
    let session = sessions::find(state, caller.org, &args.session()?.to_string()).await?;
    let status = match state.turns.cancel(caller.org, session.id).await? {
        CancelOutcome::Cancelled => "cancelled",
        CancelOutcome::NoOp => "no_op",
    };
    Ok(ok(json!({"session_id": session.id, "status": status})))
}
