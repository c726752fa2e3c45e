//! The error responses of the REST operations. A handler declares its success responses and
//! the errors only it gives (403 on sign-up, …); the errors of the layers around every handler
//! are declared here, from the shape of each operation, as `application/problem+json`:
//!
//! - 400 (bad path id, query or body), 429 (rate or connection limit), 500, 503 (a backing
//!   service is down): every operation;
//! - 401 and 403 (missing or foreign credentials): every operation that is not public;
//! - 404: operations with a path parameter or a request body (a body names other resources:
//!   a harness, an agent, a parent, an example);
//! - 409 (a conflicting write, or a turn that moved on): operations that are not `GET`;
//! - 413 and 415: operations with a request body.

use utoipa::openapi::path::Operation;
use utoipa::openapi::response::ResponseBuilder;
use utoipa::openapi::{ContentBuilder, OpenApi, Ref, RefOr, Response};

/// The status codes and their descriptions, registered as reusable responses.
const RESPONSES: [(&str, &str, &str); 10] = [
    ("400", "BadRequest", "Invalid input: a malformed id, query or body"),
    ("401", "Unauthorized", "Missing or invalid credentials (AUTH_MODE=api_key)"),
    ("403", "Forbidden", "The credentials do not grant this organization or action"),
    ("404", "NotFound", "Not found"),
    ("409", "Conflict", "Conflicts with the current state (a name in use, a turn that moved on)"),
    ("413", "PayloadTooLarge", "The body exceeds HTTP_BODY_LIMIT_BYTES"),
    ("415", "UnsupportedMediaType", "The body's Content-Type is not the one accepted"),
    ("429", "TooManyRequests", "Rate or connection limit (see Retry-After)"),
    ("500", "InternalError", "Internal error (the cause is logged, not sent)"),
    ("503", "Unavailable", "A backing service is unavailable (see Retry-After)"),
];

fn problem(description: &str) -> Response {
    let content = ContentBuilder::new().schema(Some(Ref::from_schema_name("Problem"))).build();
    ResponseBuilder::new().description(description).content("application/problem+json", content).build()
}

/// Whether the operation declares `security: [{}]` (no credentials needed).
fn is_public(operation: &Operation) -> bool {
    operation.security.as_ref().is_some_and(|requirements| {
        requirements.iter().all(|r| serde_json::to_value(r).is_ok_and(|v| v.as_object().is_some_and(|o| o.is_empty())))
    })
}

/// The error statuses `operation` can answer besides its own.
fn statuses(method: &str, path: &str, operation: &Operation) -> Vec<&'static str> {
    let mut codes = vec!["400", "429", "500", "503"];
    if !is_public(operation) {
        codes.extend(["401", "403"]);
    }
    if path.contains('{') || operation.request_body.is_some() {
        codes.push("404");
    }
    if method != "get" {
        codes.push("409");
    }
    if operation.request_body.is_some() {
        codes.extend(["413", "415"]);
    }
    codes
}

/// Adds the layers' error responses to every operation of `doc` and registers them as
/// reusable responses.
pub fn declare(doc: &mut OpenApi) {
    for (path, item) in doc.paths.paths.iter_mut() {
        let operations = [
            ("get", &mut item.get),
            ("put", &mut item.put),
            ("post", &mut item.post),
            ("delete", &mut item.delete),
            ("patch", &mut item.patch),
        ];
        for (method, operation) in operations {
            let Some(operation) = operation.as_mut() else { continue };
            for code in statuses(method, path, operation) {
                let Some((_, name, _)) = RESPONSES.iter().find(|(c, ..)| *c == code) else { continue };
                operation
                    .responses
                    .responses
                    .entry(code.to_owned())
                    .or_insert_with(|| RefOr::Ref(Ref::from_response_name(*name)));
            }
        }
    }
    let components = doc.components.get_or_insert_with(Default::default);
    for (_, name, description) in RESPONSES {
        components.responses.insert(name.to_owned(), RefOr::T(problem(description)));
    }
}
