//! The HTTP side of `web_fetch`: a reqwest client that resolves names under an outbound policy
//! ([`PolicyResolver`]) and follows no redirect by itself; [`open`] follows them here, judging
//! every hop's URL by the policy (scheme, credentials, literal addresses) and by the session's
//! network access list; [`read_body`] reads at most a given number of bytes.

use std::error::Error as _;
use std::net::IpAddr;
use std::time::Duration;

use everruns_core::domain::NetworkAccessList;
use everruns_core::report::error_chain;
use everruns_driver_common::outbound::{OutboundPolicy, PolicyResolver};
use reqwest::StatusCode;
use reqwest::header::{ACCEPT, LOCATION};
use url::Url;

use crate::access;

/// The most redirects one fetch follows.
pub const MAX_REDIRECTS: usize = 5;
/// The limit on establishing one connection.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// What the resolver's refusal says (see `everruns_driver_common::outbound`).
const RESOLVER_REFUSAL: &str = "an internal address this deployment does not reach";

/// Builds the client: names resolve under `policy` (the installed policy when `None`), no
/// redirect is followed by reqwest, no proxy from the environment.
pub fn build_client(policy: Option<OutboundPolicy>) -> Result<reqwest::Client, String> {
    let resolver = policy.map_or_else(PolicyResolver::default, PolicyResolver::fixed);
    reqwest::Client::builder()
        .dns_resolver(resolver)
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(CONNECT_TIMEOUT)
        .user_agent(format!("everruns-web-fetch/{}", env!("CARGO_PKG_VERSION")))
        .no_proxy()
        .build()
        .map_err(|e| format!("the web_fetch HTTP client could not be built: {}", error_chain(&e)))
}

/// Checks a URL before it is requested: its shape and literal address by `policy`, its host by
/// the session's list. Names are judged again, by what they resolve to, when they connect.
pub fn check_url(policy: OutboundPolicy, access: Option<&NetworkAccessList>, url: &str) -> Result<Url, String> {
    let parsed = policy.check_url(url).map_err(|why| {
        match Url::parse(url).ok().as_ref().and_then(literal_ip).filter(|ip| !policy.permits(*ip)) {
            Some(ip) => format!("refused: {ip} is {}, which this deployment does not reach", describe(ip)),
            None => format!("refused: the URL {why}"),
        }
    })?;
    access::check_host(access, parsed.host_str().unwrap_or_default())?;
    Ok(parsed)
}

/// Requests `url` with GET and follows up to [`MAX_REDIRECTS`] redirects, each checked like the
/// first URL. The response is the last one (its `url()` the final URL), whatever its status.
pub async fn open(
    client: &reqwest::Client,
    policy: OutboundPolicy,
    access: Option<&NetworkAccessList>,
    url: &str,
) -> Result<reqwest::Response, String> {
    let mut url = check_url(policy, access, url)?;
    for hop in 0..=MAX_REDIRECTS {
        let response = client
            .get(url.clone())
            .header(ACCEPT, "text/html,application/xhtml+xml,application/json;q=0.9,text/*;q=0.9,*/*;q=0.5")
            .send()
            .await
            .map_err(|e| transport_error(&e))?;
        let redirect = matches!(response.status().as_u16(), 301 | 302 | 303 | 307 | 308);
        let Some(location) = response.headers().get(LOCATION).filter(|_| redirect) else {
            return Ok(response);
        };
        if hop == MAX_REDIRECTS {
            return Err(format!("stopped after {MAX_REDIRECTS} redirects (the last one to {url})"));
        }
        let next = location
            .to_str()
            .ok()
            .and_then(|l| url.join(l.trim()).ok())
            .ok_or_else(|| format!("{url} redirected to an unusable location"))?;
        url = check_url(policy, access, next.as_str()).map_err(|why| format!("redirect to {next} {why}"))?;
    }
    Err(format!("stopped after {MAX_REDIRECTS} redirects"))
}

/// Reads at most `limit` bytes of the body; `true` when the body was longer (cut).
pub async fn read_body(response: &mut reqwest::Response, limit: usize) -> Result<(Vec<u8>, bool), String> {
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|e| transport_error(&e))? {
        let room = limit - body.len();
        if chunk.len() > room {
            body.extend_from_slice(&chunk[..room]);
            return Ok((body, true));
        }
        body.extend_from_slice(&chunk);
    }
    Ok((body, false))
}

/// A status as `404 Not Found`.
pub fn status_text(status: StatusCode) -> String {
    match status.canonical_reason() {
        Some(reason) => format!("{} {reason}", status.as_u16()),
        None => status.as_u16().to_string(),
    }
}

fn literal_ip(url: &Url) -> Option<IpAddr> {
    match url.host()? {
        url::Host::Ipv4(v4) => Some(IpAddr::V4(v4)),
        url::Host::Ipv6(v6) => Some(IpAddr::V6(v6)),
        url::Host::Domain(_) => None,
    }
}

/// What kind of internal address `ip` is, for a refusal.
fn describe(ip: IpAddr) -> &'static str {
    let ip = match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
        v4 => v4,
    };
    match ip {
        _ if ip.is_loopback() => "a loopback address",
        _ if ip.is_unspecified() => "an unspecified address",
        _ if ip.is_multicast() => "a multicast address",
        IpAddr::V4(v4) if v4.is_link_local() => "a link-local address (where cloud metadata services answer)",
        IpAddr::V4(v4) if v4.is_private() => "a private network address",
        IpAddr::V6(v6) if (v6.segments()[0] & 0xffc0) == 0xfe80 => "a link-local address",
        IpAddr::V6(v6) if (v6.segments()[0] & 0xfe00) == 0xfc00 => "a unique-local (private) address",
        _ => "a reserved or internal address",
    }
}

/// A transport failure as the model reads it; a name the resolver refused is a refusal.
fn transport_error(error: &reqwest::Error) -> String {
    let mut source: Option<&dyn std::error::Error> = error.source();
    while let Some(inner) = source {
        let text = inner.to_string();
        if text.contains(RESOLVER_REFUSAL) {
            return format!("refused: {text}");
        }
        source = inner.source();
    }
    let url = error.url().map(|u| format!(" {u}")).unwrap_or_default();
    if error.is_timeout() {
        format!("the request to{url} timed out")
    } else if error.is_connect() {
        format!("could not connect to{url}: {}", error_chain(error))
    } else {
        format!("the request to{url} failed: {}", error_chain(error))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_name_the_kind_of_address() {
        let strict = OutboundPolicy::STRICT;
        let refused = |url: &str| check_url(strict, None, url).unwrap_err();
        assert_eq!(
            refused("http://127.0.0.1:8080/"),
            "refused: 127.0.0.1 is a loopback address, which this deployment does not reach"
        );
        assert!(refused("http://169.254.169.254/latest").contains("link-local"));
        assert!(refused("http://10.0.0.1/").contains("private network"));
        assert!(refused("http://[::1]/").contains("loopback"));
        assert!(refused("http://2130706433/").contains("127.0.0.1 is a loopback"), "a decimal IPv4 host");
        assert!(refused("http://0x7f.1/").contains("127.0.0.1 is a loopback"), "a hex IPv4 host");
        assert!(refused("http://[::ffff:169.254.169.254]/").contains("link-local"), "an IPv4-mapped host");
        assert!(refused("http://[fd00:ec2::254]/").contains("unique-local"));
        assert!(refused("file:///etc/passwd").contains("must use http or https"));
        assert!(refused("https://user:pw@example.com/").contains("credentials"));
        assert!(check_url(strict, None, "https://example.com/a?b=c").is_ok());
    }

    #[test]
    fn statuses_read_well() {
        assert_eq!(status_text(StatusCode::NOT_FOUND), "404 Not Found");
        assert_eq!(status_text(StatusCode::from_u16(599).unwrap()), "599");
    }
}
