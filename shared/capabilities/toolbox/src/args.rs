//! Reading a tool's JSON arguments: each accessor names the argument in its error, which is the
//! tool error the model reads.

use serde_json::Value;

/// A required, non-empty string.
pub fn required_str<'a>(arguments: &'a Value, name: &str) -> Result<&'a str, String> {
    match arguments.get(name) {
        Some(Value::String(s)) if !s.trim().is_empty() => Ok(s),
        Some(Value::String(_)) => Err(format!("'{name}' must not be empty")),
        None | Some(Value::Null) => Err(format!("'{name}' is required")),
        Some(_) => Err(format!("'{name}' must be a string")),
    }
}

/// A required string that may be empty.
pub fn required_text<'a>(arguments: &'a Value, name: &str) -> Result<&'a str, String> {
    match arguments.get(name) {
        Some(Value::String(s)) => Ok(s),
        None | Some(Value::Null) => Err(format!("'{name}' is required")),
        Some(_) => Err(format!("'{name}' must be a string")),
    }
}

/// An optional string.
pub fn optional_str<'a>(arguments: &'a Value, name: &str) -> Result<Option<&'a str>, String> {
    match arguments.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(format!("'{name}' must be a string")),
    }
}

/// An optional boolean.
pub fn optional_bool(arguments: &Value, name: &str) -> Result<Option<bool>, String> {
    match arguments.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(_) => Err(format!("'{name}' must be a boolean")),
    }
}

/// An optional whole number within `min..=max`.
pub fn optional_count(arguments: &Value, name: &str, min: u64, max: u64) -> Result<Option<u64>, String> {
    match arguments.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(value) => match value.as_u64() {
            Some(n) if (min..=max).contains(&n) => Ok(Some(n)),
            _ => Err(format!("'{name}' must be a whole number from {min} to {max}")),
        },
    }
}

/// The arguments must be an object.
pub fn object(arguments: &Value) -> Result<(), String> {
    if arguments.is_object() { Ok(()) } else { Err("the arguments must be a JSON object".into()) }
}
