//! The session's network access list applied to a host. A pattern is a host name (`example.com`
//! matches that host only), a wildcard (`*.example.com` matches its subdomains at any depth, not
//! `example.com` itself; `*` matches every host) or an IP literal. Patterns are compared without
//! case, a trailing dot, a scheme, a port or a path, so `https://Example.com:443/x` means
//! `example.com`. A blocked match refuses; a non-empty allowed list must match.

use everruns_core::domain::NetworkAccessList;

/// Checks `host` against the list; the error says why it is refused.
pub fn check_host(list: Option<&NetworkAccessList>, host: &str) -> Result<(), String> {
    let Some(list) = list else { return Ok(()) };
    let host = normalize_host(host);
    if list.blocked.iter().any(|pattern| matches(pattern, &host)) {
        return Err(format!("refused: {host} is blocked by this session's network access list"));
    }
    if !list.allowed.is_empty() && !list.allowed.iter().any(|pattern| matches(pattern, &host)) {
        return Err(format!("refused: {host} is not among the hosts this session's network access list allows"));
    }
    Ok(())
}

/// Whether `pattern` matches `host`.
pub fn matches(pattern: &str, host: &str) -> bool {
    let pattern = normalize_pattern(pattern);
    let host = normalize_host(host);
    if pattern.is_empty() || host.is_empty() {
        return false;
    }
    if pattern == "*" {
        return true;
    }
    match pattern.strip_prefix("*.") {
        Some(domain) => host.strip_suffix(domain).is_some_and(|sub| sub.len() > 1 && sub.ends_with('.')),
        None => host == pattern,
    }
}

fn normalize_host(host: &str) -> String {
    let host = host.trim().trim_end_matches('.');
    let host = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')).unwrap_or(host);
    host.to_ascii_lowercase()
}

fn normalize_pattern(pattern: &str) -> String {
    let mut pattern = pattern.trim();
    if let Some((_, rest)) = pattern.split_once("://") {
        pattern = rest;
    }
    pattern = pattern.split(['/', '?', '#']).next().unwrap_or_default();
    if let Some(bracketed) = pattern.strip_prefix('[') {
        // An IPv6 literal, possibly with a port after the bracket.
        pattern = bracketed.split(']').next().unwrap_or_default();
    } else if pattern.matches(':').count() == 1 {
        pattern = pattern.split(':').next().unwrap_or_default();
    }
    normalize_host(pattern)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(allowed: &[&str], blocked: &[&str]) -> NetworkAccessList {
        NetworkAccessList {
            allowed: allowed.iter().map(|s| s.to_string()).collect(),
            blocked: blocked.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn patterns() {
        assert!(matches("example.com", "example.com"));
        assert!(matches("Example.COM.", "example.com"));
        assert!(!matches("example.com", "www.example.com"));
        assert!(matches("*.example.com", "www.example.com"));
        assert!(matches("*.example.com", "a.b.example.com"));
        assert!(!matches("*.example.com", "example.com"));
        assert!(!matches("*.example.com", "badexample.com"));
        assert!(matches("*", "anything.test"));
        assert!(matches("https://example.com:8443/path", "example.com"));
        assert!(matches("[::1]:8080", "[::1]"));
        assert!(matches("::1", "[::1]"));
        assert!(matches("10.0.0.1", "10.0.0.1"));
        assert!(!matches("", "example.com"));
    }

    #[test]
    fn blocked_wins_and_allowed_narrows() {
        assert!(check_host(None, "anything.test").is_ok());
        assert!(check_host(Some(&list(&[], &[])), "anything.test").is_ok());
        let l = list(&["*.example.com", "docs.rs"], &["evil.example.com"]);
        assert!(check_host(Some(&l), "www.example.com").is_ok());
        assert!(check_host(Some(&l), "docs.rs").is_ok());
        let blocked = check_host(Some(&l), "evil.example.com").unwrap_err();
        assert!(blocked.contains("blocked"), "{blocked}");
        let other = check_host(Some(&l), "crates.io").unwrap_err();
        assert!(other.contains("not among"), "{other}");
        assert!(check_host(Some(&list(&[], &["*"])), "x.test").is_err());
    }
}
