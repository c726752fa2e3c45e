//! Small text helpers of the file tools: the content hash `edit_file` is gated on, decoding of
//! written content, and how a path is shown to the model.

use base64::Engine;
use sha2::{Digest, Sha256};

/// The hash of a file's content: `sha256:` and the hex digest.
pub fn content_hash(content: &[u8]) -> String {
    let digest = Sha256::digest(content);
    let mut out = String::with_capacity(7 + 64);
    out.push_str("sha256:");
    for byte in digest {
        out.push_str(&format!("{byte:02x}"));
    }
    out
}

/// Written content as bytes, per its `encoding` (`text`, the default, or `base64`).
pub fn decode(content: &str, encoding: Option<&str>) -> Result<Vec<u8>, String> {
    match encoding.unwrap_or("text") {
        "text" => Ok(content.as_bytes().to_vec()),
        "base64" => base64::engine::general_purpose::STANDARD
            .decode(content.trim())
            .map_err(|e| format!("'content' is not valid base64 ({e})")),
        other => {
            Err(format!("'encoding' must be text or base64 (got '{}')", other.chars().take(20).collect::<String>()))
        }
    }
}

/// A stored path (relative to `/workspace`) as the model sees it.
pub fn display(path: &str) -> String {
    if path.is_empty() { "/workspace".into() } else { format!("/workspace/{path}") }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_are_stable_and_prefixed() {
        assert_eq!(content_hash(b"abc"), "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    }

    #[test]
    fn decodes_text_and_base64() {
        assert_eq!(decode("hi", None).unwrap_or_default(), b"hi");
        assert_eq!(decode("aGk=", Some("base64")).unwrap_or_default(), b"hi");
        assert!(decode("***", Some("base64")).is_err());
        assert!(decode("x", Some("rot13")).is_err());
    }
}
