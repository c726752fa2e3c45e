//! Validation at the edge of what the API stores: short texts without control characters, locales
//! shaped like BCP 47 tags, bounded tag lists, and initial files whose paths stay under
//! `/workspace` and whose content decodes. Every refusal is a 400 naming the field.

use base64::Engine;
use everruns_core::domain::InitialFile;

use crate::error::{ServiceError, ServiceResult};

/// The most tags an agent or a session carries.
pub const MAX_TAGS: usize = 50;
/// The longest tag.
pub const MAX_TAG_CHARS: usize = 64;
/// The most initial files a layer carries.
pub const MAX_INITIAL_FILES: usize = 100;
/// The largest initial file, decoded.
pub const MAX_INITIAL_FILE_BYTES: usize = 1024 * 1024;

fn bad(field: &str, what: impl std::fmt::Display) -> ServiceError {
    ServiceError::bad_request(format!("{field} {what}"))
}

/// A single-line text: at most `max` characters, no control characters.
pub fn line(field: &str, value: &str, max: usize) -> ServiceResult<()> {
    if value.chars().count() > max {
        return Err(bad(field, format_args!("must be at most {max} characters")));
    }
    if value.chars().any(char::is_control) {
        return Err(bad(field, "must not contain control characters"));
    }
    Ok(())
}

/// A multi-line text: at most `max` characters, no control characters but newlines and tabs.
pub fn text(field: &str, value: &str, max: usize) -> ServiceResult<()> {
    if value.chars().count() > max {
        return Err(bad(field, format_args!("must be at most {max} characters")));
    }
    if value.chars().any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t')) {
        return Err(bad(field, "must not contain control characters other than line breaks and tabs"));
    }
    Ok(())
}

/// A BCP 47 language tag in its common shape: a 2–3 letter language, then subtags of 1–8
/// letters or digits (`en`, `en-US`, `zh-Hant-TW`, `es-419`).
pub fn locale(field: &str, value: &str) -> ServiceResult<()> {
    let mut parts = value.split('-');
    let language = parts.next().unwrap_or_default();
    let language_ok = (2..=3).contains(&language.len()) && language.chars().all(|c| c.is_ascii_alphabetic());
    let rest_ok = parts.all(|p| (1..=8).contains(&p.len()) && p.chars().all(|c| c.is_ascii_alphanumeric()));
    if value.len() > 35 || !language_ok || !rest_ok {
        return Err(bad(
            field,
            format_args!("must be a BCP 47 language tag such as en or en-US (got '{}')", preview(value)),
        ));
    }
    Ok(())
}

/// Tags: at most [`MAX_TAGS`], each a non-empty line of at most [`MAX_TAG_CHARS`] characters.
pub fn tags(field: &str, values: &[String]) -> ServiceResult<()> {
    if values.len() > MAX_TAGS {
        return Err(bad(field, format_args!("must hold at most {MAX_TAGS} tags (got {})", values.len())));
    }
    for tag in values {
        if tag.trim().is_empty() {
            return Err(bad(field, "must not hold empty tags"));
        }
        line(field, tag, MAX_TAG_CHARS)?;
    }
    Ok(())
}

/// Initial files: bounded, each path normalized under `/workspace` with no traversal, each
/// content in a known encoding that decodes within the size limit, no path twice.
pub fn initial_files(field: &str, files: &[InitialFile]) -> ServiceResult<()> {
    if files.len() > MAX_INITIAL_FILES {
        return Err(bad(field, format_args!("must hold at most {MAX_INITIAL_FILES} files (got {})", files.len())));
    }
    let mut seen = std::collections::HashSet::new();
    for (i, file) in files.iter().enumerate() {
        let at = format!("{field}[{i}]");
        if file.path.chars().any(char::is_control) || file.path.len() > 1024 {
            return Err(bad(
                &format!("{at}.path"),
                "must be a path of at most 1024 characters without control characters",
            ));
        }
        let normalized = everruns_core::ports::normalize_file_path(&file.path)
            .map_err(|e| bad(&format!("{at}.path"), format_args!("is not a path under /workspace: {e}")))?;
        if !seen.insert(normalized) {
            return Err(bad(&format!("{at}.path"), format_args!("'{}' is given twice", preview(&file.path))));
        }
        let size = match file.encoding.as_deref().unwrap_or("text") {
            "text" | "utf-8" | "utf8" => file.content.len(),
            "base64" => base64::engine::general_purpose::STANDARD
                .decode(file.content.trim())
                .map_err(|_| bad(&format!("{at}.content"), "is not valid base64"))?
                .len(),
            other => {
                return Err(bad(
                    &format!("{at}.encoding"),
                    format_args!("must be text or base64 (got '{}')", preview(other)),
                ));
            }
        };
        if size > MAX_INITIAL_FILE_BYTES {
            return Err(bad(&format!("{at}.content"), format_args!("exceeds {MAX_INITIAL_FILE_BYTES} bytes")));
        }
    }
    Ok(())
}

fn preview(value: &str) -> String {
    value.chars().filter(|c| !c.is_control()).take(40).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(path: &str, content: &str, encoding: Option<&str>) -> InitialFile {
        InitialFile {
            path: path.into(),
            content: content.into(),
            encoding: encoding.map(Into::into),
            is_readonly: false,
        }
    }

    #[test]
    fn texts_locales_and_tags() {
        assert!(line("title", "A fine title", 500).is_ok());
        assert!(line("title", "nul\0inside", 500).is_err());
        assert!(line("title", &"x".repeat(501), 500).is_err());
        assert!(text("system_prompt", "line one\nline two\ttab", 1000).is_ok());
        assert!(text("system_prompt", "bell\u{7}", 1000).is_err());
        for ok in ["en", "en-US", "zh-Hant-TW", "es-419", "fil"] {
            assert!(locale("locale", ok).is_ok(), "{ok}");
        }
        for bad in ["not a locale !!!", "e", "english", "en_US", "en--US", ""] {
            assert!(locale("locale", bad).is_err(), "{bad}");
        }
        assert!(tags("tags", &["a".into(), "b".into()]).is_ok());
        assert!(tags("tags", &vec!["t".to_owned(); 10_000]).is_err());
        assert!(tags("tags", &["".into()]).is_err());
    }

    #[test]
    fn initial_files_stay_under_the_workspace_and_decode() {
        assert!(
            initial_files(
                "initial_files",
                &[file("/workspace/README.md", "# hi", None), file("src/app.py", "print(1)", Some("text"))]
            )
            .is_ok()
        );
        assert!(initial_files("initial_files", &[file("a.bin", "aGVsbG8=", Some("base64"))]).is_ok());
        for (path, content, encoding) in [
            ("../../etc/passwd", "x", None),
            ("/workspace/../etc/passwd", "x", None),
            ("a.txt", "x", Some("rot13")),
            ("a.bin", "not base64!!", Some("base64")),
            ("", "x", None),
        ] {
            let err = initial_files("initial_files", &[file(path, content, encoding)]).unwrap_err().to_string();
            assert!(err.contains("initial_files[0]"), "{err}");
        }
        let twice = [file("a.txt", "1", None), file("/workspace/a.txt", "2", None)];
        assert!(initial_files("initial_files", &twice).is_err());
    }
}
