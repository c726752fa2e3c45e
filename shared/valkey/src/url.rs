//! `VALKEY_URL` validation: which schemes are accepted, how the Valkey ones map onto the Redis
//! client's, and typed errors that never echo the URL (it may carry a password).

/// The schemes `VALKEY_URL` may use, as named in error messages.
const ACCEPTED: &str = "redis://, rediss:// (TLS), valkey://, valkeys:// (TLS)";

/// Longest scheme quoted back in an error; anything longer is not a scheme.
const MAX_QUOTED_SCHEME: usize = 32;

/// Why a Valkey URL was rejected. Messages name the scheme at most, never the rest of the URL.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ValkeyUrlError {
    /// No `scheme://` prefix (or something that is not a scheme before `://`).
    #[error("the Valkey URL has no scheme; expected one of {ACCEPTED}")]
    MissingScheme,
    /// A scheme other than the four accepted ones.
    #[error("the Valkey URL has the unsupported scheme `{scheme}://`; expected one of {ACCEPTED}")]
    UnsupportedScheme {
        /// The scheme found, lowercased.
        scheme: String,
    },
    /// The scheme is fine but the client cannot use the URL (no host, a bad database number...).
    #[error("the Valkey URL is not usable: {reason}")]
    Invalid {
        /// The Redis client's reason, which does not quote the URL.
        reason: String,
    },
}

/// Whether a URL uses TLS (`rediss://`), for a URL returned by [`parse_valkey_url`].
pub(crate) fn is_tls(redis_url: &str) -> bool {
    redis_url.starts_with("rediss://")
}

/// Validates a `VALKEY_URL` and returns it in the Redis client's spelling: `valkey://` becomes
/// `redis://` and `valkeys://` becomes `rediss://` (schemes are case-insensitive); `redis://` and
/// `rediss://` pass through. The result is checked to open as a [`redis::Client`], which does
/// not connect.
pub fn parse_valkey_url(url: &str) -> Result<String, ValkeyUrlError> {
    let url = url.trim();
    let (scheme, rest) = url.split_once("://").ok_or(ValkeyUrlError::MissingScheme)?;
    if !is_scheme(scheme) {
        return Err(ValkeyUrlError::MissingScheme);
    }
    let scheme = scheme.to_ascii_lowercase();
    let target = match scheme.as_str() {
        "redis" | "valkey" => "redis",
        "rediss" | "valkeys" => "rediss",
        _ => return Err(ValkeyUrlError::UnsupportedScheme { scheme }),
    };
    let mapped = format!("{target}://{rest}");
    redis::Client::open(mapped.as_str()).map_err(|error| ValkeyUrlError::Invalid { reason: error.to_string() })?;
    Ok(mapped)
}

/// RFC 3986 scheme syntax (`ALPHA *( ALPHA / DIGIT / "+" / "-" / "." )`), short enough to quote.
fn is_scheme(candidate: &str) -> bool {
    let mut chars = candidate.chars();
    candidate.len() <= MAX_QUOTED_SCHEME
        && chars.next().is_some_and(|first| first.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redis_schemes_pass_through() {
        assert_eq!(parse_valkey_url("redis://127.0.0.1:6379").unwrap(), "redis://127.0.0.1:6379");
        assert_eq!(
            parse_valkey_url("rediss://user:pw@cache.example.com:6380/2").unwrap(),
            "rediss://user:pw@cache.example.com:6380/2"
        );
    }

    #[test]
    fn valkey_schemes_map_to_redis_ones() {
        assert_eq!(parse_valkey_url("valkey://10.0.0.5").unwrap(), "redis://10.0.0.5");
        assert_eq!(
            parse_valkey_url("valkeys://:pw@cache.example.com:6380").unwrap(),
            "rediss://:pw@cache.example.com:6380"
        );
    }

    #[test]
    fn schemes_are_case_insensitive() {
        assert_eq!(parse_valkey_url("REDIS://localhost").unwrap(), "redis://localhost");
        assert_eq!(parse_valkey_url("Valkeys://localhost").unwrap(), "rediss://localhost");
        assert!(is_tls(&parse_valkey_url("RedisS://localhost").unwrap()));
        assert!(!is_tls(&parse_valkey_url("VALKEY://localhost").unwrap()));
    }

    #[test]
    fn other_schemes_are_rejected_by_name() {
        for (url, scheme) in [("http://localhost:6379", "http"), ("NATS://localhost:4222", "nats")] {
            let error = parse_valkey_url(url).unwrap_err();
            assert_eq!(error, ValkeyUrlError::UnsupportedScheme { scheme: scheme.into() });
            let message = error.to_string();
            assert!(message.contains(&format!("`{scheme}://`")), "{message}");
            for accepted in ["redis://", "rediss://", "valkey://", "valkeys://"] {
                assert!(message.contains(accepted), "{message}");
            }
        }
    }

    #[test]
    fn a_url_without_scheme_is_rejected() {
        for url in ["127.0.0.1:6379", "", "://localhost", "localhost/redis://x"] {
            assert_eq!(parse_valkey_url(url), Err(ValkeyUrlError::MissingScheme), "{url}");
        }
        assert!(ValkeyUrlError::MissingScheme.to_string().contains("valkeys://"));
    }

    #[test]
    fn unusable_urls_are_rejected() {
        assert!(matches!(parse_valkey_url("redis://"), Err(ValkeyUrlError::Invalid { .. })));
        assert!(matches!(parse_valkey_url("valkey://localhost/not-a-db"), Err(ValkeyUrlError::Invalid { .. })));
        assert!(matches!(parse_valkey_url("redis://0.0.0.0"), Err(ValkeyUrlError::Invalid { .. })));
    }

    #[test]
    fn errors_never_echo_the_password() {
        for url in [
            "http://user:hunter2@localhost:6379",
            "user:hunter2@localhost:6379",
            "user:hunter2@localhost://x",
            "valkey://:hunter2@localhost/not-a-db",
            "redis://user:hunter2@0.0.0.0:6379",
        ] {
            let error = parse_valkey_url(url).unwrap_err();
            let shown = format!("{error} {error:?}");
            assert!(!shown.contains("hunter2"), "{url}: {shown}");
        }
    }
}
