//! Prefixed identifiers: `{prefix}_{32 lowercase hex}`.
//!
//! Every id wraps a UUID. Fresh ids are UUIDv7, so their text sorts by creation time (the SSE
//! `since_id` fallback relies on that). Parsing is strict: the prefix must match and the hex part
//! must be exactly 32 lowercase hex digits; anything else is an [`IdError`], never a panic.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use uuid::Uuid;

/// Why a string is not a valid id of the expected kind.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    /// The string does not start with `{prefix}_`.
    #[error("invalid {kind} id '{value}': expected prefix '{prefix}_'")]
    WrongPrefix {
        /// The id kind, e.g. `agent`.
        kind: &'static str,
        /// The expected prefix.
        prefix: &'static str,
        /// The rejected input (truncated to 80 characters).
        value: String,
    },
    /// The part after the prefix is not 32 lowercase hex digits.
    #[error("invalid {kind} id '{value}': expected '{prefix}_' followed by 32 lowercase hex digits")]
    BadHex {
        /// The id kind, e.g. `agent`.
        kind: &'static str,
        /// The expected prefix.
        prefix: &'static str,
        /// The rejected input (truncated to 80 characters).
        value: String,
    },
}

fn shown(value: &str) -> String {
    value.chars().take(80).collect()
}

/// Parses `{prefix}_{32 lowercase hex}` into a UUID.
fn parse_prefixed(kind: &'static str, prefix: &'static str, value: &str) -> Result<Uuid, IdError> {
    let hex = value
        .strip_prefix(prefix)
        .and_then(|rest| rest.strip_prefix('_'))
        .ok_or_else(|| IdError::WrongPrefix { kind, prefix, value: shown(value) })?;
    let well_formed = hex.len() == 32 && hex.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    if !well_formed {
        return Err(IdError::BadHex { kind, prefix, value: shown(value) });
    }
    Uuid::try_parse(hex).map_err(|_| IdError::BadHex { kind, prefix, value: shown(value) })
}

macro_rules! prefixed_id {
    ($(#[$doc:meta])* $name:ident, $prefix:literal) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(Uuid);

        impl $name {
            /// The prefix before the underscore.
            pub const PREFIX: &'static str = $prefix;

            /// A fresh, time-ordered (UUIDv7) id.
            pub fn new() -> Self {
                Self(Uuid::now_v7())
            }

            /// Wraps an existing UUID.
            pub const fn from_uuid(uuid: Uuid) -> Self {
                Self(uuid)
            }

            /// The UUID behind the id.
            pub const fn uuid(&self) -> Uuid {
                self.0
            }

            /// Parses `prefix_<32 hex>`, returning a typed error on any deviation.
            pub fn parse(value: &str) -> Result<Self, IdError> {
                parse_prefixed($prefix, $prefix, value).map(Self)
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}_{}", $prefix, self.0.simple())
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(self, f)
            }
        }

        impl FromStr for $name {
            type Err = IdError;
            fn from_str(value: &str) -> Result<Self, IdError> {
                Self::parse(value)
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.collect_str(self)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
                Self::parse(&text).map_err(serde::de::Error::custom)
            }
        }
    };
}

prefixed_id!(/// An organization (tenant).
    OrgId, "org");
prefixed_id!(/// An agent.
    AgentId, "agent");
prefixed_id!(/// A harness.
    HarnessId, "harness");
prefixed_id!(/// A session.
    SessionId, "session");
prefixed_id!(/// A message.
    MessageId, "message");
prefixed_id!(/// An event.
    EventId, "event");
prefixed_id!(/// A turn: one user message and the iterations it causes.
    TurnId, "turn");
prefixed_id!(/// An execution (one driver call or tool run) inside a turn.
    ExecId, "exec");
prefixed_id!(/// An LLM provider account.
    ProviderId, "provider");
prefixed_id!(/// A model row.
    ModelId, "model");
prefixed_id!(/// An iteration task in the durable queue.
    TaskId, "task");
prefixed_id!(/// An API key of an organization (`AUTH_MODE=api_key`).
    ApiKeyId, "key");

impl OrgId {
    /// The default organization used when `AUTH_MODE=none`: `org_000…001`.
    pub const DEFAULT: OrgId = OrgId(Uuid::from_u128(1));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_sorts_by_time() {
        let a = AgentId::new();
        let b = AgentId::new();
        let text = a.to_string();
        assert!(text.starts_with("agent_") && text.len() == 6 + 32);
        assert_eq!(AgentId::parse(&text), Ok(a));
        assert!(a.to_string() < b.to_string(), "v7 ids sort by creation time");
    }

    #[test]
    fn default_org_is_the_documented_constant() {
        assert_eq!(OrgId::DEFAULT.to_string(), "org_00000000000000000000000000000001");
    }

    #[test]
    fn malformed_ids_are_typed_errors() {
        for bad in [
            "",
            "agent_",
            "agent_123",
            "agt_0123456789abcdef0123456789abcdef",
            "session_0123456789abcdef0123456789abcdef",
            "agent_0123456789ABCDEF0123456789ABCDEF",
            "agent_0123456789abcdef0123456789abcde",
            "agent_0123456789abcdef0123456789abcdef0",
            "agent_0123456789abcdef-123456789abcdef",
            "agent-0123456789abcdef0123456789abcdef",
            "agent_0123456789abcdef0123456789abcdeg",
            "agent_é123456789abcdef0123456789abcdef",
        ] {
            assert!(AgentId::parse(bad).is_err(), "{bad:?} should be rejected");
        }
    }

    #[test]
    fn serde_rejects_malformed_ids() {
        let err = serde_json::from_str::<SessionId>("\"session_xyz\"").unwrap_err();
        assert!(err.to_string().contains("32 lowercase hex"));
    }
}
