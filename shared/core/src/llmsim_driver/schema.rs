//! Tool arguments generated from a tool's JSON Schema, best effort: `const` and `enum` values,
//! `allOf` merged, the first non-null `anyOf`/`oneOf` variant, every listed property plus any
//! missing required one, strings hinted by `format` and by the property name, numbers moved inside
//! their bounds, and `minItems` items. Deeply nested schemas stop at [`MAX_SCHEMA_DEPTH`].

use serde_json::{Map, Value};

/// Placeholder used for generated string arguments without a better hint.
const EXAMPLE: &str = "example";

/// Nesting depth after which generated tool arguments stop recursing.
const MAX_SCHEMA_DEPTH: usize = 24;

/// Upper bound on generated array lengths.
const MAX_GENERATED_ITEMS: u64 = 16;

/// Upper bound on generated string lengths (for `minLength`).
const MAX_GENERATED_STRING: u64 = 4096;

/// An arguments object for a tool's JSON Schema (`{}` when the schema does not describe an object).
pub(super) fn generate_arguments(parameters: &Value) -> Value {
    match generate_value(parameters, "", 0) {
        object @ Value::Object(_) => object,
        _ => Value::Object(Map::new()),
    }
}

/// A value valid against `schema` (best effort), for a property called `name`.
pub(super) fn generate_value(schema: &Value, name: &str, depth: usize) -> Value {
    let Some(obj) = schema.as_object() else {
        return Value::String(EXAMPLE.to_owned());
    };
    if depth > MAX_SCHEMA_DEPTH {
        return Value::String(EXAMPLE.to_owned());
    }
    if let Some(value) = obj.get("const") {
        return value.clone();
    }
    if let Some(first) = obj.get("enum").and_then(Value::as_array).and_then(|values| values.first()) {
        return first.clone();
    }
    if let Some(all) = obj.get("allOf").and_then(Value::as_array) {
        let mut merged = Map::new();
        let mut scalar = None;
        for sub in all {
            match generate_value(sub, name, depth + 1) {
                Value::Object(map) => merged.extend(map),
                other => {
                    scalar.get_or_insert(other);
                }
            }
        }
        if obj.contains_key("properties") || obj.contains_key("required") {
            merged.extend(generate_object(obj, depth));
        }
        return match scalar {
            Some(value) if merged.is_empty() => value,
            _ => Value::Object(merged),
        };
    }
    let explicit_type = schema_type(obj);
    if explicit_type.is_none() {
        let variants = obj.get("anyOf").or_else(|| obj.get("oneOf")).and_then(Value::as_array);
        if let Some(variants) = variants {
            let preferred = variants
                .iter()
                .find(|v| v.get("type").and_then(Value::as_str) != Some("null"))
                .or_else(|| variants.first());
            if let Some(variant) = preferred {
                return generate_value(variant, name, depth + 1);
            }
        }
    }
    let ty = explicit_type.or_else(|| {
        if obj.contains_key("properties") || obj.contains_key("required") {
            Some("object")
        } else if obj.contains_key("items") {
            Some("array")
        } else {
            None
        }
    });
    match ty {
        Some("object") => Value::Object(generate_object(obj, depth)),
        Some("string") => Value::String(generate_string(obj, name)),
        Some("integer") => Value::from(generate_integer(obj)),
        Some("number") => Value::from(generate_number(obj)),
        Some("boolean") => Value::Bool(true),
        Some("array") => generate_array(obj, name, depth),
        Some("null") => Value::Null,
        _ => Value::String(EXAMPLE.to_owned()),
    }
}

/// The schema's `type` (the first non-`null` entry of a type list).
fn schema_type(obj: &Map<String, Value>) -> Option<&str> {
    match obj.get("type")? {
        Value::String(ty) => Some(ty.as_str()),
        Value::Array(types) => {
            let mut names = types.iter().filter_map(Value::as_str);
            let first = names.clone().next();
            names.find(|t| *t != "null").or(first)
        }
        _ => None,
    }
}

/// Every property in `properties`, plus any `required` name missing from it.
fn generate_object(obj: &Map<String, Value>, depth: usize) -> Map<String, Value> {
    let mut out = Map::new();
    if let Some(properties) = obj.get("properties").and_then(Value::as_object) {
        for (key, sub) in properties {
            out.insert(key.clone(), generate_value(sub, key, depth + 1));
        }
    }
    if let Some(required) = obj.get("required").and_then(Value::as_array) {
        for key in required.iter().filter_map(Value::as_str) {
            if !out.contains_key(key) {
                out.insert(key.to_owned(), Value::String(EXAMPLE.to_owned()));
            }
        }
    }
    out
}

fn generate_string(obj: &Map<String, Value>, name: &str) -> String {
    let by_format = match obj.get("format").and_then(Value::as_str) {
        Some("date-time") => Some("2024-01-01T00:00:00Z"),
        Some("date") => Some("2024-01-01"),
        Some("time") => Some("12:00:00"),
        Some("email" | "idn-email") => Some("user@example.com"),
        Some("uri" | "url" | "iri" | "uri-reference" | "iri-reference") => Some("https://example.com"),
        Some("uuid") => Some("00000000-0000-4000-8000-000000000000"),
        Some("ipv4") => Some("127.0.0.1"),
        Some("ipv6") => Some("::1"),
        Some("hostname" | "idn-hostname") => Some("example.com"),
        _ => None,
    };
    let lower = name.to_ascii_lowercase();
    let by_name = || {
        if lower.contains("timezone") || lower == "tz" {
            Some("UTC")
        } else if lower.contains("email") {
            Some("user@example.com")
        } else if lower.contains("url") || lower.contains("uri") {
            Some("https://example.com")
        } else if lower == "path" || lower.ends_with("_path") || lower == "file" {
            Some("/workspace/example.txt")
        } else {
            None
        }
    };
    let mut value = by_format.or_else(by_name).unwrap_or(EXAMPLE).to_owned();

    let len = value.chars().count() as u64;
    if let Some(min) = obj.get("minLength").and_then(Value::as_u64) {
        let min = min.min(MAX_GENERATED_STRING);
        for _ in len..min {
            value.push('x');
        }
    }
    if let Some(max) = obj.get("maxLength").and_then(Value::as_u64) {
        let max = usize::try_from(max).unwrap_or(usize::MAX);
        if value.chars().count() > max {
            value = value.chars().take(max).collect();
        }
    }
    value
}

/// 2, moved inside any `minimum`/`maximum`/exclusive bounds.
fn generate_integer(obj: &Map<String, Value>) -> i64 {
    let bound = |key: &str| obj.get(key).and_then(Value::as_f64).filter(|v| v.is_finite());
    let mut low = bound("minimum").map(|v| v.ceil() as i64);
    if let Some(exclusive) = bound("exclusiveMinimum") {
        let candidate = (exclusive.floor() as i64).saturating_add(1);
        low = Some(low.map_or(candidate, |l| l.max(candidate)));
    }
    let mut high = bound("maximum").map(|v| v.floor() as i64);
    if let Some(exclusive) = bound("exclusiveMaximum") {
        let candidate = (exclusive.ceil() as i64).saturating_sub(1);
        high = Some(high.map_or(candidate, |h| h.min(candidate)));
    }
    let mut value = 2_i64;
    if let Some(low) = low {
        value = value.max(low);
    }
    if let Some(high) = high {
        value = value.min(high);
    }
    value
}

/// 2.5, moved inside any `minimum`/`maximum`/exclusive bounds.
fn generate_number(obj: &Map<String, Value>) -> f64 {
    let bound = |key: &str| obj.get(key).and_then(Value::as_f64).filter(|v| v.is_finite());
    let min = bound("minimum");
    let max = bound("maximum");
    let exclusive_min = bound("exclusiveMinimum");
    let exclusive_max = bound("exclusiveMaximum");
    let fits = |v: f64| {
        min.is_none_or(|m| v >= m)
            && max.is_none_or(|m| v <= m)
            && exclusive_min.is_none_or(|m| v > m)
            && exclusive_max.is_none_or(|m| v < m)
    };
    if fits(2.5) {
        return 2.5;
    }
    let low = match (min, exclusive_min) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    };
    let high = match (max, exclusive_max) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    };
    match (low, high) {
        (Some(low), Some(high)) => low / 2.0 + high / 2.0,
        (Some(low), None) => {
            if fits(low) {
                low
            } else {
                low + low.abs().max(1.0)
            }
        }
        (None, Some(high)) => {
            if fits(high) {
                high
            } else {
                high - high.abs().max(1.0)
            }
        }
        (None, None) => 2.5,
    }
}

/// `[]`, or `minItems` generated items.
fn generate_array(obj: &Map<String, Value>, name: &str, depth: usize) -> Value {
    let count = obj.get("minItems").and_then(Value::as_u64).unwrap_or(0).min(MAX_GENERATED_ITEMS);
    let items = match obj.get("items") {
        Some(Value::Array(tuple)) => tuple.first(),
        other => other,
    };
    let items_schema = items.cloned().unwrap_or(Value::Null);
    Value::Array((0..count).map(|_| generate_value(&items_schema, name, depth + 1)).collect())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn weird_schemas_do_not_panic() {
        let schemas = [
            json!(null),
            json!(true),
            json!("string"),
            json!({"type": 5}),
            json!({"type": []}),
            json!({"type": "object", "properties": 3, "required": [1, null]}),
            json!({"type": "array", "minItems": u64::MAX}),
            json!({"type": "array", "minItems": 2, "items": [{"type": "integer"}]}),
            json!({"type": "string", "minLength": 1_000_000_000u64, "maxLength": 3}),
            json!({"type": "integer", "exclusiveMinimum": 1e300, "exclusiveMaximum": -1e300}),
            json!({"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 1}),
            json!({"type": "number", "minimum": 10}),
            json!({"anyOf": [{"type": "null"}, {"type": "integer"}]}),
            json!({"allOf": [{"properties": {"a": {"type": "string"}}}, {"properties": {"b": {"const": 1}}}]}),
            json!({"enum": []}),
        ];
        for schema in &schemas {
            let _ = generate_arguments(schema);
            let _ = generate_value(schema, "x", 0);
        }
        assert_eq!(
            generate_value(&json!({"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 1}), "", 0),
            json!(0.5)
        );
        assert_eq!(generate_value(&json!({"type": "number", "minimum": 10}), "", 0), json!(10.0));
        assert_eq!(generate_value(&json!({"anyOf": [{"type": "null"}, {"type": "integer"}]}), "", 0), json!(2));
        assert_eq!(
            generate_arguments(
                &json!({"allOf": [{"properties": {"a": {"type": "string"}}}, {"properties": {"b": {"const": 1}}}]})
            ),
            json!({"a": "example", "b": 1})
        );
        assert_eq!(generate_value(&json!({"type": "string", "minLength": 10}), "", 0), json!("examplexxx"));
        assert_eq!(generate_value(&json!({"type": "string"}), "timezone", 0), json!("UTC"));

        let mut deep = json!({"type": "string"});
        for _ in 0..200 {
            deep = json!({"type": "object", "properties": {"n": deep}});
        }
        assert!(generate_arguments(&deep).is_object());
    }
}
