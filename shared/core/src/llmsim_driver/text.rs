//! The simulator's text helpers: word-sized deltas, the prompt-size estimate, the last user text
//! and lorem ipsum.

use serde_json::Value;

use crate::domain::{ContentPart, Conversation, Message, MessageRole};
use crate::driver::ChatRequest;

/// Words cycled by [`lorem_text`].
const LOREM_WORDS: [&str; 19] = [
    "lorem",
    "ipsum",
    "dolor",
    "sit",
    "amet",
    "consectetur",
    "adipiscing",
    "elit",
    "sed",
    "do",
    "eiusmod",
    "tempor",
    "incididunt",
    "ut",
    "labore",
    "et",
    "dolore",
    "magna",
    "aliqua",
];

/// Splits text into word-sized deltas: each word keeps the whitespace after it (leading
/// whitespace stays with the first word), so the deltas concatenate to the exact text.
pub(super) fn word_deltas(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut seen_word = false;
    let mut prev_ws = false;
    for (i, c) in text.char_indices() {
        let ws = c.is_whitespace();
        if !ws && prev_ws && seen_word {
            out.push(text[start..i].to_owned());
            start = i;
        }
        seen_word |= !ws;
        prev_ws = ws;
    }
    if start < text.len() {
        out.push(text[start..].to_owned());
    }
    out
}

pub(super) fn count_words(text: &str) -> u64 {
    // Byte-wise (ASCII whitespace separates): the estimate runs over the whole conversation on
    // every request, and `split_whitespace`'s Unicode tables made it the simulator's main cost.
    // A word starts at a non-space byte that follows a space (or the text's start); counted over
    // byte pairs with no state between them, the loop is one the compiler vectorises.
    let bytes = text.as_bytes();
    let Some(&first) = bytes.first() else { return 0 };
    let space = |byte: u8| matches!(byte, b' ' | b'\t' | b'\n' | b'\x0c' | b'\r');
    let starts: u64 = bytes.iter().zip(&bytes[1..]).map(|(&a, &b)| u64::from(space(a) & !space(b))).sum();
    u64::from(!space(first)) + starts
}

/// A rough prompt size: words of the system prompt and of every message part (at least 1).
pub(super) fn estimate_input_tokens(request: &ChatRequest) -> u64 {
    let mut total = count_words(&request.system_prompt);
    for message in request.messages.iter() {
        for part in &message.content {
            total += match part {
                ContentPart::Text { text } => count_words(text),
                ContentPart::ToolCall { name, arguments, .. } => 1 + count_words(name) + json_words(arguments),
                ContentPart::ToolResult { result, error, .. } => {
                    result.as_ref().map_or(0, json_words) + error.as_deref().map_or(0, count_words)
                }
                _ => 1,
            };
        }
    }
    total.max(1)
}

/// Words of a JSON value's compact text, counting punctuation as separators.
pub(super) fn json_words(value: &Value) -> u64 {
    match value {
        Value::Null | Value::Bool(_) | Value::Number(_) => 1,
        Value::String(text) => count_words(text),
        Value::Array(items) => items.iter().map(json_words).sum(),
        Value::Object(fields) => fields.iter().map(|(key, value)| count_words(key) + json_words(value)).sum(),
    }
}

/// The text of the last user message, or `""`.
pub(super) fn last_user_text(messages: &Conversation) -> String {
    messages.iter().rev().find(|m| m.role == MessageRole::User).map(Message::text).unwrap_or_default()
}

/// Exactly `words` words of lorem ipsum, capitalised and ending with a full stop.
pub(super) fn lorem_text(words: usize) -> String {
    let mut text = String::with_capacity(words * 7);
    for (i, word) in LOREM_WORDS.iter().cycle().take(words).enumerate() {
        if i == 0 {
            text.push_str("Lorem");
        } else {
            text.push(' ');
            text.push_str(word);
        }
    }
    if words > 0 {
        text.push('.');
    }
    text
}

#[cfg(test)]
mod tests {
    use super::count_words;

    #[test]
    fn words_are_runs_between_ascii_whitespace() {
        let texts = [
            "",
            " ",
            "one",
            " one",
            "one ",
            "  two\twords \n",
            "a\r\nb\x0cc",
            "vertical\x0btab is not a space",
            "ünïcödé wörds — and dashes",
            "\u{00a0}no-break\u{00a0}space",
        ];
        for text in texts {
            assert_eq!(count_words(text), text.split_ascii_whitespace().count() as u64, "{text:?}");
        }
    }
}
