//! The document's shape: it round-trips through utoipa's model, keeps the operation ids and
//! required fields the SDK relies on, declares null where the server sends null, every status
//! the layers can answer, and the constraints the server enforces.
#![allow(clippy::unwrap_used)]

use serde_json::Value;

use super::build;

fn doc() -> Value {
    serde_json::to_value(build("/api")).unwrap()
}

/// Every operation as `(method, path, operation)`.
fn operations(doc: &Value) -> Vec<(String, String, Value)> {
    let mut out = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            out.push((method.clone(), path.clone(), operation.clone()));
        }
    }
    out
}

fn operation(doc: &Value, id: &str) -> Value {
    operations(doc).into_iter().find(|(_, _, op)| op["operationId"] == id).map(|(_, _, op)| op).unwrap()
}

fn schema<'a>(doc: &'a Value, name: &str) -> &'a Value {
    &doc["components"]["schemas"][name]
}

fn required(doc: &Value, name: &str) -> Vec<String> {
    let mut fields: Vec<String> = serde_json::from_value(schema(doc, name)["required"].clone()).unwrap_or_default();
    fields.sort();
    fields
}

fn accepts_null(property: &Value) -> bool {
    property["type"].as_array().is_some_and(|t| t.contains(&Value::from("null")))
        || property["oneOf"].as_array().is_some_and(|v| v.iter().any(|s| s["type"] == "null"))
}

/// Every `$ref` in `value`.
fn refs(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            if let Some(Value::String(target)) = map.get("$ref") {
                out.push(target.clone());
            }
            map.values().for_each(|v| refs(v, out));
        }
        Value::Array(items) => items.iter().for_each(|v| refs(v, out)),
        _ => {}
    }
}

#[test]
fn every_reference_resolves() {
    let doc = doc();
    assert_eq!(doc["openapi"], "3.1.0");
    assert_eq!(doc["info"]["version"], env!("CARGO_PKG_VERSION"));
    let mut targets = Vec::new();
    refs(&doc, &mut targets);
    assert!(targets.len() > 100);
    for target in targets {
        let pointer = target.strip_prefix('#').unwrap();
        assert!(doc.pointer(pointer).is_some_and(Value::is_object), "{target} does not resolve");
    }
}

#[test]
fn rest_paths_are_under_the_prefix_and_the_root_routes_are_not() {
    let doc = doc();
    let paths: Vec<&String> = doc["paths"].as_object().unwrap().keys().collect();
    assert!(paths.iter().all(|p| p.starts_with("/api/v1/") || *p == "/health" || *p == "/api-doc/openapi.json"));
    let unprefixed = serde_json::to_value(build("")).unwrap();
    assert!(unprefixed["paths"]["/v1/agents"]["get"].is_object());
}

#[test]
fn operation_ids_and_the_sdk_required_fields_are_kept() {
    let doc = doc();
    let mut ids: Vec<String> =
        operations(&doc).iter().map(|(_, _, op)| op["operationId"].as_str().unwrap().to_owned()).collect();
    ids.sort();
    let expected = [
        "cancel_turn",
        "copy_agent",
        "create_agent",
        "create_api_key",
        "create_harness",
        "create_message",
        "create_provider",
        "create_provider_model",
        "create_session",
        "delete_agent",
        "delete_api_key",
        "delete_harness",
        "delete_model",
        "delete_provider",
        "delete_session",
        "export_agent",
        "get_agent",
        "get_auth_config",
        "get_caller",
        "get_capability",
        "get_harness",
        "get_model",
        "get_organization_settings",
        "get_provider",
        "get_session",
        "health",
        "import_agent",
        "list_agents",
        "list_api_keys",
        "list_capabilities",
        "list_events",
        "list_harness_examples",
        "list_harnesses",
        "list_messages",
        "list_models",
        "list_provider_models",
        "list_providers",
        "list_sessions",
        "openapi",
        "put_agent",
        "register_organization",
        "stream_events",
        "submit_tool_results",
        "update_agent",
        "update_harness",
        "update_model",
        "update_organization_settings",
        "update_provider",
        "update_session",
    ];
    assert_eq!(ids, expected);
    let agent = required(&doc, "Agent");
    for field in ["id", "name", "system_prompt", "harness_id", "status", "created_at", "updated_at"] {
        assert!(agent.contains(&field.to_owned()), "Agent.{field}");
    }
    assert_eq!(required(&doc, "CreateAgentRequest"), ["name", "system_prompt"]);
    assert_eq!(required(&doc, "Message"), ["content", "created_at", "id", "role"]);
    assert_eq!(required(&doc, "Event"), ["context", "data", "id", "session_id", "ts", "type"]);
    assert_eq!(required(&doc, "CreateMessageRequest"), ["message"]);
    assert_eq!(required(&doc, "CancelTurnResponse"), ["message", "status"]);
    assert!(schema(&doc, "Session")["properties"]["mcpServers"].is_object());
}

#[test]
fn null_is_declared_where_the_server_sends_it() {
    let doc = doc();
    // `GET /v1/auth/me` with AUTH_MODE=none and `GET /v1/harness-examples` for a root harness.
    for (name, field) in [("Caller", "api_key_id"), ("HarnessExample", "parent_name")] {
        assert!(required(&doc, name).contains(&field.to_owned()), "{name}.{field} is always sent");
        assert!(accepts_null(&schema(&doc, name)["properties"][field]), "{name}.{field} may be null");
    }
    // Fields the server omits when unset are optional, not nullable.
    let agent = &schema(&doc, "Agent")["properties"];
    assert!(!accepts_null(&agent["display_name"]) && !required(&doc, "Agent").contains(&"display_name".to_owned()));
}

#[test]
fn every_operation_declares_the_statuses_of_the_layers_around_it() {
    let doc = doc();
    for (method, path, op) in operations(&doc) {
        let responses = op["responses"].as_object().unwrap();
        let has = |code: &str| responses.contains_key(code);
        if !path.starts_with("/api/") {
            continue;
        }
        let id = &op["operationId"];
        for code in ["400", "429", "500", "503"] {
            assert!(has(code), "{id} {code}");
        }
        let public = ["get_auth_config", "register_organization"].contains(&id.as_str().unwrap());
        assert_eq!(has("401"), !public, "{id} 401");
        assert_eq!(has("403"), id != "get_auth_config", "{id} 403");
        assert_eq!(has("409"), method != "get", "{id} 409");
        assert_eq!(has("415"), op["requestBody"].is_object(), "{id} 415");
        if path.contains('{') || op["requestBody"].is_object() {
            assert!(has("404"), "{id} 404");
        }
    }
    for upsert in ["create_agent", "put_agent", "import_agent"] {
        let responses = &operation(&doc, upsert)["responses"];
        assert!(responses["200"].is_object() && responses["201"].is_object(), "{upsert}: 201 created, 200 updated");
    }
    let problem = &doc["components"]["responses"]["Conflict"]["content"]["application/problem+json"]["schema"];
    assert_eq!(problem["$ref"], "#/components/schemas/Problem");
}

fn parameter(op: &Value, name: &str) -> Value {
    op["parameters"].as_array().unwrap().iter().find(|p| p["name"] == name).cloned().unwrap()
}

#[test]
fn the_constraints_the_server_enforces_are_declared() {
    let doc = doc();
    for (id, max) in [("list_agents", 100), ("list_sessions", 100), ("list_capabilities", 100), ("list_events", 1000)] {
        let limit = parameter(&operation(&doc, id), "limit");
        assert_eq!(limit["schema"]["minimum"], 1, "{id}");
        assert_eq!(limit["schema"]["maximum"], max, "{id}");
    }
    let strict = parameter(&operation(&doc, "delete_agent"), "agent_id");
    assert_eq!(strict["schema"]["pattern"], "^agent_[0-9a-f]{32}$");
    let by_name = parameter(&operation(&doc, "get_agent"), "agent_id");
    assert!(by_name["schema"]["pattern"].as_str().unwrap().contains("[a-z0-9]+(-[a-z0-9]+)*"));
    for (id, name, prefix) in [
        ("get_session", "session_id", "session"),
        ("get_model", "id", "model"),
        ("get_provider", "id", "provider"),
        ("list_provider_models", "provider_id", "provider"),
        ("delete_api_key", "key_id", "key"),
    ] {
        let param = parameter(&operation(&doc, id), name);
        assert_eq!(param["schema"]["pattern"], format!("^{prefix}_[0-9a-f]{{32}}$"), "{id}");
    }
    let days = &schema(&doc, "CreateApiKeyRequest")["properties"]["expires_in_days"];
    assert!(days.to_string().contains("\"minimum\":1"), "{days}");
    assert_eq!(schema(&doc, "Name")["maxLength"], 64);
    for id in ["list_events", "stream_events"] {
        let types = parameter(&operation(&doc, id), "types");
        let allowed = types["schema"]["items"]["enum"].as_array().unwrap();
        assert_eq!(allowed.len(), everruns_core::events::EVENT_TYPES.len(), "{id}");
        assert!(allowed.contains(&Value::from("turn.completed")), "{id}");
        assert_eq!(types["schema"]["maxItems"], crate::sse::MAX_FILTER_VALUES, "{id}");
    }
}
