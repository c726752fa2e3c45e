//! Input rules every resource shares: slug names, pagination bounds, and fields where `null`
//! differs from absent.

use serde::{Deserialize, Deserializer};

use crate::error::ServiceError;

/// For `#[serde(default, deserialize_with = "double_option")]`: absent = `None` (unchanged),
/// `null` = `Some(None)` (cleared), a value = `Some(Some(value))`.
pub(crate) fn double_option<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(deserializer).map(Some)
}

/// Validates a slug name: `^[a-z0-9]+(-[a-z0-9]+)*$`, at most 64 characters.
pub fn validate_name(kind: &str, name: &str) -> Result<(), ServiceError> {
    let valid = !name.is_empty()
        && name.len() <= 64
        && name
            .split('-')
            .all(|part| !part.is_empty() && part.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit()));
    if valid {
        Ok(())
    } else {
        Err(ServiceError::BadRequest {
            code: "invalid_name",
            message: format!(
                "{kind} name '{}' is invalid: use 1-64 lowercase letters, digits and single hyphens (e.g. 'my-agent')",
                name.chars().take(80).collect::<String>()
            ),
        })
    }
}

/// Whether a path segment looks like a name rather than an id.
pub fn is_name(text: &str) -> bool {
    validate_name("", text).is_ok()
}

/// Pagination bounds: offset ≥ 0, limit 1..=100 (default 20).
pub fn page_bounds(offset: Option<u32>, limit: Option<u32>) -> Result<(u32, u32), ServiceError> {
    let limit = limit.unwrap_or(20);
    if !(1..=100).contains(&limit) {
        return Err(ServiceError::bad_request(format!("limit must be between 1 and 100 (got {limit})")));
    }
    Ok((offset.unwrap_or(0), limit))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_slug_rule() {
        for good in ["a", "my-agent", "agent2", "a-b-c"] {
            assert!(validate_name("agent", good).is_ok(), "{good}");
        }
        for bad in ["", "My-Agent", "my_agent", "-a", "a-", "a--b", "a b", &"a".repeat(65)] {
            assert!(validate_name("agent", bad).is_err(), "{bad}");
        }
    }
}
