//! `session_storage`: a session's key-value store (`kv_store`) and secret store
//! (`secret_store`; values sealed with the deployment key wherever they are stored, and listed by
//! name only). Both take `{action: set|get|delete|list, key?, value?}`.

use everruns_core::capabilities::{Capability, CapabilityInfo, ToolContext, ToolOutcome};
use everruns_core::domain::ToolDefinition;
use everruns_core::ports::ValueSpace;
use serde_json::{Value, json};

use crate::args::{object, required_str, required_text};
use crate::files::port;

/// The capability id.
pub const ID: &str = "session_storage";

/// Session key-value and secret storage.
#[derive(Debug, Clone, Copy, Default)]
pub struct SessionStorageCapability;

#[async_trait::async_trait]
impl Capability for SessionStorageCapability {
    fn id(&self) -> &str {
        ID
    }

    fn info(&self) -> CapabilityInfo {
        CapabilityInfo {
            id: ID.into(),
            name: "Session Storage".into(),
            description: "A key-value store and a secret store that last for the session.".into(),
            status: "available".into(),
            category: Some("Storage".into()),
            icon: Some("database".into()),
            dependencies: Vec::new(),
            risk_level: Some("low".into()),
        }
    }

    fn system_prompt_contribution(&self, _config: &Value) -> Option<String> {
        Some(
            "<session-storage>\nkv_store keeps small values for the rest of the session; secret_store keeps \
             credentials encrypted (list shows names only). Never repeat a secret's value in your answers.\n\
             </session-storage>"
                .into(),
        )
    }

    fn tools(&self, _config: &Value) -> Vec<ToolDefinition> {
        vec![
            definition("kv_store", "Store, read, delete or list small values kept for the session."),
            definition("secret_store", "Store, read, delete or list secrets kept encrypted for the session."),
        ]
    }

    async fn execute_tool(&self, tool: &str, arguments: &Value, _config: &Value, ctx: &ToolContext<'_>) -> ToolOutcome {
        object(arguments)?;
        let space = match tool {
            "kv_store" => ValueSpace::Values,
            "secret_store" => ValueSpace::Secrets,
            other => return Err(format!("unknown tool '{other}' in capability {ID}")),
        };
        let (workspace, session) = (ctx.workspace, ctx.session);
        match required_str(arguments, "action")? {
            "set" => {
                let key = required_str(arguments, "key")?;
                let value = required_text(arguments, "value")?;
                workspace.put_value(session, space, key, value).await.map_err(port)?;
                Ok(json!({"key": key, "stored": true}))
            }
            "get" => {
                let key = required_str(arguments, "key")?;
                match workspace.get_value(session, space, key).await.map_err(port)? {
                    Some(value) => Ok(json!({"key": key, "found": true, "value": value})),
                    None => Ok(json!({"key": key, "found": false})),
                }
            }
            "delete" => {
                let key = required_str(arguments, "key")?;
                let deleted = workspace.delete_value(session, space, key).await.map_err(port)?;
                Ok(json!({"key": key, "deleted": deleted}))
            }
            "list" => Ok(json!({"keys": workspace.list_keys(session, space).await.map_err(port)?})),
            other => Err(format!(
                "'action' must be set, get, delete or list (got '{}')",
                other.chars().take(20).collect::<String>()
            )),
        }
    }
}

fn definition(name: &str, description: &str) -> ToolDefinition {
    ToolDefinition::builtin(
        name,
        description,
        json!({"type": "object", "properties": {
            "action": {"type": "string", "enum": ["set", "get", "delete", "list"]},
            "key": {"type": "string", "description": "The key (not for list)."},
            "value": {"type": "string", "description": "The value (set only)."}
        }, "required": ["action"]}),
    )
}
