//! `/oauth/authorize`: the consent page. `GET` checks the request and shows who asks for what;
//! with `AUTH_MODE=api_key` the person proves they act for an organization by entering one of
//! its API keys (a fuller sign-in plugs in here: anything that yields the organization), with
//! `AUTH_MODE=none` approving grants the default organization. `POST` issues the code and
//! redirects back to the client (303), or re-shows the page when the key is wrong.

use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use bytes::Bytes;
use everruns_services::config::AuthMode;
use everruns_services::oauth::authorize::{self, AuthorizeParams, AuthorizeRequest, Rejection};
use everruns_services::oauth::{Issuer, OAuthError};
use serde::Deserialize;

use super::issuer;
use crate::state::AppState;

/// Escapes text for HTML content and attribute values.
fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A whole page around `body` (trusted HTML).
pub(super) fn page(title: &str, body: &str) -> String {
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
<title>{} · Everruns</title><style>body{{font-family:system-ui,sans-serif;max-width:32rem;margin:4rem auto;padding:0 1rem;color:#1b1b1f}}\
h1{{font-size:1.4rem}}input[type=password]{{width:100%;padding:.5rem;margin:.25rem 0 1rem;box-sizing:border-box}}\
button{{padding:.5rem 1rem;margin-right:.5rem}}.error{{color:#b00020}}code{{background:#f2f2f5;padding:0 .25rem}}</style></head><body>{body}</body></html>",
        esc(title)
    )
}

/// Headers of every page here: not cached, not framed, no scripts.
pub(super) fn page_headers() -> [(header::HeaderName, HeaderValue); 4] {
    [
        (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
        (header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY")),
        (
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(
                "default-src 'none'; style-src 'unsafe-inline'; form-action 'self' http: https:; frame-ancestors 'none'",
            ),
        ),
        (header::REFERRER_POLICY, HeaderValue::from_static("no-referrer")),
    ]
}

/// A page explaining a request that cannot be redirected back (RFC 6749 §4.1.2.1).
fn refusal(error: &OAuthError) -> Response {
    let body = format!(
        "<h1>This sign-in request cannot be completed</h1><p class=\"error\"><code>{}</code>: {}</p><p>Go back to the application and start again.</p>",
        esc(error.code),
        esc(&error.description)
    );
    (StatusCode::BAD_REQUEST, page_headers(), Html(page("Sign-in refused", &body))).into_response()
}

fn hidden(name: &str, value: Option<&str>) -> String {
    value.map(|v| format!("<input type=\"hidden\" name=\"{name}\" value=\"{}\">", esc(v))).unwrap_or_default()
}

/// The consent form for a valid request.
fn consent_page(
    state: &AppState,
    params: &AuthorizeParams,
    request: &AuthorizeRequest,
    problem: Option<&str>,
) -> String {
    let target = url_host(&request.redirect_uri);
    let fields = [
        hidden("response_type", params.response_type.as_deref()),
        hidden("client_id", params.client_id.as_deref()),
        hidden("redirect_uri", Some(&request.redirect_uri)),
        hidden("code_challenge", params.code_challenge.as_deref()),
        hidden("code_challenge_method", params.code_challenge_method.as_deref()),
        hidden("state", params.state.as_deref()),
        hidden("scope", params.scope.as_deref()),
        hidden("resource", params.resource.as_deref()),
    ]
    .concat();
    let credential = if state.config.auth_mode == AuthMode::ApiKey {
        "<label for=\"api_key\">An API key of your organization</label><input type=\"password\" id=\"api_key\" name=\"api_key\" autocomplete=\"off\" placeholder=\"evr_…\" required>"
    } else {
        "<p>This server runs without sign-in (<code>AUTH_MODE=none</code>): access is to the default organization.</p>"
    };
    let problem = problem.map(|p| format!("<p class=\"error\" role=\"alert\">{}</p>", esc(p))).unwrap_or_default();
    let body = format!(
        "<h1>Authorize {name}</h1><p><strong>{name}</strong> asks to use Everruns for your organization: list agents, run sessions and read their events (scope <code>{scope}</code>).</p>\
<p>You will return to <code>{target}</code>.</p>{problem}<form method=\"post\" action=\"authorize\">{fields}{credential}\
<button type=\"submit\" name=\"decision\" value=\"approve\">Authorize</button><button type=\"submit\" name=\"decision\" value=\"deny\" formnovalidate>Deny</button></form>",
        name = esc(request.client_name()),
        scope = esc(&request.scope),
        target = esc(&target),
    );
    page("Authorize", &body)
}

fn url_host(uri: &str) -> String {
    uri.split_once("://").map_or(uri, |(_, rest)| rest.split(['/', '?']).next().unwrap_or(rest)).to_owned()
}

/// `GET /oauth/authorize`.
pub(super) async fn show(
    State(state): State<AppState>,
    headers: HeaderMap,
    query: Result<Query<AuthorizeParams>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let Ok(Query(params)) = query else {
        return refusal(&OAuthError::invalid_request("malformed query string (repeated or invalid parameter)"));
    };
    let issuer = issuer(&state, &headers);
    match authorize::validate(&state, &issuer, &params).await {
        Ok(request) => (page_headers(), Html(consent_page(&state, &params, &request, None))).into_response(),
        Err(Rejection::Page(error)) => refusal(&error),
        Err(Rejection::Redirect(location)) => Redirect::to(&location).into_response(),
    }
}

#[derive(Debug, Deserialize)]
struct ConsentForm {
    response_type: Option<String>,
    client_id: Option<String>,
    redirect_uri: Option<String>,
    code_challenge: Option<String>,
    code_challenge_method: Option<String>,
    state: Option<String>,
    scope: Option<String>,
    resource: Option<String>,
    api_key: Option<String>,
    decision: Option<String>,
}

/// `POST /oauth/authorize` (the consent form).
pub(super) async fn decide(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let Ok(form) = serde_html_form::from_bytes::<ConsentForm>(&body) else {
        return refusal(&OAuthError::invalid_request("malformed form (repeated or invalid parameter)"));
    };
    let params = AuthorizeParams {
        response_type: form.response_type,
        client_id: form.client_id,
        redirect_uri: form.redirect_uri,
        code_challenge: form.code_challenge,
        code_challenge_method: form.code_challenge_method,
        state: form.state,
        scope: form.scope,
        resource: form.resource,
    };
    let issuer = issuer(&state, &headers);
    let request = match authorize::validate(&state, &issuer, &params).await {
        Ok(request) => request,
        Err(Rejection::Page(error)) => return refusal(&error),
        Err(Rejection::Redirect(location)) => return Redirect::to(&location).into_response(),
    };
    match form.decision.as_deref() {
        Some("approve") => approve(&state, &issuer, &params, &request, form.api_key.as_deref()).await,
        Some("deny") => {
            Redirect::to(&request.error_location(&issuer, &OAuthError::access_denied("the person declined")))
                .into_response()
        }
        _ => refusal(&OAuthError::invalid_request("decision must be approve or deny")),
    }
}

async fn approve(
    state: &AppState,
    issuer: &Issuer,
    params: &AuthorizeParams,
    request: &AuthorizeRequest,
    key: Option<&str>,
) -> Response {
    let authorization = match state.config.auth_mode {
        AuthMode::ApiKey => key.map(str::trim).filter(|k| !k.is_empty()),
        AuthMode::None => None,
    };
    if state.config.auth_mode == AuthMode::ApiKey
        && authorization.is_none_or(|k| k.starts_with(everruns_services::oauth::ACCESS_PREFIX))
    {
        let page = consent_page(state, params, request, Some("Enter an API key of your organization."));
        return (StatusCode::UNAUTHORIZED, page_headers(), Html(page)).into_response();
    }
    let caller = match everruns_services::auth::authenticate(state, authorization, None).await {
        Ok(caller) => caller,
        Err(error) => {
            let page = consent_page(state, params, request, Some(&format!("That key was not accepted: {error}.")));
            return (StatusCode::UNAUTHORIZED, page_headers(), Html(page)).into_response();
        }
    };
    match authorize::approve(state, issuer, request, caller.org).await {
        Ok(location) => Redirect::to(&location).into_response(),
        Err(error) => refusal(&error),
    }
}
