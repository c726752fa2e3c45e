//! The pace of a simulated provider ([`LlmSimPacing`]): how long before the first token and
//! between later ones. A deployment gives it to the simulator models it seeds through their
//! provider's metadata (`extra.llmsim_pacing = {"ttft_ms", "token_ms"}`), so it reaches whichever
//! process runs the turn (the in-process worker or a remote one); a model without it is instant.

use std::time::Duration;

use serde_json::{Map, Value, json};

use crate::driver_registry::ProviderMetadata;

/// The key of [`ProviderMetadata::extra`] that carries the pace.
pub const PACING_METADATA_KEY: &str = "llmsim_pacing";

/// How fast a simulated provider answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LlmSimPacing {
    /// The delay before the first chunk.
    pub time_to_first_token: Duration,
    /// The delay before each later text delta or tool call.
    pub per_token: Duration,
}

impl LlmSimPacing {
    /// No delay at all: the whole answer is ready at once (tests and benchmarks).
    pub const INSTANT: Self = Self { time_to_first_token: Duration::ZERO, per_token: Duration::ZERO };

    /// The pace of the `dev` grade's seeded simulator models when nothing else is configured:
    /// 600 ms before the first token, then 25 ms per word — a moment a client can see, as with a
    /// real provider.
    pub const PROVIDER_LIKE: Self =
        Self { time_to_first_token: Duration::from_millis(600), per_token: Duration::from_millis(25) };

    /// A pace from milliseconds.
    pub fn from_millis(time_to_first_token_ms: u64, per_token_ms: u64) -> Self {
        Self {
            time_to_first_token: Duration::from_millis(time_to_first_token_ms),
            per_token: Duration::from_millis(per_token_ms),
        }
    }

    /// Whether there is no delay at all.
    pub fn is_instant(&self) -> bool {
        self.time_to_first_token.is_zero() && self.per_token.is_zero()
    }

    /// The pace a provider's metadata carries ([`INSTANT`](Self::INSTANT) when it carries none,
    /// or an unreadable one).
    pub fn from_metadata(metadata: &ProviderMetadata) -> Self {
        let Some(pace) = metadata.extra.as_ref().and_then(|extra| extra.get(PACING_METADATA_KEY)) else {
            return Self::INSTANT;
        };
        let millis = |key: &str| pace.get(key).and_then(Value::as_u64).unwrap_or(0);
        Self::from_millis(millis("ttft_ms"), millis("token_ms"))
    }

    /// `metadata` carrying this pace (and nothing of an earlier one): the pace is set, or removed
    /// when instant; everything else is kept. `None` when nothing is left.
    pub fn apply_to(&self, metadata: Option<ProviderMetadata>) -> Option<ProviderMetadata> {
        let mut metadata = metadata.unwrap_or_default();
        let mut extra = match metadata.extra.take() {
            Some(Value::Object(map)) => map,
            Some(other) => {
                // A non-object `extra` cannot hold the key; keep it as it is when there is nothing to add.
                if self.is_instant() {
                    metadata.extra = Some(other);
                    return Some(metadata);
                }
                Map::new()
            }
            None => Map::new(),
        };
        if self.is_instant() {
            extra.remove(PACING_METADATA_KEY);
        } else {
            extra.insert(
                PACING_METADATA_KEY.to_owned(),
                json!({"ttft_ms": millis(self.time_to_first_token), "token_ms": millis(self.per_token)}),
            );
        }
        metadata.extra = (!extra.is_empty()).then_some(Value::Object(extra));
        (metadata != ProviderMetadata::default()).then_some(metadata)
    }
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_round_trip() {
        let pace = LlmSimPacing::from_millis(600, 25);
        let metadata = pace.apply_to(None).expect("a pace is stored");
        assert_eq!(metadata.extra, Some(json!({"llmsim_pacing": {"ttft_ms": 600, "token_ms": 25}})));
        assert_eq!(LlmSimPacing::from_metadata(&metadata), pace);
        assert_eq!(LlmSimPacing::from_metadata(&ProviderMetadata::default()), LlmSimPacing::INSTANT);
        assert_eq!(LlmSimPacing::INSTANT.apply_to(Some(metadata)), None, "instant leaves nothing behind");
        assert_eq!(LlmSimPacing::INSTANT.apply_to(None), None);
    }

    #[test]
    fn other_metadata_is_kept() {
        let other = ProviderMetadata {
            account_id: Some("acct".into()),
            extra: Some(json!({"region": "eu", "llmsim_pacing": {"ttft_ms": 1}})),
            ..ProviderMetadata::default()
        };
        let paced = LlmSimPacing::from_millis(10, 2).apply_to(Some(other.clone())).expect("kept");
        assert_eq!(paced.account_id.as_deref(), Some("acct"));
        assert_eq!(paced.extra, Some(json!({"region": "eu", "llmsim_pacing": {"ttft_ms": 10, "token_ms": 2}})));
        let instant = LlmSimPacing::INSTANT.apply_to(Some(other)).expect("kept");
        assert_eq!(instant.extra, Some(json!({"region": "eu"})));
        let odd = ProviderMetadata { extra: Some(json!("text")), ..ProviderMetadata::default() };
        assert_eq!(LlmSimPacing::INSTANT.apply_to(Some(odd.clone())), Some(odd.clone()));
        assert_eq!(LlmSimPacing::from_metadata(&odd), LlmSimPacing::INSTANT);
        let garbled = ProviderMetadata { extra: Some(json!({"llmsim_pacing": {"ttft_ms": "x"}})), ..odd };
        assert_eq!(LlmSimPacing::from_metadata(&garbled), LlmSimPacing::INSTANT);
    }
}
