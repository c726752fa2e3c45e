//! Content types and body text: which responses `web_fetch` reads ([`kind`]) and how their
//! bytes become a string ([`decode`]: UTF-8 unless the `charset` names a Latin-1 family
//! encoding; a character cut by truncation is dropped, invalid bytes replaced).

/// How `web_fetch` treats a response body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// HTML (or XHTML): reduced to text.
    Html,
    /// Text, JSON or XML: passed through.
    Text,
    /// Anything else (images, archives, PDFs): not read.
    Other,
}

/// The kind of a `Content-Type` (a missing one is taken as text).
pub fn kind(content_type: Option<&str>) -> Kind {
    let Some(content_type) = content_type else { return Kind::Text };
    let essence = content_type.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
    if essence.is_empty() {
        Kind::Text
    } else if essence.contains("html") {
        Kind::Html
    } else if essence.starts_with("text/")
        || essence.contains("json")
        || essence.contains("xml")
        || essence.contains("javascript")
        || essence.contains("yaml")
        || essence == "application/x-www-form-urlencoded"
    {
        Kind::Text
    } else {
        Kind::Other
    }
}

/// The body as text under the `charset` of `content_type`.
pub fn decode(body: &[u8], content_type: Option<&str>) -> String {
    let charset = content_type
        .and_then(|ct| ct.split(';').skip(1).find_map(|p| p.trim().strip_prefix("charset=").map(str::to_owned)))
        .map(|c| c.trim_matches(['"', '\'']).to_ascii_lowercase());
    if charset.as_deref().is_some_and(|c| matches!(c, "iso-8859-1" | "latin1" | "windows-1252" | "us-ascii")) {
        return body.iter().map(|&b| char::from(b)).collect();
    }
    let body = body.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(body);
    match std::str::from_utf8(body) {
        Ok(text) => text.to_owned(),
        // Only a character cut at the end: drop it.
        Err(e) if e.error_len().is_none() => String::from_utf8_lossy(&body[..e.valid_up_to()]).into_owned(),
        Err(_) => String::from_utf8_lossy(body).into_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds() {
        assert_eq!(kind(Some("text/html; charset=utf-8")), Kind::Html);
        assert_eq!(kind(Some("application/xhtml+xml")), Kind::Html);
        assert_eq!(kind(Some("application/json")), Kind::Text);
        assert_eq!(kind(Some("application/problem+json")), Kind::Text);
        assert_eq!(kind(Some("application/rss+xml")), Kind::Text);
        assert_eq!(kind(Some("text/plain")), Kind::Text);
        assert_eq!(kind(None), Kind::Text);
        assert_eq!(kind(Some("image/png")), Kind::Other);
        assert_eq!(kind(Some("application/octet-stream")), Kind::Other);
        assert_eq!(kind(Some("application/pdf")), Kind::Other);
    }

    #[test]
    fn decoding() {
        assert_eq!(decode("héllo".as_bytes(), None), "héllo");
        assert_eq!(decode(&"héllo".as_bytes()[..2], Some("text/plain")), "h", "a cut character is dropped");
        assert_eq!(decode(b"caf\xe9", Some("text/plain; charset=ISO-8859-1")), "café");
        assert_eq!(decode(b"\xEF\xBB\xBFbom", None), "bom");
        assert_eq!(decode(b"a\xffb", None), "a\u{fffd}b");
    }
}
