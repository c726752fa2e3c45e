//! Everruns secret encryption: [`AesGcmSecretCipher`], the AES-256-GCM envelope-encryption
//! adapter of the [`SecretCipher`] port, which seals provider credentials before they are stored
//! and opens them when a model is resolved (contract §6.3).
//!
//! # Layout
//! * [`key`] — parsing `<key_id>:<base64 of 32 bytes>` into an [`EncryptionKey`], with typed,
//!   secret-free [`KeyFormatError`]s.
//! * [`cipher`] — [`AesGcmSecretCipher`]: a primary key that seals, previous keys that only open
//!   (rotation), legacy raw-format support, and the [`SecretCipher`] implementation.
//! * [`envelope`] — the stored JSON envelope format.
//! * [`api_key`] — API key secrets: generation, SHA-256 digests, display prefixes.
//!
//! # Configuration
//! The control plane passes the values of `SECRETS_ENCRYPTION_KEY` and the optional
//! `SECRETS_ENCRYPTION_KEY_PREVIOUS` to [`AesGcmSecretCipher::from_env_values`]; DEV_MODE can use
//! [`AesGcmSecretCipher::ephemeral`]. Generate a key with
//! `python3 -c "import os, base64; print('kek-v1:' + base64.b64encode(os.urandom(32)).decode())"`.
//!
//! Plaintext and key bytes never appear in errors or `Debug` output.
//!
//! ```
//! use everruns_secrets::{AesGcmSecretCipher, SecretCipher};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let old = "kek-v1:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
//! let new = "kek-v2:H4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4c=";
//! let sealed = AesGcmSecretCipher::from_env_values(old, None)?.seal("sk-ant-123")?;
//!
//! // Rotation: the new key seals, the old one still opens.
//! let cipher = AesGcmSecretCipher::from_env_values(new, Some(old))?;
//! assert_eq!(cipher.open(&sealed)?, "sk-ant-123");
//! assert!(cipher.needs_reseal(&sealed));
//! # Ok(())
//! # }
//! ```

pub mod api_key;
pub mod cipher;
pub mod envelope;
pub mod key;

pub use cipher::{AesGcmSecretCipher, KeyError, PREVIOUS_KEY_VAR, PRIMARY_KEY_VAR};
pub use envelope::{ENVELOPE_ALG, ENVELOPE_VERSION};
pub use everruns_core::ports::{CipherError, SecretCipher};
pub use key::{EPHEMERAL_KEY_ID, EncryptionKey, KEY_LEN, KeyFormatError};
