//! # everruns-ui
//!
//! The management UI (`ui/` in the workspace), embedded: the build script builds it with npm and
//! [`asset`] answers its files. The HTTP adapter serves them at `/` on the same origin as `/api`.

include!(concat!(env!("OUT_DIR"), "/assets.rs"));

/// One embedded file.
#[derive(Debug, Clone, Copy)]
pub struct Asset {
    /// Its `Content-Type`.
    pub content_type: &'static str,
    /// Its bytes.
    pub bytes: &'static [u8],
    /// Whether its name carries a content hash (`/assets/…`): cacheable for ever.
    pub immutable: bool,
}

/// The file at `path` (`/` is `/index.html`).
pub fn asset(path: &str) -> Option<Asset> {
    let path = if path == "/" { "/index.html" } else { path };
    ASSETS.iter().find(|(p, _, _)| *p == path).map(|(p, content_type, bytes)| Asset {
        content_type,
        bytes,
        immutable: p.starts_with("/assets/"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_index_and_its_bundles_are_embedded() {
        let index = asset("/").expect("index.html");
        assert!(index.content_type.starts_with("text/html"));
        assert!(!index.immutable);
        let html = std::str::from_utf8(index.bytes).expect("utf-8");
        let script = html.split("src=\"").nth(1).and_then(|s| s.split('"').next()).expect("a script tag");
        let bundle = asset(script).expect("the script the page loads is embedded");
        assert!(bundle.immutable && bundle.content_type.starts_with("text/javascript"));
        assert!(asset("/nope.js").is_none());
    }
}
