//! The outbound URL policy: where the process may send requests a user's settings point at (a
//! provider's `base_url`, later any fetch). Only `http` and `https`; no loopback, private,
//! link-local (the cloud metadata endpoints among them), CGNAT, unspecified or multicast address —
//! judged on every resolved address, for literal IPs too, and again on every redirect — unless the
//! deployment allows them (`OUTBOUND_ALLOW_LOOPBACK`, on by default in DEV_MODE so local model
//! servers work; `OUTBOUND_ALLOW_PRIVATE_NETWORKS`).
//!
//! The process installs its policy once at startup ([`install`]); the shared HTTP client resolves
//! names through [`PolicyResolver`] and follows redirects only to permitted hosts. A library user
//! that installs nothing keeps the permissive default.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::OnceLock;

/// What outbound requests may reach.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutboundPolicy {
    /// Loopback addresses (127.0.0.0/8, ::1).
    pub allow_loopback: bool,
    /// Private, link-local, CGNAT and unique-local addresses.
    pub allow_private: bool,
}

impl OutboundPolicy {
    /// Public internet only.
    pub const STRICT: Self = Self { allow_loopback: false, allow_private: false };
    /// Anything (the default when no policy is installed).
    pub const OPEN: Self = Self { allow_loopback: true, allow_private: true };

    /// Whether `ip` may be reached.
    pub fn permits(&self, ip: IpAddr) -> bool {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
            v4 => v4,
        };
        if ip.is_unspecified() || ip.is_multicast() {
            return false;
        }
        if ip.is_loopback() {
            return self.allow_loopback;
        }
        match ip {
            IpAddr::V4(v4) => self.allow_private || !private_v4(v4),
            IpAddr::V6(v6) => self.allow_private || !private_v6(v6),
        }
    }

    /// Checks a URL's shape (`http`/`https`, a host, nothing odd) and, when its host is an IP
    /// literal, that address. Names are judged when they resolve ([`Self::check_resolved`]).
    pub fn check_url(&self, url: &str) -> Result<url::Url, String> {
        if url.chars().any(char::is_control) {
            return Err("must not contain control characters".into());
        }
        let parsed = url::Url::parse(url).map_err(|e| format!("is not a URL ({e})"))?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(format!("must use http or https (got {})", parsed.scheme()));
        }
        if !parsed.username().is_empty() || parsed.password().is_some() {
            return Err("must not carry credentials".into());
        }
        match parsed.host() {
            None => return Err("must name a host".into()),
            Some(url::Host::Ipv4(v4)) => self.check_ip(IpAddr::V4(v4))?,
            Some(url::Host::Ipv6(v6)) => self.check_ip(IpAddr::V6(v6))?,
            Some(url::Host::Domain(_)) => {}
        }
        Ok(parsed)
    }

    /// [`Self::check_url`], then every address the host resolves to.
    pub async fn check_resolved(&self, url: &str) -> Result<(), String> {
        let parsed = self.check_url(url)?;
        if let Some(url::Host::Domain(host)) = parsed.host() {
            let port = parsed.port_or_known_default().unwrap_or(443);
            let addrs = tokio::net::lookup_host((host, port)).await.map_err(|e| format!("does not resolve ({e})"))?;
            for addr in addrs {
                self.check_ip(addr.ip())?;
            }
        }
        Ok(())
    }

    fn check_ip(&self, ip: IpAddr) -> Result<(), String> {
        if self.permits(ip) {
            Ok(())
        } else {
            Err(format!("points at {ip}, an internal address this deployment does not reach"))
        }
    }
}

fn private_v4(ip: Ipv4Addr) -> bool {
    let [a, b, ..] = ip.octets();
    ip.is_private()
        || ip.is_link_local()
        || ip.is_broadcast()
        || ip.is_documentation()
        || a == 0
        || (a == 100 && (64..128).contains(&b)) // CGNAT
        || (a == 192 && b == 0 && ip.octets()[2] == 0) // IETF protocol assignments
        || (a == 198 && (18..20).contains(&b)) // benchmarking
        || a >= 240
}

fn private_v6(ip: Ipv6Addr) -> bool {
    let first = ip.segments()[0];
    (first & 0xfe00) == 0xfc00 // unique local (fd00:ec2::254, the EC2 metadata service, among them)
        || (first & 0xffc0) == 0xfe80 // link local
        || first == 0x2001 && ip.segments()[1] == 0x0db8 // documentation
}

static POLICY: OnceLock<OutboundPolicy> = OnceLock::new();

/// Installs the process's policy (the first call wins; startup calls it once).
pub fn install(policy: OutboundPolicy) {
    let _ = POLICY.set(policy);
}

/// The installed policy ([`OutboundPolicy::OPEN`] when none was installed).
pub fn current() -> OutboundPolicy {
    POLICY.get().copied().unwrap_or(OutboundPolicy::OPEN)
}

/// Reads the policy from the environment's variables: `OUTBOUND_ALLOW_LOOPBACK` (default: on in
/// DEV_MODE) and `OUTBOUND_ALLOW_PRIVATE_NETWORKS` (default off).
pub fn from_lookup(dev_mode: bool, lookup: impl Fn(&str) -> Option<String>) -> OutboundPolicy {
    let flag = |name: &str, default: bool| {
        lookup(name).map_or(default, |v| matches!(v.trim().to_ascii_lowercase().as_str(), "true" | "1" | "yes"))
    };
    OutboundPolicy {
        allow_loopback: flag("OUTBOUND_ALLOW_LOOPBACK", dev_mode),
        allow_private: flag("OUTBOUND_ALLOW_PRIVATE_NETWORKS", false),
    }
}

/// A DNS resolver that refuses names resolving to an address a policy forbids: the installed
/// policy, read at each lookup (`PolicyResolver::default()`), or one fixed at construction
/// ([`PolicyResolver::fixed`]).
#[derive(Debug, Clone, Copy, Default)]
pub struct PolicyResolver {
    fixed: Option<OutboundPolicy>,
}

impl PolicyResolver {
    /// A resolver judging by `policy` whatever the process installed: for a client whose policy
    /// is its own (a tool given a policy, a test reaching its loopback server).
    pub fn fixed(policy: OutboundPolicy) -> Self {
        Self { fixed: Some(policy) }
    }
}

impl reqwest::dns::Resolve for PolicyResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let host = name.as_str().to_owned();
        let fixed = self.fixed;
        Box::pin(async move {
            let policy = fixed.unwrap_or_else(current);
            let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            if let Some(denied) = addrs.iter().find(|a| !policy.permits(a.ip())) {
                return Err(format!(
                    "{host} resolves to {}, an internal address this deployment does not reach",
                    denied.ip()
                )
                .into());
            }
            Ok(Box::new(addrs.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

/// The redirect policy of the shared client: at most 5 hops, each to a URL the policy permits
/// (names are judged again when they resolve).
pub fn redirect_policy() -> reqwest::redirect::Policy {
    reqwest::redirect::Policy::custom(|attempt| {
        if attempt.previous().len() >= 5 {
            return attempt.error("too many redirects");
        }
        match current().check_url(attempt.url().as_str()) {
            Ok(_) => attempt.follow(),
            Err(why) => attempt.error(format!("redirect refused: {why}")),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strict_refuses_internal_addresses() {
        let strict = OutboundPolicy::STRICT;
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "::1",
            "fd00:ec2::254",
            "fe80::1",
            "::ffff:127.0.0.1",
            "224.0.0.1",
        ] {
            assert!(!strict.permits(ip.parse().unwrap()), "{ip}");
        }
        for ip in ["8.8.8.8", "1.1.1.1", "2606:4700:4700::1111"] {
            assert!(strict.permits(ip.parse().unwrap()), "{ip}");
        }
        let dev = OutboundPolicy { allow_loopback: true, allow_private: false };
        assert!(dev.permits("127.0.0.1".parse().unwrap()) && !dev.permits("169.254.169.254".parse().unwrap()));
    }

    #[test]
    fn urls_must_be_http_with_a_permitted_host() {
        let strict = OutboundPolicy::STRICT;
        assert!(strict.check_url("https://api.openai.com/v1").is_ok());
        for bad in [
            "file:///etc/passwd",
            "not a url\u{0}",
            "http://127.0.0.1:9000/v1/agents?x=",
            "http://127.0.0.1:1/",
            "http://169.254.169.254/latest/meta-data",
            "http://user:pw@example.com/",
            "ftp://example.com/",
            "http://[::1]/",
        ] {
            assert!(strict.check_url(bad).is_err(), "{bad}");
        }
        let dev = OutboundPolicy { allow_loopback: true, allow_private: false };
        assert!(dev.check_url("http://127.0.0.1:11434/v1").is_ok(), "a local model server in DEV_MODE");
    }

    #[tokio::test]
    async fn names_are_judged_by_what_they_resolve_to() {
        let strict = OutboundPolicy::STRICT;
        let err = strict.check_resolved("http://localhost:8080/v1").await.unwrap_err();
        assert!(err.contains("internal address"), "{err}");
        assert!(OutboundPolicy::OPEN.check_resolved("http://localhost:8080/v1").await.is_ok());
    }

    #[tokio::test]
    async fn a_fixed_resolver_judges_by_its_own_policy() {
        use reqwest::dns::Resolve;
        let name = || "localhost".parse::<reqwest::dns::Name>().unwrap();
        let Err(err) = PolicyResolver::fixed(OutboundPolicy::STRICT).resolve(name()).await else {
            panic!("a strict resolver must refuse localhost");
        };
        assert!(err.to_string().contains("internal address"), "{err}");
        let addrs = PolicyResolver::fixed(OutboundPolicy::OPEN).resolve(name()).await.unwrap();
        assert!(addrs.into_iter().all(|a| a.ip().is_loopback()));
    }

    #[test]
    fn variables() {
        let none = |_: &str| None;
        assert_eq!(from_lookup(true, none), OutboundPolicy { allow_loopback: true, allow_private: false });
        assert_eq!(from_lookup(false, none), OutboundPolicy::STRICT);
        let private = |n: &str| (n == "OUTBOUND_ALLOW_PRIVATE_NETWORKS").then(|| "true".to_owned());
        assert!(from_lookup(false, private).allow_private);
    }
}
