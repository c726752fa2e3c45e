//! `WebFetchCapability`: the `web_fetch` tool (a URL as readable text: HTML reduced, JSON and
//! other text as is) and, with `"enable_file_download": true` in the per-layer config,
//! `save_to_file` (a download into the session workspace). Per-layer config: `max_bytes` raises
//! or lowers the body cap (default 1 MiB, at most 5 MiB); the tool's `max_bytes` argument can only
//! lower it further.

use std::time::Duration;

use everruns_core::capabilities::{Capability, CapabilityInfo, ToolContext, ToolOutcome};
use everruns_core::domain::ToolDefinition;
use everruns_core::ports::{MAX_FILE_BYTES, SessionFile, normalize_file_path};
use everruns_core::time::Timestamp;
use everruns_driver_common::outbound::{self, OutboundPolicy};
use reqwest::header::CONTENT_TYPE;
use serde_json::{Value, json};

use crate::fetch::{self, status_text};
use crate::text::{self, Kind};

/// The capability id.
pub const WEB_FETCH_CAPABILITY: &str = "web_fetch";
/// The fetch tool.
pub const WEB_FETCH: &str = "web_fetch";
/// The download tool (only with `enable_file_download`).
pub const SAVE_TO_FILE: &str = "save_to_file";
/// The total time one tool call may take, redirects and body included.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(20);
/// The body cap of `web_fetch` when nothing lowers or raises it.
pub const DEFAULT_MAX_BYTES: usize = 1024 * 1024;
/// The largest body cap `web_fetch` accepts.
pub const HARD_MAX_BYTES: usize = 5 * 1024 * 1024;

/// The `web_fetch` capability. Requests go out under an outbound policy: the installed one
/// ([`WebFetchCapability::new`]) or a given one ([`WebFetchCapability::with_policy`]).
#[derive(Debug, Clone)]
pub struct WebFetchCapability {
    client: Result<reqwest::Client, String>,
    policy: Option<OutboundPolicy>,
    timeout: Duration,
}

impl Default for WebFetchCapability {
    fn default() -> Self {
        Self::new()
    }
}

impl WebFetchCapability {
    /// Fetches under the process's installed policy (read at each call).
    pub fn new() -> Self {
        Self { client: fetch::build_client(None), policy: None, timeout: DEFAULT_TIMEOUT }
    }

    /// Fetches under `policy`, whatever the process installed (tests reaching a loopback server).
    pub fn with_policy(policy: OutboundPolicy) -> Self {
        Self { client: fetch::build_client(Some(policy)), policy: Some(policy), timeout: DEFAULT_TIMEOUT }
    }

    /// Sets the total time one call may take (default [`DEFAULT_TIMEOUT`]).
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The policy requests go out under now.
    pub fn policy(&self) -> OutboundPolicy {
        self.policy.unwrap_or_else(outbound::current)
    }

    async fn web_fetch(&self, arguments: &Value, config: &Value, ctx: &ToolContext<'_>) -> ToolOutcome {
        let url = string_argument(arguments, "url")?;
        let cap = match config.get("max_bytes").and_then(Value::as_u64) {
            Some(n) if n > 0 => usize::try_from(n).unwrap_or(HARD_MAX_BYTES).min(HARD_MAX_BYTES),
            _ => DEFAULT_MAX_BYTES,
        };
        let limit = match arguments.get("max_bytes") {
            None | Some(Value::Null) => cap,
            Some(value) => match value.as_u64() {
                Some(n) if n > 0 => usize::try_from(n).unwrap_or(cap).min(cap),
                _ => return Err("max_bytes must be a positive integer".into()),
            },
        };
        let client = self.client.as_ref().map_err(Clone::clone)?;
        let work = async {
            let mut response = fetch::open(client, self.policy(), ctx.network_access, url).await?;
            let content_type = header_text(&response, CONTENT_TYPE);
            let kind = text::kind(content_type.as_deref());
            let status = response.status();
            let (body, truncated) = match kind {
                Kind::Other if status.is_success() => {
                    return Err(format!(
                        "{} is {}, not text: web_fetch reads HTML, text, JSON and XML{}",
                        response.url(),
                        content_type.as_deref().unwrap_or("binary"),
                        if download_enabled(config) { " (save_to_file downloads any file)" } else { "" }
                    ));
                }
                Kind::Other => (Vec::new(), false),
                _ => fetch::read_body(&mut response, limit).await?,
            };
            Ok((response.url().clone(), status, content_type, kind, body, truncated))
        };
        let (final_url, status, content_type, kind, body, truncated) = self.within_timeout(work).await?;
        let text = text::decode(&body, content_type.as_deref());
        let (title, content) = match kind {
            Kind::Html => {
                let reduced = crate::html::reduce(&text, Some(&final_url));
                (reduced.title, reduced.text)
            }
            Kind::Text | Kind::Other => (None, text),
        };
        let mut result = json!({
            "url": final_url.as_str(),
            "status": status.as_u16(),
            "content_type": content_type,
            "content": content,
            "truncated": truncated,
        });
        if let Some(title) = title {
            result["title"] = Value::String(title);
        }
        Ok(result)
    }

    async fn save_to_file(&self, arguments: &Value, ctx: &ToolContext<'_>) -> ToolOutcome {
        let url = string_argument(arguments, "url")?;
        let path = normalize_file_path(string_argument(arguments, "path")?).map_err(|e| e.to_string())?;
        let client = self.client.as_ref().map_err(Clone::clone)?;
        let work = async {
            let mut response = fetch::open(client, self.policy(), ctx.network_access, url).await?;
            let final_url = response.url().clone();
            if !response.status().is_success() {
                return Err(format!("{final_url} answered {}; nothing was saved", status_text(response.status())));
            }
            let too_large = || {
                format!(
                    "{final_url} is larger than {MAX_FILE_BYTES} bytes, the largest session file; nothing was saved"
                )
            };
            if response.content_length().is_some_and(|n| n > MAX_FILE_BYTES as u64) {
                return Err(too_large());
            }
            let (body, truncated) = fetch::read_body(&mut response, MAX_FILE_BYTES).await?;
            if truncated {
                return Err(too_large());
            }
            Ok((final_url, response.status(), header_text(&response, CONTENT_TYPE), body))
        };
        let (final_url, status, content_type, body) = self.within_timeout(work).await?;
        let bytes = body.len();
        let file = SessionFile { path: path.clone(), content: body, is_readonly: false, updated_at: Timestamp::now() };
        let created = ctx
            .workspace
            .write_file(ctx.session, file)
            .await
            .map_err(|e| format!("saving /workspace/{path} failed: {e}"))?;
        Ok(json!({
            "url": final_url.as_str(),
            "status": status.as_u16(),
            "content_type": content_type,
            "path": format!("/workspace/{path}"),
            "bytes": bytes,
            "created": created,
        }))
    }

    async fn within_timeout<T>(&self, work: impl Future<Output = Result<T, String>>) -> Result<T, String> {
        tokio::time::timeout(self.timeout, work)
            .await
            .map_err(|_| format!("timed out after {:.1} s", self.timeout.as_secs_f64()))?
    }
}

#[async_trait::async_trait]
impl Capability for WebFetchCapability {
    fn id(&self) -> &str {
        WEB_FETCH_CAPABILITY
    }

    fn info(&self) -> CapabilityInfo {
        CapabilityInfo {
            id: WEB_FETCH_CAPABILITY.into(),
            name: "Web Fetch".into(),
            description: "Fetches web pages and APIs over HTTP(S) as readable text (HTML reduced, JSON as is); \
                          with `enable_file_download`, downloads files into the session workspace. \
                          Internal and private addresses are refused."
                .into(),
            status: "available".into(),
            category: Some("Web".into()),
            icon: Some("globe".into()),
            dependencies: Vec::new(),
            risk_level: Some("medium".into()),
        }
    }

    fn system_prompt_contribution(&self, config: &Value) -> Option<String> {
        let download = if download_enabled(config) {
            "\nTo download a file (any type, up to 2 MiB) into /workspace, use `save_to_file` with the URL and a path."
        } else {
            ""
        };
        Some(format!(
            "<web_fetch>\nYou can read a web page or HTTP API with the `web_fetch` tool: give it an http(s) URL. \
             HTML comes back as plain text with links as [text](url), JSON and other text as sent, cut at \
             `max_bytes` (`truncated` says so). Error statuses come back with their status. Internal and \
             private network addresses are refused.{download}\n</web_fetch>"
        ))
    }

    fn tools(&self, config: &Value) -> Vec<ToolDefinition> {
        let mut tools = vec![ToolDefinition::builtin(
            WEB_FETCH,
            "Fetch a URL (http or https) and return its content as text: HTML pages reduced to readable text \
             with links as [text](url), JSON, XML and plain text as sent. Returns {url (after redirects), status, \
             content_type, title?, content, truncated}.",
            json!({
                "type": "object",
                "properties": {
                    "url": {"type": "string", "description": "The http(s) URL to fetch."},
                    "max_bytes": {"type": "integer", "minimum": 1, "description": "Read at most this many bytes of the body (default and maximum 1 MiB unless configured)."}
                },
                "required": ["url"],
                "additionalProperties": false
            }),
        )];
        if download_enabled(config) {
            tools.push(ToolDefinition::builtin(
                SAVE_TO_FILE,
                "Download a URL (http or https, any content type, at most 2 MiB) into a file of the session workspace. \
                 Returns {url, status, content_type, path, bytes, created}.",
                json!({
                    "type": "object",
                    "properties": {
                        "url": {"type": "string", "description": "The http(s) URL to download."},
                        "path": {"type": "string", "description": "Where to save it, relative to /workspace (or starting with /workspace/)."}
                    },
                    "required": ["url", "path"],
                    "additionalProperties": false
                }),
            ));
        }
        tools
    }

    async fn execute_tool(
        &self,
        tool_name: &str,
        arguments: &Value,
        config: &Value,
        ctx: &ToolContext<'_>,
    ) -> ToolOutcome {
        match tool_name {
            WEB_FETCH => self.web_fetch(arguments, config, ctx).await,
            SAVE_TO_FILE if download_enabled(config) => self.save_to_file(arguments, ctx).await,
            SAVE_TO_FILE => {
                Err("save_to_file is not enabled (the capability's config needs enable_file_download)".into())
            }
            other => Err(format!("unknown tool '{other}' in capability web_fetch")),
        }
    }
}

fn download_enabled(config: &Value) -> bool {
    config.get("enable_file_download").and_then(Value::as_bool).unwrap_or(false)
}

fn string_argument<'a>(arguments: &'a Value, name: &str) -> Result<&'a str, String> {
    match arguments.get(name) {
        Some(Value::String(s)) if !s.trim().is_empty() => Ok(s.trim()),
        Some(Value::String(_)) => Err(format!("{name} must not be empty")),
        None | Some(Value::Null) => Err(format!("missing required argument '{name}'")),
        Some(_) => Err(format!("{name} must be a string")),
    }
}

fn header_text(response: &reqwest::Response, name: reqwest::header::HeaderName) -> Option<String> {
    response.headers().get(name).and_then(|v| v.to_str().ok()).map(|v| v.trim().to_owned())
}
