//! Key-encryption keys (KEKs): parsing the `<key_id>:<base64 of 32 bytes>` text of
//! `SECRETS_ENCRYPTION_KEY` / `SECRETS_ENCRYPTION_KEY_PREVIOUS`, and the typed errors for it.
//!
//! Decision: a parsed key keeps only its id and the initialised AES-256-GCM cipher (whose key
//! schedule is wiped on drop); the raw key bytes are wiped as soon as the cipher is built. No
//! error message or `Debug` output ever contains key material — at most the key id, which is
//! not secret (it is written in clear into every sealed envelope).

use std::fmt;
use std::str::FromStr;

use aes_gcm::aead::{Generate, KeyInit};
use aes_gcm::{Aes256Gcm, Key};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use zeroize::Zeroizing;

/// Length in bytes of a key-encryption key (AES-256).
pub const KEY_LEN: usize = 32;

/// Key id given to the random key of [`EncryptionKey::ephemeral`] (DEV_MODE).
pub const EPHEMERAL_KEY_ID: &str = "ephemeral";

/// Why a key text could not be parsed. Messages never contain key material.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyFormatError {
    /// The text has no `:` between the key id and the key material.
    #[error("encryption key must look like `<key_id>:<base64 of 32 bytes>` (e.g. `kek-v1:...`), but it has no ':'")]
    MissingSeparator,
    /// Nothing before the `:`.
    #[error("encryption key id (the part before ':') is empty")]
    EmptyKeyId,
    /// The key id contains whitespace.
    #[error("encryption key id (the part before ':') must not contain whitespace")]
    KeyIdWhitespace,
    /// The key material is not standard, padded base64. The decoder's own message is not kept,
    /// because it quotes the offending byte of the key.
    #[error("encryption key `{key_id}`: the part after ':' is not valid standard base64")]
    InvalidBase64 {
        /// Id of the offending key.
        key_id: String,
    },
    /// The key material decodes to the wrong number of bytes.
    #[error("encryption key `{key_id}`: the part after ':' decodes to {actual} bytes, but exactly 32 are required")]
    WrongLength {
        /// Id of the offending key.
        key_id: String,
        /// How many bytes were given.
        actual: usize,
    },
}

/// An AES-256 key-encryption key with its id, parsed from `<key_id>:<base64 of 32 bytes>`.
///
/// `Debug` shows only the id.
#[derive(Clone)]
pub struct EncryptionKey {
    id: String,
    kek: Aes256Gcm,
}

impl EncryptionKey {
    /// Parses `<key_id>:<base64 of exactly 32 bytes>`, e.g. the output of
    /// `python3 -c "import os, base64; print('kek-v1:' + base64.b64encode(os.urandom(32)).decode())"`.
    ///
    /// Whitespace around the whole text (such as a trailing newline) is ignored. The id is
    /// everything before the first `:`; it must be non-empty and contain no whitespace.
    ///
    /// # Errors
    /// A [`KeyFormatError`] saying what is wrong; it never includes the key material.
    pub fn parse(text: &str) -> Result<Self, KeyFormatError> {
        let text = text.trim();
        let (id, material) = text.split_once(':').ok_or(KeyFormatError::MissingSeparator)?;
        if id.is_empty() {
            return Err(KeyFormatError::EmptyKeyId);
        }
        if id.chars().any(char::is_whitespace) {
            return Err(KeyFormatError::KeyIdWhitespace);
        }
        let bytes = Zeroizing::new(
            STANDARD.decode(material).map_err(|_| KeyFormatError::InvalidBase64 { key_id: id.to_owned() })?,
        );
        let bytes: &[u8; KEY_LEN] = bytes
            .as_slice()
            .try_into()
            .map_err(|_| KeyFormatError::WrongLength { key_id: id.to_owned(), actual: bytes.len() })?;
        Ok(Self::from_bytes(id, bytes))
    }

    /// A fresh random key with id [`EPHEMERAL_KEY_ID`], for DEV_MODE: whatever it seals is
    /// unreadable once the process exits.
    ///
    /// # Panics
    /// If the operating system's random number generator fails (it does not on supported
    /// platforms).
    #[must_use]
    pub fn ephemeral() -> Self {
        let bytes = Zeroizing::new(<[u8; KEY_LEN]>::generate());
        Self::from_bytes(EPHEMERAL_KEY_ID, &bytes)
    }

    /// Builds a key from its id and raw bytes (the id is not validated).
    pub(crate) fn from_bytes(id: &str, bytes: &[u8; KEY_LEN]) -> Self {
        let key: &Key<Aes256Gcm> = bytes.into();
        Self { id: id.to_owned(), kek: Aes256Gcm::new(key) }
    }

    /// The key id, e.g. `kek-v1`.
    #[must_use]
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The AES-256-GCM cipher keyed with this key.
    pub(crate) fn aead(&self) -> &Aes256Gcm {
        &self.kek
    }
}

impl FromStr for EncryptionKey {
    type Err = KeyFormatError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::parse(text)
    }
}

impl fmt::Debug for EncryptionKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EncryptionKey").field("id", &self.id).finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const VALID: &str = "kek-v1:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

    #[test]
    fn parses_a_valid_key_and_trims_surrounding_whitespace() {
        assert_eq!(EncryptionKey::parse(VALID).map(|k| k.id().to_owned()), Ok("kek-v1".to_owned()));
        let padded = format!("  {VALID}\n");
        assert_eq!(padded.parse::<EncryptionKey>().map(|k| k.id().to_owned()), Ok("kek-v1".to_owned()));
    }

    #[test]
    fn rejects_missing_separator() {
        let err = EncryptionKey::parse("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=").unwrap_err();
        assert_eq!(err, KeyFormatError::MissingSeparator);
        assert!(err.to_string().contains("no ':'"));
        assert!(!err.to_string().contains("AAECAwQF"));
    }

    #[test]
    fn rejects_empty_key_id() {
        let err = EncryptionKey::parse(":AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=").unwrap_err();
        assert_eq!(err, KeyFormatError::EmptyKeyId);
        assert!(err.to_string().contains("empty"));
    }

    #[test]
    fn rejects_key_id_with_whitespace() {
        for text in ["kek v1:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=", "kek-v1 :AAAA", "kek\tv1:AAAA"] {
            let err = EncryptionKey::parse(text).unwrap_err();
            assert_eq!(err, KeyFormatError::KeyIdWhitespace, "{text:?}");
            assert!(err.to_string().contains("whitespace"));
        }
    }

    #[test]
    fn rejects_bad_base64_without_echoing_it() {
        for material in ["not base64!", "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8", "AAEC AwQF", "-_-_"] {
            let err = EncryptionKey::parse(&format!("kek-v1:{material}")).unwrap_err();
            assert_eq!(err, KeyFormatError::InvalidBase64 { key_id: "kek-v1".into() }, "{material:?}");
            let message = err.to_string();
            assert!(message.contains("kek-v1") && message.contains("base64"), "{message}");
            assert!(!message.contains(material), "{message}");
        }
    }

    #[test]
    fn rejects_wrong_length_and_says_how_many_bytes() {
        // 16 bytes (an AES-128 key).
        let err = EncryptionKey::parse("kek-v1:AAECAwQFBgcICQoLDA0ODw==").unwrap_err();
        assert_eq!(err, KeyFormatError::WrongLength { key_id: "kek-v1".into(), actual: 16 });
        let message = err.to_string();
        assert!(message.contains("16 bytes") && message.contains("exactly 32"), "{message}");
        assert!(!message.contains("AAECAwQF"), "{message}");
        // 33 bytes and 0 bytes.
        let long = STANDARD.encode([7u8; 33]);
        assert_eq!(
            EncryptionKey::parse(&format!("k:{long}")).unwrap_err(),
            KeyFormatError::WrongLength { key_id: "k".into(), actual: 33 }
        );
        assert_eq!(
            EncryptionKey::parse("k:").unwrap_err(),
            KeyFormatError::WrongLength { key_id: "k".into(), actual: 0 }
        );
    }

    #[test]
    fn debug_shows_only_the_id() {
        let key = EncryptionKey::parse(VALID).unwrap();
        let debug = format!("{key:?}");
        assert!(debug.contains("kek-v1"), "{debug}");
        assert!(!debug.contains("AAECAwQF"), "{debug}");
        assert!(!debug.contains("[0, 1, 2"), "{debug}");
        let debug = format!("{:?}", EncryptionKey::ephemeral());
        assert_eq!(debug, "EncryptionKey { id: \"ephemeral\", .. }");
    }
}
