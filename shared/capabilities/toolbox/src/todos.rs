//! `stateless_todo_list`: `write_todos` replaces the agent's plan with the list it sends and
//! answers with the list and its counts. Nothing is stored: the plan lives in the conversation.

use everruns_core::capabilities::{Capability, CapabilityInfo, ToolContext, ToolOutcome};
use everruns_core::domain::ToolDefinition;
use serde_json::{Value, json};

use crate::args::object;

/// The capability id.
pub const ID: &str = "stateless_todo_list";
/// The most items a list may have.
pub const MAX_TODOS: usize = 100;
const STATUSES: [&str; 3] = ["pending", "in_progress", "completed"];

/// The stateless todo list.
#[derive(Debug, Clone, Copy, Default)]
pub struct TodoListCapability;

#[async_trait::async_trait]
impl Capability for TodoListCapability {
    fn id(&self) -> &str {
        ID
    }

    fn info(&self) -> CapabilityInfo {
        CapabilityInfo {
            id: ID.into(),
            name: "Todo List".into(),
            description: "Plan multi-step work as a todo list the agent keeps up to date.".into(),
            status: "available".into(),
            category: Some("Planning".into()),
            icon: Some("list-checks".into()),
            dependencies: Vec::new(),
            risk_level: Some("low".into()),
        }
    }

    fn system_prompt_contribution(&self, _config: &Value) -> Option<String> {
        Some(
            "<todo-list>\nFor work of several steps, keep a plan with write_todos: send the whole list each \
             time, with one item in_progress while you work on it.\n</todo-list>"
                .into(),
        )
    }

    fn tools(&self, _config: &Value) -> Vec<ToolDefinition> {
        vec![ToolDefinition::builtin(
            "write_todos",
            "Replace the todo list with this one (send every item, each with its status).",
            json!({"type": "object", "properties": {"todos": {"type": "array", "items": {
                "type": "object",
                "properties": {
                    "content": {"type": "string"},
                    "status": {"type": "string", "enum": STATUSES},
                    "activeForm": {"type": "string", "description": "The item as an ongoing action."}
                },
                "required": ["content", "status"]
            }}}, "required": ["todos"]}),
        )]
    }

    async fn execute_tool(
        &self,
        tool: &str,
        arguments: &Value,
        _config: &Value,
        _ctx: &ToolContext<'_>,
    ) -> ToolOutcome {
        if tool != "write_todos" {
            return Err(format!("unknown tool '{tool}' in capability {ID}"));
        }
        object(arguments)?;
        let todos = arguments.get("todos").and_then(Value::as_array).ok_or("'todos' must be an array")?;
        if todos.len() > MAX_TODOS {
            return Err(format!("'todos' may hold at most {MAX_TODOS} items"));
        }
        let mut counts = [0usize; 3];
        let mut items = Vec::with_capacity(todos.len());
        for (index, todo) in todos.iter().enumerate() {
            let content = todo.get("content").and_then(Value::as_str).map(str::trim).unwrap_or_default();
            if content.is_empty() {
                return Err(format!("todos[{index}].content must be a non-empty string"));
            }
            let status = todo.get("status").and_then(Value::as_str).unwrap_or_default();
            let Some(slot) = STATUSES.iter().position(|s| *s == status) else {
                return Err(format!("todos[{index}].status must be pending, in_progress or completed"));
            };
            counts[slot] += 1;
            let mut item = json!({"content": content, "status": status});
            if let Some(active) = todo.get("activeForm").and_then(Value::as_str) {
                item["activeForm"] = json!(active);
            }
            items.push(item);
        }
        Ok(json!({
            "todos": items,
            "summary": {"total": items.len(), "pending": counts[0], "in_progress": counts[1], "completed": counts[2]},
        }))
    }
}
