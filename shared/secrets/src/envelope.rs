//! The stored envelope of contract §6.3: the bytes of a JSON document
//! `{"version":1,"alg":"AES-256-GCM","key_id":…,"dek_wrapped":…,"nonce":…,"ciphertext":…}`
//! with standard, padded base64 for the binary fields:
//!
//! * `dek_wrapped` = nonce (12) ‖ AES-256-GCM_KEK(DEK, 32 bytes) ‖ tag (16);
//! * `nonce` = the 12-byte data nonce;
//! * `ciphertext` = AES-256-GCM_DEK(plaintext) ‖ tag (16).
//!
//! Unknown extra fields are ignored when reading, so later writers can add some.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use everruns_core::ports::CipherError;
use serde::Serialize;
use serde_json::{Map, Value};

/// The only envelope `version` written and accepted.
pub const ENVELOPE_VERSION: u32 = 1;

/// The only envelope `alg` written and accepted.
pub const ENVELOPE_ALG: &str = "AES-256-GCM";

/// Length in bytes of an AES-GCM nonce.
pub(crate) const NONCE_LEN: usize = 12;

/// Length in bytes of an AES-GCM authentication tag.
pub(crate) const TAG_LEN: usize = 16;

/// An envelope being written; fields in the contract's order.
#[derive(Serialize)]
pub(crate) struct Envelope<'a> {
    version: u32,
    alg: &'static str,
    key_id: &'a str,
    dek_wrapped: String,
    nonce: String,
    ciphertext: String,
}

impl<'a> Envelope<'a> {
    /// An envelope over already-encrypted parts.
    pub(crate) fn new(key_id: &'a str, dek_wrapped: &[u8], nonce: &[u8], ciphertext: &[u8]) -> Self {
        Self {
            version: ENVELOPE_VERSION,
            alg: ENVELOPE_ALG,
            key_id,
            dek_wrapped: STANDARD.encode(dek_wrapped),
            nonce: STANDARD.encode(nonce),
            ciphertext: STANDARD.encode(ciphertext),
        }
    }

    /// The stored bytes: compact JSON.
    pub(crate) fn to_bytes(&self) -> Result<Vec<u8>, CipherError> {
        serde_json::to_vec(self).map_err(|error| CipherError(format!("could not encode the envelope: {error}")))
    }
}

/// The JSON object in `sealed`, or `None` if `sealed` is not a JSON object (then it may be the
/// legacy raw format).
pub(crate) fn parse_object(sealed: &[u8]) -> Option<Map<String, Value>> {
    serde_json::from_slice(sealed).ok()
}

/// A required string field.
pub(crate) fn string_field<'a>(object: &'a Map<String, Value>, name: &str) -> Result<&'a str, CipherError> {
    object
        .get(name)
        .and_then(Value::as_str)
        .ok_or_else(|| CipherError(format!("malformed envelope: missing or non-string `{name}`")))
}

/// A required base64 field, decoded.
pub(crate) fn base64_field(object: &Map<String, Value>, name: &str) -> Result<Vec<u8>, CipherError> {
    STANDARD
        .decode(string_field(object, name)?)
        .map_err(|_| CipherError(format!("malformed envelope: `{name}` is not valid base64")))
}
