//! The tool-calling script of `llmsim-tools` ([`tool_calling_reply`]).
//!
//! When the conversation ends with tool results, it answers with them: a toolbox tool's result
//! (see [`intents::TOOLBOX`]) is quoted as text — `"Here is what I found: <file content, command
//! output, fetched text, value>"` — any other tool's as `"The tool returned: <json>"`, and a
//! failure as `"The tool failed: <error>"`. Otherwise it calls tools: an offered tool the user
//! text names explicitly (outside the toolbox) wins; else the toolbox calls the text asks for
//! ([`intents::plan`]); else the named tool, or the first offered one, with arguments generated
//! from its JSON Schema. Without tools it says `"I have no tools available."`.

use serde_json::Value;
use uuid::Uuid;

use super::intents;
use super::schema::generate_arguments;
use super::text::last_user_text;
use crate::domain::{ContentPart, Message, MessageRole, ToolDefinition};
use crate::driver::{ChatRequest, ToolCall};

/// The most characters of one result quoted in the answer.
const MAX_QUOTED_CHARS: usize = 4000;

/// Result fields quoted as text, in this order (those present and non-empty).
const TEXT_FIELDS: [&str; 8] = ["content", "text", "markdown", "body", "stdout", "stderr", "output", "value"];

/// The reply text and the tool calls to make.
pub(super) fn tool_calling_reply(request: &ChatRequest) -> (String, Vec<ToolCall>) {
    let messages = &request.messages;
    let trailing_results = messages.iter().rev().take_while(|m| m.role == MessageRole::ToolResult).count();
    if trailing_results > 0 {
        let all: Vec<&Message> = messages.iter().collect();
        let (earlier, results) = all.split_at(all.len() - trailing_results);
        return (answer_with_results(earlier, results), Vec::new());
    }
    let calls = choose_calls(&last_user_text(messages), &request.tools);
    if calls.is_empty() {
        return ("I have no tools available.".to_owned(), Vec::new());
    }
    let mut names: Vec<&str> = Vec::new();
    for (name, _) in &calls {
        if !names.contains(&name.as_str()) {
            names.push(name);
        }
    }
    let text = match names.as_slice() {
        [one] => format!("Let me use the {one} tool."),
        [init @ .., last] => format!("Let me use the {} and {last} tools.", init.join(", ")),
        [] => String::new(),
    };
    let calls = calls
        .into_iter()
        .map(|(name, arguments)| ToolCall { id: format!("call_{}", Uuid::new_v4().simple()), name, arguments })
        .collect();
    (text, calls)
}

/// The calls for `user_text` among `tools`: (name, arguments); empty only without tools.
pub(super) fn choose_calls(user_text: &str, tools: &[ToolDefinition]) -> Vec<(String, Value)> {
    let named = named_tool(tools, user_text);
    if named.is_none_or(|t| intents::TOOLBOX.contains(&t.name.as_str())) {
        let planned = intents::plan(user_text, tools);
        if !planned.is_empty() {
            return planned.into_iter().map(|(name, args)| (name.to_owned(), args)).collect();
        }
    }
    named
        .or_else(|| tools.first())
        .map(|tool| vec![(tool.name.clone(), generate_arguments(&tool.parameters))])
        .unwrap_or_default()
}

/// The tool named in the user text (the longest such name).
fn named_tool<'a>(tools: &'a [ToolDefinition], user_text: &str) -> Option<&'a ToolDefinition> {
    let lower = user_text.to_lowercase();
    tools.iter().filter(|t| !t.name.is_empty() && lower.contains(&t.name.to_lowercase())).fold(
        None,
        |best: Option<&ToolDefinition>, t| match best {
            Some(b) if b.name.len() >= t.name.len() => Some(b),
            _ => Some(t),
        },
    )
}

/// One paragraph per result of `results`, whose calls are found in `earlier`.
fn answer_with_results(earlier: &[&Message], results: &[&Message]) -> String {
    let mut parts = Vec::new();
    for part in results.iter().flat_map(|m| &m.content) {
        let ContentPart::ToolResult { tool_call_id, result, error } = part else { continue };
        if let Some(error) = error {
            parts.push(format!("The tool failed: {error}"));
            continue;
        }
        let result = result.as_ref().unwrap_or(&Value::Null);
        let toolbox = tool_name(earlier, tool_call_id).is_some_and(|name| intents::TOOLBOX.contains(&name));
        parts.push(match toolbox {
            true => format!("Here is what I found: {}", quoted(result)),
            false => format!("The tool returned: {result}"),
        });
    }
    if parts.is_empty() { "The tool returned no result.".to_owned() } else { parts.join("\n\n") }
}

/// The name of the call `id` in the latest agent message holding it.
fn tool_name<'a>(messages: &[&'a Message], id: &str) -> Option<&'a str> {
    messages.iter().rev().flat_map(|m| &m.content).find_map(|part| match part {
        ContentPart::ToolCall { id: call, name, .. } if call == id => Some(name.as_str()),
        _ => None,
    })
}

/// A result as text: a string as it is; an object's text fields ([`TEXT_FIELDS`]) joined by
/// lines; anything else as JSON. At most [`MAX_QUOTED_CHARS`] characters.
pub(super) fn quoted(result: &Value) -> String {
    let text = match result {
        Value::String(text) => text.clone(),
        Value::Object(fields) => {
            let texts: Vec<&str> = TEXT_FIELDS
                .iter()
                .filter_map(|key| fields.get(*key).and_then(Value::as_str))
                .filter(|text| !text.trim().is_empty())
                .collect();
            if texts.is_empty() { result.to_string() } else { texts.join("\n") }
        }
        other => other.to_string(),
    };
    match text.char_indices().nth(MAX_QUOTED_CHARS) {
        Some((cut, _)) => format!("{}… (truncated)", text.get(..cut).unwrap_or_default()),
        None => text,
    }
}
