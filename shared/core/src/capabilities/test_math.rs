//! `test_math`: an experimental capability (dev grade only) with four arithmetic tools, used to
//! exercise multi-tool turns.

use serde_json::{Value, json};

use super::{Capability, CapabilityInfo, ToolContext, ToolOutcome};
use crate::domain::ToolDefinition;

/// Arithmetic tools: `add`, `subtract`, `multiply`, `divide`. Experimental.
#[derive(Debug, Clone, Copy, Default)]
pub struct TestMathCapability;

const OPERATIONS: [(&str, &str); 4] = [
    ("add", "Add b to a."),
    ("subtract", "Subtract b from a."),
    ("multiply", "Multiply a by b."),
    ("divide", "Divide a by b."),
];

#[async_trait::async_trait]
impl Capability for TestMathCapability {
    fn id(&self) -> &str {
        "test_math"
    }

    fn info(&self) -> CapabilityInfo {
        CapabilityInfo {
            id: "test_math".into(),
            name: "Test Math".into(),
            description: "Arithmetic tools for testing multi-tool turns. Experimental.".into(),
            status: "available".into(),
            category: Some("Testing".into()),
            icon: Some("calculator".into()),
            dependencies: Vec::new(),
            risk_level: Some("low".into()),
        }
    }

    fn is_experimental(&self) -> bool {
        true
    }

    fn tools(&self, _config: &Value) -> Vec<ToolDefinition> {
        OPERATIONS
            .iter()
            .map(|(name, description)| {
                ToolDefinition::builtin(
                    *name,
                    *description,
                    json!({
                        "type": "object",
                        "properties": {"a": {"type": "number"}, "b": {"type": "number"}},
                        "required": ["a", "b"]
                    }),
                )
            })
            .collect()
    }

    async fn execute_tool(
        &self,
        tool_name: &str,
        arguments: &Value,
        _config: &Value,
        _ctx: &ToolContext<'_>,
    ) -> ToolOutcome {
        let number =
            |key: &str| arguments.get(key).and_then(Value::as_f64).ok_or_else(|| format!("'{key}' must be a number"));
        let (a, b) = (number("a")?, number("b")?);
        let result = match tool_name {
            "add" => a + b,
            "subtract" => a - b,
            "multiply" => a * b,
            "divide" if b == 0.0 => return Err("division by zero".into()),
            "divide" => a / b,
            other => return Err(format!("unknown tool '{other}' in capability test_math")),
        };
        Ok(json!({ "result": result }))
    }
}
