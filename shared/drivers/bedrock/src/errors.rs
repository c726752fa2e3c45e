//! Bedrock failures as typed driver errors (the contract's classes, §5.4), whether the call failed
//! or the stream carried an exception.
//!
//! By error code: `ThrottlingException` → rate limited; `AccessDeniedException`,
//! `UnrecognizedClientException` and the other signature or token rejections → authentication
//! (the provider is misconfigured); `ServiceQuotaExceededException` → quota exhausted;
//! `ValidationException` about the input length → request too large (else invalid request, or
//! model not available for a bad model id); `ResourceNotFoundException` → model not available;
//! `ModelNotReadyException`, `ServiceUnavailableException`, `InternalServerException`,
//! `ModelErrorException`, `ModelStreamErrorException` and any 5xx → provider unavailable;
//! `ModelTimeoutException` and transport failures → network. Credentials that cannot be loaded are
//! an authentication error. The friendly text follows from the class
//! ([`DriverError::friendly_message`]), as for every driver.

use aws_sdk_bedrockruntime::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_bedrockruntime::operation::converse_stream::ConverseStreamError;
use aws_sdk_bedrockruntime::types::error::ConverseStreamOutputError;
use aws_smithy_types::event_stream::RawMessage;

use everruns_core::driver::{DriverError, DriverErrorKind};
use everruns_driver_common::http::{parse_retry_after, truncate};

/// The raw HTTP response type of SDK errors.
type HttpResponse = aws_sdk_bedrockruntime::config::http::HttpResponse;

/// Input-length markers of a `ValidationException` (lowercase).
const TOO_LONG: [&str; 7] = [
    "too long",
    "too many input tokens",
    "too many tokens",
    "context length",
    "context window",
    "input length",
    "maximum number of tokens",
];

/// The class and default status of an error code (case-insensitive, without any `:` suffix).
fn classify(code: &str, message: &str) -> Option<(DriverErrorKind, Option<u16>)> {
    let code = code.split(':').next().unwrap_or_default().to_ascii_lowercase();
    let lower = message.to_ascii_lowercase();
    Some(match code.as_str() {
        "throttlingexception" | "toomanyrequestsexception" => (DriverErrorKind::RateLimited, Some(429)),
        "accessdeniedexception"
        | "unrecognizedclientexception"
        | "invalidsignatureexception"
        | "incompletesignatureexception"
        | "expiredtokenexception"
        | "invalidclienttokenid"
        | "missingauthenticationtokenexception"
        | "signaturedoesnotmatch" => (DriverErrorKind::Authentication, Some(403)),
        "servicequotaexceededexception" => (DriverErrorKind::QuotaExhausted, None),
        "validationexception" if TOO_LONG.iter().any(|m| lower.contains(m)) => {
            (DriverErrorKind::RequestTooLarge, Some(400))
        }
        "validationexception" if lower.contains("model identifier") => (DriverErrorKind::ModelNotAvailable, Some(400)),
        "validationexception" => (DriverErrorKind::InvalidRequest, Some(400)),
        "resourcenotfoundexception" => (DriverErrorKind::ModelNotAvailable, Some(404)),
        "modelnotreadyexception" => (DriverErrorKind::ProviderUnavailable, Some(429)),
        "serviceunavailableexception" => (DriverErrorKind::ProviderUnavailable, Some(503)),
        "internalserverexception" | "internalfailure" => (DriverErrorKind::ProviderUnavailable, Some(500)),
        "modelerrorexception" => (DriverErrorKind::ProviderUnavailable, Some(424)),
        // "An error occurred while streaming the response. Retry your request."
        "modelstreamerrorexception" => (DriverErrorKind::ProviderUnavailable, None),
        "modeltimeoutexception" => (DriverErrorKind::Network, Some(408)),
        "conflictexception" => (DriverErrorKind::InvalidRequest, Some(409)),
        _ => return None,
    })
}

/// A service error by code, message and (when the response had one) HTTP status. The class comes
/// from the code; an unknown code falls back to the status. The class's status stands in when
/// there is no response status (in-stream exceptions).
pub fn service_error(code: Option<&str>, message: Option<&str>, status: Option<u16>) -> DriverError {
    let code = code.unwrap_or_default();
    let text = message.unwrap_or_default();
    let described = match (code, text) {
        ("", "") => format!("Bedrock error (HTTP {})", status.map_or("-".to_owned(), |s| s.to_string())),
        ("", text) => format!("Bedrock: {text}"),
        (code, "") => format!("Bedrock {code}"),
        (code, text) => format!("Bedrock {code}: {text}"),
    };
    match classify(code, text) {
        Some((kind, default_status)) => {
            let status = status.filter(|s| *s >= 400).or(default_status);
            DriverError { kind, status, ..DriverError::new(kind, described) }
        }
        None => match status.filter(|s| *s >= 400) {
            Some(status) => DriverError::from_status(status, described),
            None => DriverError::new(DriverErrorKind::Other, described),
        },
    }
}

/// A failure that never produced a service error: transport, timeout, credentials, construction.
fn transport_error(kind_when_unknown: DriverErrorKind, detail: String) -> DriverError {
    let lower = detail.to_ascii_lowercase();
    let kind = if lower.contains("credential") || lower.contains("no region") || lower.contains("bearer") {
        DriverErrorKind::Authentication
    } else {
        kind_when_unknown
    };
    DriverError::new(kind, format!("Bedrock request failed: {}", truncate(&detail, 1000)))
}

/// The error of a failed `ConverseStream` call.
pub fn call_error(error: SdkError<ConverseStreamError, HttpResponse>) -> DriverError {
    let detail = DisplayErrorContext(&error).to_string();
    match &error {
        SdkError::ServiceError(context) => {
            let raw = context.raw();
            let mut mapped = service_error(context.err().code(), context.err().message(), Some(raw.status().as_u16()));
            mapped.retry_after = raw.headers().get("retry-after").and_then(parse_retry_after);
            mapped
        }
        SdkError::TimeoutError(_) => DriverError::new(DriverErrorKind::Network, format!("Bedrock timed out: {detail}")),
        SdkError::DispatchFailure(_) => transport_error(DriverErrorKind::Network, detail),
        SdkError::ConstructionFailure(_) => transport_error(DriverErrorKind::InvalidRequest, detail),
        SdkError::ResponseError(context) => {
            let status = context.raw().status().as_u16();
            if status >= 400 {
                DriverError::from_status(status, format!("Bedrock: {detail}"))
            } else {
                DriverError::new(DriverErrorKind::Other, format!("malformed Bedrock response: {detail}"))
            }
        }
        _ => transport_error(DriverErrorKind::Other, detail),
    }
}

/// The code of an exception event: the `:exception-type` header picks the variant, while the
/// payload (`{"message": ...}`) usually names no code.
fn exception_code(error: &ConverseStreamOutputError) -> Option<&'static str> {
    Some(match error {
        ConverseStreamOutputError::ThrottlingException(_) => "ThrottlingException",
        ConverseStreamOutputError::ValidationException(_) => "ValidationException",
        ConverseStreamOutputError::InternalServerException(_) => "InternalServerException",
        ConverseStreamOutputError::ServiceUnavailableException(_) => "ServiceUnavailableException",
        ConverseStreamOutputError::ModelStreamErrorException(_) => "ModelStreamErrorException",
        _ => return None,
    })
}

/// The error of a failed read of the event stream (an exception event, or the transport).
pub fn stream_error(error: SdkError<ConverseStreamOutputError, RawMessage>) -> DriverError {
    match &error {
        SdkError::ServiceError(context) => {
            let exception = context.err();
            service_error(exception_code(exception).or(exception.code()), exception.message(), None)
        }
        SdkError::ResponseError(_) => DriverError::new(
            DriverErrorKind::Other,
            format!("malformed Bedrock event: {}", DisplayErrorContext(&error)),
        ),
        _ => DriverError::new(
            DriverErrorKind::Network,
            format!("the Bedrock stream failed: {}", DisplayErrorContext(&error)),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind(code: &str, message: &str, status: Option<u16>) -> (DriverErrorKind, Option<u16>) {
        let error = service_error(Some(code), Some(message), status);
        (error.kind, error.status)
    }

    #[test]
    fn codes_map_to_the_contract_classes() {
        assert_eq!(kind("ThrottlingException", "slow down", Some(429)), (DriverErrorKind::RateLimited, Some(429)));
        assert_eq!(kind("throttlingException", "in stream", None), (DriverErrorKind::RateLimited, Some(429)));
        assert_eq!(kind("AccessDeniedException", "no", Some(403)).0, DriverErrorKind::Authentication);
        assert_eq!(kind("UnrecognizedClientException", "bad token", Some(403)).0, DriverErrorKind::Authentication);
        let long = "Input is too long for requested model.";
        assert_eq!(kind("ValidationException", long, Some(400)).0, DriverErrorKind::RequestTooLarge);
        assert_eq!(
            kind("ValidationException", "The provided model identifier is invalid.", Some(400)).0,
            DriverErrorKind::ModelNotAvailable
        );
        assert_eq!(kind("ValidationException", "bad field", Some(400)).0, DriverErrorKind::InvalidRequest);
        assert_eq!(
            kind("ModelNotReadyException", "warming", Some(429)),
            (DriverErrorKind::ProviderUnavailable, Some(429))
        );
        assert_eq!(kind("ServiceUnavailableException", "x", Some(503)).0, DriverErrorKind::ProviderUnavailable);
        assert_eq!(kind("ServiceQuotaExceededException", "x", Some(400)).0, DriverErrorKind::QuotaExhausted);
        assert_eq!(kind("SomethingNew", "x", Some(502)), (DriverErrorKind::ProviderUnavailable, Some(502)));
        assert_eq!(kind("", "", None).0, DriverErrorKind::Other);
        let stream = service_error(Some("modelStreamErrorException"), Some("retry"), None);
        assert!(stream.is_retryable() && stream.kind == DriverErrorKind::ProviderUnavailable);
        let friendly = service_error(Some("ThrottlingException"), None, Some(429)).friendly_message();
        assert!(friendly.contains("rate limited"));
    }

    #[test]
    fn credential_failures_are_authentication() {
        let error = transport_error(DriverErrorKind::Network, "failed to load credentials: no providers".into());
        assert_eq!(error.kind, DriverErrorKind::Authentication);
        assert_eq!(
            transport_error(DriverErrorKind::Network, "connection refused".into()).kind,
            DriverErrorKind::Network
        );
    }
}
