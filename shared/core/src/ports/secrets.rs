//! The secret cipher port: seals provider keys before they are stored and opens them when a
//! model is resolved. Implementations use authenticated encryption; plaintext is never stored.

/// A seal or open failure.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("secret cipher: {0}")]
pub struct CipherError(pub String);

/// Seals and opens secrets.
pub trait SecretCipher: Send + Sync {
    /// Encrypts a secret into an opaque, self-describing blob.
    fn seal(&self, plaintext: &str) -> Result<Vec<u8>, CipherError>;
    /// Decrypts a blob produced by `seal` (with this or a previous key).
    fn open(&self, sealed: &[u8]) -> Result<String, CipherError>;
}
