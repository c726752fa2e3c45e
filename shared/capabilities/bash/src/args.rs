//! The `bash` tool's arguments: `{command: string, timeout_seconds?: integer}`, checked before
//! anything runs. A bad argument is a message the model reads.

use std::time::Duration;

use serde_json::Value;

/// The wall-clock limit when the call names none.
pub const DEFAULT_TIMEOUT_SECONDS: u64 = 30;
/// The largest `timeout_seconds` a call may ask for.
pub const MAX_TIMEOUT_SECONDS: u64 = 120;
/// The longest command text accepted.
pub const MAX_COMMAND_BYTES: usize = 1024 * 1024;

/// Checked arguments of one `bash` call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BashArgs {
    /// The command or script.
    pub command: String,
    /// The wall-clock limit.
    pub timeout: Duration,
}

impl BashArgs {
    /// Checks the tool arguments; `Err` is a message for the model.
    pub fn parse(arguments: &Value) -> Result<Self, String> {
        let Value::Object(map) = arguments else {
            return Err("arguments must be an object with a 'command' string".into());
        };
        let command = match map.get("command") {
            None | Some(Value::Null) => return Err("'command' is required".into()),
            Some(Value::String(s)) => s,
            Some(_) => return Err("'command' must be a string".into()),
        };
        if command.trim().is_empty() {
            return Err("'command' must not be empty".into());
        }
        if command.len() > MAX_COMMAND_BYTES {
            return Err(format!("'command' must be at most {MAX_COMMAND_BYTES} bytes"));
        }
        let seconds = match map.get("timeout_seconds") {
            None | Some(Value::Null) => DEFAULT_TIMEOUT_SECONDS,
            Some(value) => value
                .as_u64()
                .filter(|s| (1..=MAX_TIMEOUT_SECONDS).contains(s))
                .ok_or_else(|| format!("'timeout_seconds' must be an integer from 1 to {MAX_TIMEOUT_SECONDS}"))?,
        };
        Ok(Self { command: command.clone(), timeout: Duration::from_secs(seconds) })
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn defaults_and_bounds() {
        let args = BashArgs::parse(&json!({"command": "ls"})).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(args.timeout, Duration::from_secs(DEFAULT_TIMEOUT_SECONDS));
        let args = BashArgs::parse(&json!({"command": "ls", "timeout_seconds": 120})).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(args.timeout, Duration::from_secs(120));
        for bad in [json!(0), json!(121), json!(-1), json!(2.5), json!("10")] {
            assert!(BashArgs::parse(&json!({"command": "ls", "timeout_seconds": bad})).is_err(), "{bad}");
        }
    }

    #[test]
    fn command_must_be_a_non_empty_string() {
        for bad in [json!({}), json!({"command": null}), json!({"command": 1}), json!({"command": "  "}), json!("ls")] {
            assert!(BashArgs::parse(&bad).is_err(), "{bad}");
        }
        let huge = "x".repeat(MAX_COMMAND_BYTES + 1);
        assert!(BashArgs::parse(&json!({"command": huge})).is_err());
    }
}
