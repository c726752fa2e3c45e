//! `current_time`: a tool that tells the current time, in UTC or an IANA time zone.

use chrono::{SecondsFormat, Utc};
use serde_json::{Value, json};

use super::{Capability, CapabilityInfo, ToolContext, ToolOutcome};
use crate::domain::ToolDefinition;

/// The `current_time` capability with its `get_current_time` tool.
#[derive(Debug, Clone, Copy, Default)]
pub struct CurrentTimeCapability;

/// The tool name.
pub const GET_CURRENT_TIME: &str = "get_current_time";

#[async_trait::async_trait]
impl Capability for CurrentTimeCapability {
    fn id(&self) -> &str {
        "current_time"
    }

    fn info(&self) -> CapabilityInfo {
        CapabilityInfo {
            id: "current_time".into(),
            name: "Current Time".into(),
            description: "Tells the current date and time, in UTC or any IANA time zone.".into(),
            status: "available".into(),
            category: Some("Utilities".into()),
            icon: Some("clock".into()),
            dependencies: Vec::new(),
            risk_level: Some("low".into()),
        }
    }

    fn tools(&self, _config: &Value) -> Vec<ToolDefinition> {
        vec![ToolDefinition::builtin(
            GET_CURRENT_TIME,
            "Get the current date and time. Optionally in an IANA time zone and a chosen format.",
            json!({
                "type": "object",
                "properties": {
                    "timezone": {"type": "string", "description": "IANA time zone, e.g. Europe/Paris. Default UTC."},
                    "format": {"type": "string", "enum": ["iso8601", "unix", "human"], "description": "Output format. Default iso8601."}
                },
                "additionalProperties": false
            }),
        )]
    }

    async fn execute_tool(
        &self,
        tool_name: &str,
        arguments: &Value,
        _config: &Value,
        _ctx: &ToolContext<'_>,
    ) -> ToolOutcome {
        if tool_name != GET_CURRENT_TIME {
            return Err(format!("unknown tool '{tool_name}' in capability current_time"));
        }
        current_time(arguments)
    }
}

fn current_time(arguments: &Value) -> ToolOutcome {
    let zone_name = match arguments.get("timezone") {
        None | Some(Value::Null) => "UTC",
        Some(Value::String(s)) if s.trim().is_empty() => "UTC",
        Some(Value::String(s)) => s.trim(),
        Some(_) => return Err("timezone must be a string".into()),
    };
    let zone: chrono_tz::Tz = zone_name.parse().map_err(|_| format!("unknown time zone '{zone_name}'"))?;
    let format = match arguments.get("format") {
        None | Some(Value::Null) => "iso8601",
        Some(Value::String(s)) => s.as_str(),
        Some(_) => return Err("format must be a string".into()),
    };
    let now = Utc::now().with_timezone(&zone);
    match format {
        "iso8601" => Ok(json!({
            "datetime": now.to_rfc3339_opts(SecondsFormat::Secs, false),
            "format": "iso8601",
            "timezone": zone_name,
        })),
        "unix" => Ok(json!({"timestamp": now.timestamp(), "format": "unix", "timezone": zone_name})),
        "human" => Ok(json!({
            "datetime": now.format("%A, %B %-d, %Y at %-I:%M %p %Z").to_string(),
            "format": "human",
            "timezone": zone_name,
        })),
        other => Err(format!("unknown format '{other}' (expected iso8601, unix or human)")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::SessionId;
    use crate::ports::NoWorkspace;

    fn ctx() -> ToolContext<'static> {
        ToolContext::new(SessionId::new(), &NoWorkspace)
    }

    #[tokio::test]
    async fn answers_in_a_time_zone() {
        let cap = CurrentTimeCapability;
        let out = cap.execute_tool(GET_CURRENT_TIME, &json!({"timezone": "Asia/Tokyo"}), &json!({}), &ctx()).await;
        let out = out.unwrap_or_else(|e| panic!("{e}"));
        assert!(out["datetime"].as_str().is_some_and(|d| d.ends_with("+09:00")), "{out}");
        let unix = cap.execute_tool(GET_CURRENT_TIME, &json!({"format": "unix"}), &json!({}), &ctx()).await;
        assert!(unix.is_ok_and(|v| v["timestamp"].as_i64().is_some_and(|t| t > 1_700_000_000)));
    }

    #[tokio::test]
    async fn bad_arguments_are_tool_errors() {
        let cap = CurrentTimeCapability;
        assert!(
            cap.execute_tool(GET_CURRENT_TIME, &json!({"timezone": "Mars/Olympus"}), &json!({}), &ctx()).await.is_err()
        );
        assert!(cap.execute_tool(GET_CURRENT_TIME, &json!({"timezone": 5}), &json!({}), &ctx()).await.is_err());
        assert!(cap.execute_tool(GET_CURRENT_TIME, &json!({"format": "roman"}), &json!({}), &ctx()).await.is_err());
    }
}
