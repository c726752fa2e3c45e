//! The HTTP side of the drivers: a lean reqwest client (rustls, HTTP/1.1 and 2), sending a request
//! and turning a failed response into a typed [`DriverError`] (provider message, `retry-after`).

pub use everruns_core::report::error_chain;
use std::sync::OnceLock;
use std::time::Duration;

use reqwest::header::HeaderMap;
use serde_json::Value;

use everruns_core::driver::{DriverError, DriverErrorKind};

/// Settings of the HTTP client the drivers use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpClientOptions {
    /// Limit on establishing a connection (TCP + TLS).
    pub connect_timeout: Duration,
    /// Limit on the silence between two reads of a response (a stalled stream fails).
    pub read_timeout: Duration,
    /// The `User-Agent` header.
    pub user_agent: String,
}

impl Default for HttpClientOptions {
    /// 30 s to connect, 600 s of silence at most (long reasoning can be quiet), `everruns/<version>`.
    fn default() -> Self {
        Self {
            connect_timeout: Duration::from_secs(30),
            read_timeout: Duration::from_secs(600),
            user_agent: format!("everruns/{}", env!("CARGO_PKG_VERSION")),
        }
    }
}

/// Builds an HTTP client with the given options. Proxies from the environment are not used;
/// names resolve, and redirects are followed, under the installed outbound policy.
pub fn build_client(options: &HttpClientOptions) -> Result<reqwest::Client, DriverError> {
    reqwest::Client::builder()
        .dns_resolver(crate::outbound::PolicyResolver::default())
        .redirect(crate::outbound::redirect_policy())
        .connect_timeout(options.connect_timeout)
        .read_timeout(options.read_timeout)
        .user_agent(options.user_agent.clone())
        .no_proxy()
        .build()
        .map_err(|e| DriverError::new(DriverErrorKind::Other, format!("building the HTTP client failed: {e}")))
}

/// A process-wide client with the default options, shared by every driver (one connection pool).
pub fn shared_client() -> Result<reqwest::Client, DriverError> {
    static CLIENT: OnceLock<Result<reqwest::Client, DriverError>> = OnceLock::new();
    CLIENT.get_or_init(|| build_client(&HttpClientOptions::default())).clone()
}

/// Sends a request; a transport failure becomes a [`DriverErrorKind::Network`] error (retryable)
/// and a non-2xx status a [`DriverError::from_status`] error built by [`error_from_response`].
pub async fn send(request: reqwest::RequestBuilder) -> Result<reqwest::Response, DriverError> {
    let (client, request) = request.build_split();
    let request = request.map_err(|e| transport_error(&e))?;
    // A literal IP skips name resolution: the policy judges it here (a name, when it resolves).
    if let Err(why) = crate::outbound::current().check_url(request.url().as_str()) {
        return Err(DriverError::new(DriverErrorKind::InvalidRequest, format!("the provider URL {why}")));
    }
    let response = client.execute(request).await.map_err(|e| transport_error(&e))?;
    if response.status().is_success() { Ok(response) } else { Err(error_from_response(response).await) }
}

/// The error for a failed send: an unusable URL or request is [`DriverErrorKind::InvalidRequest`]
/// (not retried); anything else (connect, timeout, reset) is [`DriverErrorKind::Network`].
pub fn transport_error(error: &reqwest::Error) -> DriverError {
    let kind = if error.is_builder() { DriverErrorKind::InvalidRequest } else { DriverErrorKind::Network };
    DriverError::new(kind, format!("request to the provider failed: {}", error_chain(error)))
}

/// Reads a failed response into a typed error: the provider's message from the body, the status
/// class, and the wait from `retry-after` (or `retry-after-ms`).
pub async fn error_from_response(response: reqwest::Response) -> DriverError {
    let status = response.status();
    let retry_after = retry_after(response.headers());
    let body = response.text().await.unwrap_or_default();
    let message = provider_message(&body)
        .unwrap_or_else(|| format!("HTTP {status}: {}", truncate(body.trim(), 500).replace('\n', " ")));
    let mut error = classify(DriverError::from_status(status.as_u16(), message), &body);
    error.retry_after = retry_after;
    error
}

/// The provider's error message in a JSON error body: `error.message` (OpenAI, Anthropic, Gemini),
/// else `message`, else a string `error`. The body may also be a JSON array of such objects.
pub fn provider_message(body: &str) -> Option<String> {
    let value: Value = serde_json::from_str(body.trim()).ok()?;
    let value = match value {
        Value::Array(items) => items.into_iter().next()?,
        other => other,
    };
    let message = value
        .pointer("/error/message")
        .or_else(|| value.get("message"))
        .or_else(|| value.get("error").filter(|e| e.is_string()))?;
    message.as_str().map(str::to_owned)
}

/// Refines the status class from the body: exhausted quota (`insufficient_quota`, billing errors)
/// and prompts too long for the context window.
fn classify(mut error: DriverError, body: &str) -> DriverError {
    let lower = body.to_ascii_lowercase();
    if lower.contains("insufficient_quota") || lower.contains("billing_error") || lower.contains("credit balance") {
        error.kind = DriverErrorKind::QuotaExhausted;
    } else if error.kind == DriverErrorKind::InvalidRequest
        && ["context_length_exceeded", "prompt is too long", "maximum context length", "input token count"]
            .iter()
            .any(|marker| lower.contains(marker))
    {
        error.kind = DriverErrorKind::RequestTooLarge;
    }
    error
}

/// The provider-requested wait: `retry-after-ms` (milliseconds), else `retry-after` as seconds or
/// as an HTTP date (a date in the past is zero).
pub fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::trim);
    if let Some(ms) = header("retry-after-ms").and_then(|v| v.parse::<f64>().ok()) {
        return Duration::try_from_secs_f64(ms / 1000.0).ok();
    }
    parse_retry_after(header("retry-after")?)
}

/// Parses a `retry-after` value: delay seconds (integer or decimal) or an HTTP date.
pub fn parse_retry_after(value: &str) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<f64>() {
        return Duration::try_from_secs_f64(seconds).ok();
    }
    let date = chrono::DateTime::parse_from_rfc2822(value).ok()?;
    let wait = date.with_timezone(&chrono::Utc) - chrono::Utc::now();
    Some(wait.to_std().unwrap_or(Duration::ZERO))
}

/// The first `max` characters of a text.
pub fn truncate(text: &str, max: usize) -> &str {
    match text.char_indices().nth(max) {
        Some((index, _)) => &text[..index],
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use reqwest::header::HeaderValue;

    use super::*;

    #[test]
    fn retry_after_seconds_dates_and_milliseconds() {
        assert_eq!(parse_retry_after("0"), Some(Duration::ZERO));
        assert_eq!(parse_retry_after(" 7 "), Some(Duration::from_secs(7)));
        assert_eq!(parse_retry_after("1.5"), Some(Duration::from_millis(1500)));
        assert_eq!(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"), Some(Duration::ZERO));
        let future = (chrono::Utc::now() + chrono::Duration::seconds(30)).to_rfc2822();
        let wait = parse_retry_after(&future).unwrap_or_default();
        assert!(wait > Duration::from_secs(25) && wait <= Duration::from_secs(30), "{wait:?}");
        assert_eq!(parse_retry_after("soon"), None);
        assert_eq!(parse_retry_after("-3"), None);

        let mut headers = HeaderMap::new();
        headers.insert("retry-after", HeaderValue::from_static("5"));
        assert_eq!(retry_after(&headers), Some(Duration::from_secs(5)));
        headers.insert("retry-after-ms", HeaderValue::from_static("250"));
        assert_eq!(retry_after(&headers), Some(Duration::from_millis(250)));
    }

    #[test]
    fn provider_messages_of_each_shape() {
        let openai = r#"{"error":{"message":"bad model","type":"invalid_request_error","code":null}}"#;
        assert_eq!(provider_message(openai).as_deref(), Some("bad model"));
        let anthropic = r#"{"type":"error","error":{"type":"invalid_request_error","message":"max_tokens"}}"#;
        assert_eq!(provider_message(anthropic).as_deref(), Some("max_tokens"));
        let gemini = r#"[{"error":{"code":400,"message":"API key not valid","status":"INVALID_ARGUMENT"}}]"#;
        assert_eq!(provider_message(gemini).as_deref(), Some("API key not valid"));
        assert_eq!(provider_message(r#"{"error":"plain"}"#).as_deref(), Some("plain"));
        assert_eq!(provider_message("<html>oops</html>"), None);
    }

    #[test]
    fn bodies_refine_the_class() {
        let quota = classify(DriverError::from_status(429, "x"), r#"{"error":{"code":"insufficient_quota"}}"#);
        assert_eq!(quota.kind, DriverErrorKind::QuotaExhausted);
        let long = classify(DriverError::from_status(400, "x"), "prompt is too long: 300000 tokens");
        assert_eq!(long.kind, DriverErrorKind::RequestTooLarge);
        let plain = classify(DriverError::from_status(400, "x"), "unknown field");
        assert_eq!(plain.kind, DriverErrorKind::InvalidRequest);
        assert_eq!(truncate("héllo", 2), "hé");
    }
}
