//! The `streamGenerateContent` request body built from a [`ChatRequest`].
//!
//! Roles are `user` and `model`; user text and images become `text` / `inlineData` / `fileData`
//! parts, agent text and tool calls `text` / `functionCall` parts, and tool results
//! `functionResponse` parts of a user turn. Gemini calls carry no id, so a result is matched to its
//! call's name through the ids the driver synthesized for the history's calls. The system prompt
//! goes to `systemInstruction`, tools to one `functionDeclarations` list (schemas reduced to the
//! OpenAPI subset Gemini accepts).

use std::collections::HashMap;

use serde_json::{Map, Value, json};

use everruns_core::domain::{ContentPart, Conversation, MessageRole};
use everruns_core::driver::ChatRequest;
use everruns_driver_common::request::{
    arguments_object, image_file_placeholder, system_text, thinking_budget, tool_parameters,
};

/// `maxOutputTokens` when the request sets none (contract §6.2).
pub const DEFAULT_MAX_OUTPUT_TOKENS: u32 = 8192;

/// The documented placeholder signature for replayed Gemini 3 function calls whose real
/// `thoughtSignature` was not kept (the history has no slot for it).
pub const SKIP_THOUGHT_SIGNATURE: &str = "skip_thought_signature_validator";

/// The JSON body of `POST /v1beta/models/{model}:streamGenerateContent?alt=sse`.
pub fn build_body(model: &str, request: &ChatRequest) -> Value {
    let mut body = Map::new();
    body.insert("contents".into(), Value::Array(map_contents(&request.messages, needs_signature(model))));
    let system = system_text(request);
    if !system.is_empty() {
        body.insert("systemInstruction".into(), json!({"parts": [{"text": system}]}));
    }
    if !request.tools.is_empty() {
        let declarations: Vec<Value> = request
            .tools
            .iter()
            .map(|tool| {
                json!({
                    "name": tool.name,
                    "description": tool.description,
                    "parameters": openapi_schema(&tool_parameters(tool)),
                })
            })
            .collect();
        body.insert("tools".into(), json!([{ "functionDeclarations": declarations }]));
    }
    let mut generation = Map::new();
    generation.insert("maxOutputTokens".into(), json!(request.max_tokens.unwrap_or(DEFAULT_MAX_OUTPUT_TOKENS)));
    if let Some(budget) = thinking_budget(request.reasoning_effort.as_deref()) {
        generation.insert("thinkingConfig".into(), json!({"thinkingBudget": budget, "includeThoughts": true}));
    }
    body.insert("generationConfig".into(), Value::Object(generation));
    Value::Object(body)
}

/// Gemini 3 models reject replayed function calls without a thought signature.
fn needs_signature(model: &str) -> bool {
    let model = model.to_ascii_lowercase();
    let name = model.rsplit('/').next().unwrap_or(&model);
    name.starts_with("gemini-3")
}

/// The `contents` array: consecutive turns of one role merged, empty turns dropped.
pub fn map_contents(history: &Conversation, sign_calls: bool) -> Vec<Value> {
    let names: HashMap<&str, &str> =
        history.iter().flat_map(|m| m.tool_calls()).map(|(id, name, _)| (id, name)).collect();
    let mut out: Vec<(&'static str, Vec<Value>)> = Vec::new();
    for message in history {
        let (role, parts) = match message.role {
            MessageRole::System => continue,
            MessageRole::User | MessageRole::ToolResult => ("user", user_parts(&message.content, &names)),
            MessageRole::Agent => ("model", model_parts(&message.content, sign_calls)),
        };
        if parts.is_empty() {
            continue;
        }
        match out.last_mut() {
            Some((last_role, last_parts)) if *last_role == role => last_parts.extend(parts),
            _ => out.push((role, parts)),
        }
    }
    out.into_iter().map(|(role, parts)| json!({"role": role, "parts": parts})).collect()
}

fn user_parts(parts: &[ContentPart], names: &HashMap<&str, &str>) -> Vec<Value> {
    parts
        .iter()
        .filter_map(|part| match part {
            ContentPart::Text { text } if !text.is_empty() => Some(json!({"text": text})),
            ContentPart::Image { base64: Some(data), media_type, .. } => Some(json!({
                "inlineData": {"mimeType": media_type.as_deref().unwrap_or("image/png"), "data": data},
            })),
            ContentPart::Image { url: Some(url), media_type, .. } => {
                let mut file = json!({"fileUri": url});
                if let Some(mime) = media_type {
                    file["mimeType"] = json!(mime);
                }
                Some(json!({ "fileData": file }))
            }
            ContentPart::ImageFile { image_id, filename } => {
                Some(json!({"text": image_file_placeholder(image_id, filename.as_deref())}))
            }
            ContentPart::ToolResult { tool_call_id, result, error } => {
                let name = names.get(tool_call_id.as_str()).copied().unwrap_or(tool_call_id.as_str());
                let response = match (error, result) {
                    (Some(error), _) => json!({ "error": error }),
                    (None, result) => json!({ "output": result.clone().unwrap_or(Value::Null) }),
                };
                Some(json!({"functionResponse": {"name": name, "response": response}}))
            }
            _ => None,
        })
        .collect()
}

fn model_parts(parts: &[ContentPart], sign_calls: bool) -> Vec<Value> {
    let mut signed = false;
    parts
        .iter()
        .filter_map(|part| match part {
            ContentPart::Text { text } if !text.is_empty() => Some(json!({"text": text})),
            ContentPart::ToolCall { name, arguments, .. } => {
                let mut call = json!({"functionCall": {"name": name, "args": arguments_object(arguments)}});
                if sign_calls && !signed {
                    call["thoughtSignature"] = json!(SKIP_THOUGHT_SIGNATURE);
                    signed = true;
                }
                Some(call)
            }
            _ => None,
        })
        .collect()
}

/// Schema keywords Gemini's OpenAPI-subset `Schema` accepts; others are dropped.
const SCHEMA_KEYS: [&str; 20] = [
    "type",
    "format",
    "title",
    "description",
    "nullable",
    "enum",
    "items",
    "minItems",
    "maxItems",
    "properties",
    "required",
    "minProperties",
    "maxProperties",
    "minLength",
    "maxLength",
    "pattern",
    "minimum",
    "maximum",
    "anyOf",
    "propertyOrdering",
];

/// A JSON Schema reduced to Gemini's OpenAPI subset: unknown keywords dropped, a
/// `["T", "null"]` type turned into `T` with `nullable: true`, `const` into a one-value `enum`.
pub fn openapi_schema(schema: &Value) -> Value {
    let Value::Object(map) = schema else {
        return schema.clone();
    };
    let mut out = Map::new();
    for (key, value) in map {
        match key.as_str() {
            "type" => match value {
                Value::Array(types) => {
                    let non_null: Vec<&Value> = types.iter().filter(|t| t.as_str() != Some("null")).collect();
                    if let Some(first) = non_null.first() {
                        out.insert("type".into(), (*first).clone());
                    }
                    if non_null.len() < types.len() {
                        out.insert("nullable".into(), json!(true));
                    }
                }
                other => {
                    out.insert("type".into(), other.clone());
                }
            },
            "const" => {
                out.insert("enum".into(), json!([value]));
            }
            "properties" => {
                let props = value.as_object().map(|p| {
                    p.iter().map(|(name, s)| (name.clone(), openapi_schema(s))).collect::<Map<String, Value>>()
                });
                out.insert(key.clone(), props.map(Value::Object).unwrap_or_else(|| value.clone()));
            }
            "items" => {
                out.insert(key.clone(), openapi_schema(value));
            }
            "anyOf" => {
                let variants = value.as_array().map(|v| v.iter().map(openapi_schema).collect::<Vec<_>>());
                out.insert(key.clone(), variants.map(Value::Array).unwrap_or_else(|| value.clone()));
            }
            known if SCHEMA_KEYS.contains(&known) => {
                out.insert(key.clone(), value.clone());
            }
            _ => {}
        }
    }
    Value::Object(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schemas_are_reduced_to_the_openapi_subset() {
        let schema = json!({
            "$schema": "http://json-schema.org/draft-07/schema#",
            "type": "object",
            "additionalProperties": false,
            "properties": {
                "city": {"type": ["string", "null"], "description": "City"},
                "unit": {"const": "c"},
                "days": {"type": "array", "items": {"type": "integer", "exclusiveMinimum": 0}},
            },
            "required": ["city"],
        });
        let expected = json!({
            "type": "object",
            "properties": {
                "city": {"type": "string", "nullable": true, "description": "City"},
                "unit": {"enum": ["c"]},
                "days": {"type": "array", "items": {"type": "integer"}},
            },
            "required": ["city"],
        });
        assert_eq!(openapi_schema(&schema), expected);
    }

    #[test]
    fn gemini_3_models_get_a_placeholder_signature() {
        assert!(needs_signature("gemini-3-pro-preview"));
        assert!(needs_signature("models/gemini-3.1-flash"));
        assert!(!needs_signature("gemini-2.5-flash"));
    }
}
