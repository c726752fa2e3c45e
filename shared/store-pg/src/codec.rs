//! Conversions between domain values and column values shared by the stores: enums stored as
//! their wire text, capability lists as exact JSON, counts and pagination as `bigint`, and the
//! search needle.

use everruns_core::domain::AgentCapabilityConfig;
use everruns_core::ports::PortResult;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::error::corrupt;

/// The wire text of a unit enum (`EntityStatus::Archived` → `archived`). A value that does not
/// serialize to a string yields an empty text, which the column's CHECK then rejects.
pub(crate) fn enum_text<T: Serialize>(value: &T) -> String {
    match serde_json::to_value(value) {
        Ok(Value::String(text)) => text,
        _ => String::new(),
    }
}

/// Parses an enum stored by [`enum_text`].
pub(crate) fn parse_enum<T: DeserializeOwned>(operation: &'static str, text: &str) -> PortResult<T> {
    serde_json::from_value(Value::String(text.to_owned())).map_err(|err| corrupt(operation, err))
}

/// Capabilities as stored: `[{ "ref", "config" }]` with `config` always written, so a config the
/// domain's serde would skip (`{}` or `null`) reads back exactly as it was given.
pub(crate) fn capabilities_json(capabilities: &[AgentCapabilityConfig]) -> Value {
    Value::Array(
        capabilities.iter().map(|c| serde_json::json!({ "ref": c.capability_ref, "config": c.config })).collect(),
    )
}

/// A `u32` setting stored as `bigint`.
pub(crate) fn u32_column(value: Option<u32>) -> Option<i64> {
    value.map(i64::from)
}

/// A `bigint` column read back as the `u32` it was written from.
pub(crate) fn column_u32(operation: &'static str, value: Option<i64>) -> PortResult<Option<u32>> {
    value.map(|v| u32::try_from(v).map_err(|err| corrupt(operation, err))).transpose()
}

/// The lowercased search needle (`None` when there is nothing to filter on). Columns are
/// compared with `strpos(lower(column), needle) > 0`, a plain substring test with no wildcards.
pub(crate) fn needle(search: Option<&str>) -> Option<String> {
    search.filter(|s| !s.is_empty()).map(str::to_lowercase)
}

#[cfg(test)]
mod tests {
    use everruns_core::domain::EntityStatus;

    use super::*;

    #[test]
    fn enums_round_trip_as_wire_text() {
        assert_eq!(enum_text(&EntityStatus::Archived), "archived");
        assert_eq!(parse_enum::<EntityStatus>("test", "deleted").ok(), Some(EntityStatus::Deleted));
        assert!(parse_enum::<EntityStatus>("test", "gone").is_err());
    }

    #[test]
    fn capability_configs_survive_exactly() {
        let caps = vec![
            AgentCapabilityConfig::new("current_time"),
            AgentCapabilityConfig { capability_ref: "x".to_owned(), config: Value::Null },
        ];
        let back: Vec<AgentCapabilityConfig> = serde_json::from_value(capabilities_json(&caps)).unwrap_or_default();
        assert_eq!(back, caps);
    }
}
