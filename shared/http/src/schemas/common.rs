//! Wire shapes shared by every resource: prefixed ids, timestamps, the problem body, list
//! envelopes and the free-form JSON value. Schema only: nothing here is serialized.

use utoipa::ToSchema;

/// Declares a prefixed id: `{prefix}_` followed by 32 lowercase hex digits (what the server
/// writes, and the only form it accepts where an id is required).
macro_rules! prefixed_id {
    ($(#[$doc:meta])* $name:ident, $pattern:literal, $example:literal) => {
        $(#[$doc])*
        #[derive(ToSchema)]
        #[schema(pattern = $pattern, example = $example)]
        pub struct $name(String);
    };
}

prefixed_id!(/// An organization id.
    OrgId, "^org_[0-9a-f]{32}$", "org_00000000000000000000000000000001");
prefixed_id!(/// An agent id.
    AgentId, "^agent_[0-9a-f]{32}$", "agent_0193a1b2c3d47e8f9a0b1c2d3e4f5a6b");
prefixed_id!(/// A harness id.
    HarnessId, "^harness_[0-9a-f]{32}$", "harness_0193a1b2c3d47e8f9a0b1c2d3e4f5a6b");
prefixed_id!(/// A session id.
    SessionId, "^session_[0-9a-f]{32}$", "session_0193a1b2c3d47e8f9a0b1c2d3e4f5a6b");
prefixed_id!(/// A message id.
    MessageId, "^message_[0-9a-f]{32}$", "message_0193a1b2c3d47e8f9a0b1c2d3e4f5a6b");
prefixed_id!(/// An event id.
    EventId, "^event_[0-9a-f]{32}$", "event_0193a1b2c3d47e8f9a0b1c2d3e4f5a6b");
prefixed_id!(/// A provider id.
    ProviderId, "^provider_[0-9a-f]{32}$", "provider_0193a1b2c3d47e8f9a0b1c2d3e4f5a6b");
prefixed_id!(/// A model id.
    ModelId, "^model_[0-9a-f]{32}$", "model_0193a1b2c3d47e8f9a0b1c2d3e4f5a6b");
prefixed_id!(/// An API key id.
    ApiKeyId, "^key_[0-9a-f]{32}$", "key_0193a1b2c3d47e8f9a0b1c2d3e4f5a6b");

/// An RFC 3339 UTC instant with millisecond precision.
#[derive(ToSchema)]
#[schema(value_type = String, format = DateTime, example = "2026-05-25T10:00:00.123Z")]
pub struct Timestamp(String);

/// A name: 1-64 lowercase letters, digits and single hyphens (e.g. `my-agent`).
#[derive(ToSchema)]
#[schema(pattern = "^[a-z0-9]+(-[a-z0-9]+)*$", min_length = 1, max_length = 64, example = "my-agent")]
pub struct Name(String);

/// Any JSON value.
pub type AnyValue = serde_json::Value;

/// `active`, `archived` or `deleted`.
#[derive(ToSchema)]
#[schema(rename_all = "lowercase")]
pub enum EntityStatus {
    /// In use.
    Active,
    /// Archived (still readable).
    Archived,
    /// Deleted.
    Deleted,
}

/// An RFC 9457 problem body; `error` repeats the code and message for every SDK generation.
#[derive(ToSchema)]
pub struct Problem {
    /// A URI naming the error class.
    #[serde(rename = "type")]
    pub kind: String,
    /// The HTTP reason phrase.
    pub title: String,
    /// The HTTP status.
    pub status: u16,
    /// What went wrong.
    pub detail: String,
    /// A stable code (`session_not_found`, `invalid_id`, …).
    pub code: String,
    /// Seconds to wait before retrying (429 and 503 only).
    #[serde(default)]
    pub retry_after_seconds: u64,
    /// The code and message again.
    pub error: ProblemError,
}

/// `{code, message}`.
#[derive(ToSchema)]
pub struct ProblemError {
    /// A stable code.
    pub code: String,
    /// What went wrong.
    pub message: String,
}

/// A page of a paginated list, with absolute links to its neighbours.
#[derive(ToSchema)]
pub struct Page<T> {
    /// The items.
    pub data: Vec<T>,
    /// How many items match in all.
    pub total: u64,
    /// The index of the first item.
    pub offset: u32,
    /// The page size.
    pub limit: u32,
    /// The next page (absent on the last one).
    #[serde(default)]
    pub next_url: String,
    /// The previous page (absent on the first one).
    #[serde(default)]
    pub prev_url: String,
}

/// A whole (unpaginated) list.
#[derive(ToSchema)]
pub struct List<T> {
    /// The items.
    pub data: Vec<T>,
}
