//! Request-side helpers every driver shares: credentials, endpoints, the system prompt, tool
//! results as text and reasoning budgets.

use serde_json::Value;

use everruns_core::domain::{MessageRole, ToolDefinition};
use everruns_core::driver::{ChatRequest, DriverError, DriverErrorKind};

/// The API key, or an [`DriverErrorKind::Authentication`] error when it is missing or blank
/// (fail-closed: drivers never fall back to the environment).
pub fn require_api_key<'a>(api_key: Option<&'a str>, provider: &str) -> Result<&'a str, DriverError> {
    match api_key.map(str::trim) {
        Some(key) if !key.is_empty() => Ok(key),
        _ => Err(DriverError::new(
            DriverErrorKind::Authentication,
            format!("no API key is configured for the {provider} provider"),
        )),
    }
}

/// A header value holding a secret, marked sensitive; a key with characters not allowed in a
/// header is an [`DriverErrorKind::Authentication`] error.
pub fn secret_header(value: &str) -> Result<reqwest::header::HeaderValue, DriverError> {
    let mut header = reqwest::header::HeaderValue::from_str(value).map_err(|_| {
        DriverError::new(DriverErrorKind::Authentication, "the API key contains characters not allowed in a header")
    })?;
    header.set_sensitive(true);
    Ok(header)
}

/// The base URL to call: the override when set and non-blank, else `default`, without trailing `/`.
pub fn base_url(override_url: Option<&str>, default: &str) -> String {
    let url = override_url.map(str::trim).filter(|u| !u.is_empty()).unwrap_or(default);
    url.trim_end_matches('/').to_owned()
}

/// The system prompt plus the text of any system-role messages in the history, joined by blank
/// lines (`""` when there is none).
pub fn system_text(request: &ChatRequest) -> String {
    let mut parts = Vec::new();
    if !request.system_prompt.trim().is_empty() {
        parts.push(request.system_prompt.clone());
    }
    for message in request.messages.iter().filter(|m| m.role == MessageRole::System) {
        let text = message.text();
        if !text.trim().is_empty() {
            parts.push(text);
        }
    }
    parts.join("\n\n")
}

/// A tool result as the text a provider expects: a string result as is, another value as compact
/// JSON, an error as `Error: <text>`, nothing as `""`.
pub fn tool_result_text(result: Option<&Value>, error: Option<&str>) -> String {
    if let Some(error) = error {
        return format!("Error: {error}");
    }
    match result {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(text)) => text.clone(),
        Some(other) => other.to_string(),
    }
}

/// A tool's parameter schema, with `{"type":"object"}` standing in for an empty or missing one.
pub fn tool_parameters(tool: &ToolDefinition) -> Value {
    match &tool.parameters {
        Value::Object(map) if !map.is_empty() => tool.parameters.clone(),
        _ => serde_json::json!({"type": "object", "properties": {}}),
    }
}

/// The arguments of a tool call as an object (providers require one): `null` becomes `{}`, any
/// other non-object is wrapped as `{"value": ...}`.
pub fn arguments_object(arguments: &Value) -> Value {
    match arguments {
        Value::Object(_) => arguments.clone(),
        Value::Null => Value::Object(Default::default()),
        other => serde_json::json!({ "value": other }),
    }
}

/// The thinking-token budget for a reasoning effort: `minimal`/`low` 1024, `medium` 4096,
/// `high`/`xhigh` 16384, any other value 4096; `none` or blank disables thinking.
pub fn thinking_budget(effort: Option<&str>) -> Option<u32> {
    let effort = effort?.trim().to_ascii_lowercase();
    match effort.as_str() {
        "" | "none" | "off" | "disabled" => None,
        "minimal" | "low" => Some(1024),
        "medium" => Some(4096),
        "high" | "xhigh" | "max" => Some(16384),
        _ => Some(4096),
    }
}

/// A `data:` URL for inline image bytes.
pub fn data_url(media_type: Option<&str>, base64: &str) -> String {
    format!("data:{};base64,{base64}", media_type.unwrap_or("image/png"))
}

/// A text placeholder for a stored image the driver cannot resolve itself.
pub fn image_file_placeholder(image_id: &str, filename: Option<&str>) -> String {
    match filename {
        Some(name) => format!("[image file {image_id}: {name}]"),
        None => format!("[image file {image_id}]"),
    }
}

#[cfg(test)]
mod tests {
    use everruns_core::domain::Message;
    use serde_json::json;

    use super::*;

    #[test]
    fn api_keys_fail_closed() {
        assert!(require_api_key(Some("sk"), "openai").is_ok());
        for key in [None, Some(""), Some("  ")] {
            let error = require_api_key(key, "openai").err();
            assert_eq!(error.map(|e| e.kind), Some(DriverErrorKind::Authentication));
        }
        assert!(secret_header("bad\nkey").is_err());
        assert!(secret_header("sk-1").is_ok_and(|h| h.is_sensitive()));
    }

    #[test]
    fn urls_prompts_and_results() {
        assert_eq!(base_url(Some("http://x/v1/"), "https://d"), "http://x/v1");
        assert_eq!(base_url(Some(" "), "https://d/"), "https://d");
        let mut request = ChatRequest { system_prompt: "Be brief.".into(), ..Default::default() };
        request
            .messages
            .push(Message::new(MessageRole::System, vec![everruns_core::domain::ContentPart::text("More.")]));
        request.messages.push(Message::user_text("hi"));
        assert_eq!(system_text(&request), "Be brief.\n\nMore.");
        assert_eq!(tool_result_text(Some(&json!("ok")), None), "ok");
        assert_eq!(tool_result_text(Some(&json!({"a": 1})), None), "{\"a\":1}");
        assert_eq!(tool_result_text(Some(&json!(1)), Some("boom")), "Error: boom");
        assert_eq!(arguments_object(&json!(null)), json!({}));
        assert_eq!(arguments_object(&json!([1])), json!({"value": [1]}));
        assert_eq!(thinking_budget(Some("HIGH")), Some(16384));
        assert_eq!(thinking_budget(Some("none")), None);
        assert_eq!(thinking_budget(None), None);
    }
}
