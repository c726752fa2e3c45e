//! API key secrets (`AUTH_MODE=api_key`): generation from the system random number generator,
//! the SHA-256 [`KeyDigest`] that stores keep instead of the secret, and the display prefix.
//!
//! A secret is `evr_` followed by 64 lowercase hex characters (256 random bits). Digests are
//! compared by exact lookup, so the secret itself is never kept or compared in memory longer
//! than one request.

use aes_gcm::aead::Generate;
use everruns_core::domain::KeyDigest;
use everruns_core::ports::CipherError;
use sha2::{Digest, Sha256};

/// The prefix of every generic API key.
pub const API_KEY_PREFIX: &str = "evr_";

/// How many characters of a secret are kept for display (`evr_` and 8 hex characters).
pub const DISPLAY_PREFIX_LEN: usize = 12;

/// A freshly generated key: the secret (shown once) and what is stored.
pub struct GeneratedKey {
    /// The secret to hand to the caller, once.
    pub secret: String,
    /// Its digest.
    pub digest: KeyDigest,
    /// Its display prefix.
    pub prefix: String,
}

impl std::fmt::Debug for GeneratedKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GeneratedKey").field("prefix", &self.prefix).finish_non_exhaustive()
    }
}

/// Generates a new secret.
pub fn generate() -> Result<GeneratedKey, CipherError> {
    generate_with_prefix(API_KEY_PREFIX)
}

/// Generates a secret of the same strength under another prefix (OAuth codes and tokens:
/// `evr_ac_`, `evr_at_`, `evr_rt_`; client secrets `evr_cs_`).
pub fn generate_with_prefix(prefix: &str) -> Result<GeneratedKey, CipherError> {
    let bytes = <[u8; 32]>::try_generate()
        .map_err(|error| CipherError(format!("system random number generator failed: {error}")))?;
    let mut secret = String::with_capacity(prefix.len() + 64);
    secret.push_str(prefix);
    for byte in bytes {
        secret.push_str(&format!("{byte:02x}"));
    }
    Ok(GeneratedKey { digest: digest(&secret), prefix: display_prefix(&secret), secret })
}

/// The SHA-256 digest of a secret.
pub fn digest(secret: &str) -> KeyDigest {
    KeyDigest(Sha256::digest(secret.as_bytes()).into())
}

/// The first [`DISPLAY_PREFIX_LEN`] characters of a secret.
pub fn display_prefix(secret: &str) -> String {
    secret.chars().take(DISPLAY_PREFIX_LEN).collect()
}

/// Whether `text` has the shape of an API key: `evr_` and at least 32 more characters, all
/// ASCII alphanumerics or `_`/`-`.
pub fn is_well_formed(text: &str) -> bool {
    text.strip_prefix(API_KEY_PREFIX).is_some_and(|rest| {
        rest.len() >= 32 && rest.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_keys_are_unique_well_formed_and_digested() {
        let a = generate().unwrap();
        let b = generate().unwrap();
        assert_ne!(a.secret, b.secret);
        assert!(a.secret.starts_with("evr_") && a.secret.len() == 68, "{}", a.secret.len());
        assert!(is_well_formed(&a.secret));
        assert_eq!(a.digest, digest(&a.secret));
        assert_ne!(a.digest, b.digest);
        assert_eq!(a.prefix, a.secret[..12]);
        assert!(!format!("{a:?}").contains(&a.secret));
    }

    #[test]
    fn digest_is_sha256() {
        // SHA-256("abc"), FIPS 180-2 test vector.
        let d = digest("abc");
        let hex: String = d.0.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    }

    #[test]
    fn malformed_keys_are_recognised() {
        for bad in
            ["", "evr_", "evr_short", "sk-0123456789abcdef0123456789abcdef", "evr_0123456789abcdef0123456789abcde\n"]
        {
            assert!(!is_well_formed(bad), "{bad:?}");
        }
    }
}
