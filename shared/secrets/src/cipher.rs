//! `AesGcmSecretCipher`: the AES-256-GCM envelope-encryption adapter of the `SecretCipher` port
//! (contract §6.3).
//!
//! Sealing: a fresh random 32-byte data key (DEK) encrypts the plaintext under a fresh 12-byte
//! nonce; the DEK is wrapped by the primary key-encryption key (KEK) under its own fresh nonce,
//! which is prefixed inside `dek_wrapped`. No additional authenticated data. The result is the
//! bytes of the JSON envelope (see [`crate::envelope`]).
//!
//! Opening: bytes that parse as a JSON object are an envelope, whose `version`, `alg` and
//! `key_id` must be known; anything else is tried as the legacy raw format
//! `nonce12 || ciphertext || tag` under the primary key, then under each previous key.
//!
//! Decision: error messages name key ids and which step failed, never plaintext, data keys or
//! key-encryption keys; `Debug` shows key ids only.

use std::fmt;

use aes_gcm::Aes256Gcm;
use aes_gcm::aead::{Aead, Generate, KeyInit, Nonce};
use everruns_core::ports::{CipherError, SecretCipher};
use zeroize::Zeroizing;

use crate::envelope::{self, ENVELOPE_ALG, ENVELOPE_VERSION, Envelope, NONCE_LEN, TAG_LEN};
use crate::key::{EncryptionKey, KEY_LEN, KeyFormatError};

/// Environment variable holding the primary key, `<key_id>:<base64 of 32 bytes>`.
pub const PRIMARY_KEY_VAR: &str = "SECRETS_ENCRYPTION_KEY";

/// Environment variable holding the previous key(s) kept for decryption during rotation.
pub const PREVIOUS_KEY_VAR: &str = "SECRETS_ENCRYPTION_KEY_PREVIOUS";

/// Why a cipher could not be built from its keys. Messages never contain key material.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// The primary key (`SECRETS_ENCRYPTION_KEY`) does not parse.
    #[error("SECRETS_ENCRYPTION_KEY: {0}")]
    Primary(KeyFormatError),
    /// A previous key (`SECRETS_ENCRYPTION_KEY_PREVIOUS`) does not parse.
    #[error("SECRETS_ENCRYPTION_KEY_PREVIOUS (key #{position}): {error}")]
    Previous {
        /// 1-based position of the key in the comma-separated list.
        position: usize,
        /// What is wrong with it.
        error: KeyFormatError,
    },
    /// Two keys share an id, so an envelope naming it would be ambiguous.
    #[error("encryption key id `{key_id}` is configured more than once; every key needs its own id")]
    DuplicateKeyId {
        /// The repeated id.
        key_id: String,
    },
}

/// AES-256-GCM envelope encryption of secrets (contract §6.3), over a primary key that seals and
/// opens and any number of previous keys that only open.
///
/// `Debug` shows key ids only.
#[derive(Clone)]
pub struct AesGcmSecretCipher {
    primary: EncryptionKey,
    previous: Vec<EncryptionKey>,
}

impl AesGcmSecretCipher {
    /// A cipher that seals with `primary` and opens values sealed with `primary` or any of
    /// `previous`.
    ///
    /// # Errors
    /// [`KeyError::DuplicateKeyId`] if two keys share an id.
    pub fn new(primary: EncryptionKey, previous: impl IntoIterator<Item = EncryptionKey>) -> Result<Self, KeyError> {
        let previous: Vec<EncryptionKey> = previous.into_iter().collect();
        for (index, key) in previous.iter().enumerate() {
            if key.id() == primary.id() || previous[..index].iter().any(|earlier| earlier.id() == key.id()) {
                return Err(KeyError::DuplicateKeyId { key_id: key.id().to_owned() });
            }
        }
        Ok(Self { primary, previous })
    }

    /// Builds the cipher from the values of `SECRETS_ENCRYPTION_KEY` (`primary`) and
    /// `SECRETS_ENCRYPTION_KEY_PREVIOUS` (`previous`). This crate never reads the environment
    /// itself; the process settings pass the values in.
    ///
    /// `previous` may hold one key or several separated by commas; `None`, an empty or
    /// whitespace-only value means no previous key.
    ///
    /// # Errors
    /// A [`KeyError`] naming the variable (and position) of the key that does not parse, or a
    /// duplicate key id.
    pub fn from_env_values(primary: &str, previous: Option<&str>) -> Result<Self, KeyError> {
        let primary = EncryptionKey::parse(primary).map_err(KeyError::Primary)?;
        let previous = match previous.map(str::trim).filter(|value| !value.is_empty()) {
            None => Vec::new(),
            Some(list) => list
                .split(',')
                .enumerate()
                .map(|(index, text)| {
                    EncryptionKey::parse(text).map_err(|error| KeyError::Previous { position: index + 1, error })
                })
                .collect::<Result<_, _>>()?,
        };
        Self::new(primary, previous)
    }

    /// A cipher over a fresh random key with id `ephemeral`, for DEV_MODE (in-memory storage):
    /// values it seals cannot be opened by another process.
    ///
    /// # Panics
    /// If the operating system's random number generator fails (it does not on supported
    /// platforms).
    #[must_use]
    pub fn ephemeral() -> Self {
        Self { primary: EncryptionKey::ephemeral(), previous: Vec::new() }
    }

    /// The id of the primary key, which every new seal uses.
    #[must_use]
    pub fn key_id(&self) -> &str {
        self.primary.id()
    }

    /// The ids of the previous keys, which only open.
    pub fn previous_key_ids(&self) -> impl Iterator<Item = &str> {
        self.previous.iter().map(EncryptionKey::id)
    }

    /// Whether a stored value should be re-sealed by the rotation job: true for the legacy raw
    /// format and for envelopes whose `key_id` is not the primary key's. Performs no decryption.
    #[must_use]
    pub fn needs_reseal(&self, sealed: &[u8]) -> bool {
        match envelope::parse_object(sealed) {
            Some(object) => object.get("key_id").and_then(serde_json::Value::as_str) != Some(self.key_id()),
            None => true,
        }
    }

    fn find_key(&self, key_id: &str) -> Option<&EncryptionKey> {
        std::iter::once(&self.primary).chain(&self.previous).find(|key| key.id() == key_id)
    }

    fn known_ids(&self) -> String {
        std::iter::once(self.key_id()).chain(self.previous_key_ids()).collect::<Vec<_>>().join(", ")
    }

    fn open_envelope(&self, object: &serde_json::Map<String, serde_json::Value>) -> Result<String, CipherError> {
        let version = object.get("version").ok_or_else(|| malformed("missing `version`"))?;
        if version.as_u64() != Some(u64::from(ENVELOPE_VERSION)) {
            return Err(CipherError(format!(
                "unsupported envelope version {version} (only {ENVELOPE_VERSION} is supported)"
            )));
        }
        let alg = envelope::string_field(object, "alg")?;
        if alg != ENVELOPE_ALG {
            return Err(CipherError(format!("unsupported algorithm {alg:?} (only {ENVELOPE_ALG:?} is supported)")));
        }
        let key_id = envelope::string_field(object, "key_id")?;
        let key = self.find_key(key_id).ok_or_else(|| {
            CipherError(format!(
                "sealed with unknown key id {key_id:?} (configured: {}); set it in {PREVIOUS_KEY_VAR} to open it",
                self.known_ids()
            ))
        })?;

        let dek_wrapped = envelope::base64_field(object, "dek_wrapped")?;
        if dek_wrapped.len() != NONCE_LEN + KEY_LEN + TAG_LEN {
            return Err(malformed(&format!(
                "`dek_wrapped` is {} bytes, expected {} (nonce, wrapped data key, tag)",
                dek_wrapped.len(),
                NONCE_LEN + KEY_LEN + TAG_LEN
            )));
        }
        let nonce = envelope::base64_field(object, "nonce")?;
        let nonce = nonce_from(&nonce)
            .ok_or_else(|| malformed(&format!("`nonce` is {} bytes, expected {NONCE_LEN}", nonce.len())))?;
        let ciphertext = envelope::base64_field(object, "ciphertext")?;
        if ciphertext.len() < TAG_LEN {
            return Err(malformed(&format!("`ciphertext` is {} bytes, shorter than the tag", ciphertext.len())));
        }

        let (wrap_nonce, wrapped_dek) = dek_wrapped.split_at(NONCE_LEN);
        let wrap_nonce = nonce_from(wrap_nonce).ok_or_else(|| malformed("bad `dek_wrapped` nonce"))?;
        let dek = Zeroizing::new(key.aead().decrypt(&wrap_nonce, wrapped_dek).map_err(|_| {
            CipherError(format!(
                "could not unwrap the data key with key {key_id:?}: authentication failed (wrong key or tampered `dek_wrapped`)"
            ))
        })?);
        let dek_cipher =
            Aes256Gcm::new_from_slice(&dek).map_err(|_| malformed("unwrapped data key has the wrong length"))?;
        let plaintext = dek_cipher.decrypt(&nonce, ciphertext.as_slice()).map_err(|_| {
            CipherError("could not decrypt the value: authentication failed (tampered `ciphertext` or `nonce`)".into())
        })?;
        utf8(plaintext)
    }

    fn open_legacy(&self, sealed: &[u8]) -> Result<String, CipherError> {
        if sealed.len() < NONCE_LEN + TAG_LEN {
            return Err(CipherError(format!(
                "sealed value is neither a JSON envelope nor a legacy raw value ({} bytes is too short)",
                sealed.len()
            )));
        }
        let (nonce, ciphertext) = sealed.split_at(NONCE_LEN);
        let nonce = nonce_from(nonce).ok_or_else(|| malformed("bad legacy nonce"))?;
        let plaintext = std::iter::once(&self.primary)
            .chain(&self.previous)
            .find_map(|key| key.aead().decrypt(&nonce, ciphertext).ok())
            .ok_or_else(|| {
                CipherError(format!(
                    "sealed value is not a JSON envelope, and as a legacy raw value (nonce || ciphertext || tag) it does not authenticate under any configured key ({}): wrong key or tampered data",
                    self.known_ids()
                ))
            })?;
        utf8(plaintext)
    }
}

impl SecretCipher for AesGcmSecretCipher {
    fn seal(&self, plaintext: &str) -> Result<Vec<u8>, CipherError> {
        let dek = Zeroizing::new(random::<KEY_LEN>()?);
        let data_nonce = Nonce::<Aes256Gcm>::from(random::<NONCE_LEN>()?);
        let wrap_nonce = Nonce::<Aes256Gcm>::from(random::<NONCE_LEN>()?);

        let dek_cipher = Aes256Gcm::new((&*dek).into());
        let ciphertext = dek_cipher
            .encrypt(&data_nonce, plaintext.as_bytes())
            .map_err(|_| CipherError("could not encrypt the value".into()))?;
        let wrapped = self
            .primary
            .aead()
            .encrypt(&wrap_nonce, dek.as_slice())
            .map_err(|_| CipherError("could not wrap the data key".into()))?;
        let mut dek_wrapped = Vec::with_capacity(NONCE_LEN + wrapped.len());
        dek_wrapped.extend_from_slice(&wrap_nonce);
        dek_wrapped.extend_from_slice(&wrapped);

        Envelope::new(self.key_id(), &dek_wrapped, &data_nonce, &ciphertext).to_bytes()
    }

    fn open(&self, sealed: &[u8]) -> Result<String, CipherError> {
        match envelope::parse_object(sealed) {
            Some(object) => self.open_envelope(&object),
            None => self.open_legacy(sealed),
        }
    }
}

impl fmt::Debug for AesGcmSecretCipher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AesGcmSecretCipher")
            .field("key_id", &self.key_id())
            .field("previous_key_ids", &self.previous_key_ids().collect::<Vec<_>>())
            .finish()
    }
}

fn random<const N: usize>() -> Result<[u8; N], CipherError> {
    <[u8; N]>::try_generate().map_err(|error| CipherError(format!("system random number generator failed: {error}")))
}

fn nonce_from(bytes: &[u8]) -> Option<Nonce<Aes256Gcm>> {
    <[u8; NONCE_LEN]>::try_from(bytes).ok().map(Nonce::<Aes256Gcm>::from)
}

fn malformed(detail: &str) -> CipherError {
    CipherError(format!("malformed envelope: {detail}"))
}

fn utf8(plaintext: Vec<u8>) -> Result<String, CipherError> {
    String::from_utf8(plaintext).map_err(|error| {
        drop(Zeroizing::new(error.into_bytes()));
        CipherError("decrypted value is not valid UTF-8".into())
    })
}
