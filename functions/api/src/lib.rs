//! The API function's HTTP adapter: the control plane's router behind `lambda_http`, with API
//! Gateway stage prefixes removed. A REST API (v1) puts its stage in the path (`/prod/api/v1/…`)
//! unless `AWS_LAMBDA_HTTP_IGNORE_STAGE_IN_PATH=true`; an HTTP API (v2) does for named stages. The
//! request context names the stage, so the prefix is stripped here whatever the environment says.

use axum::Router;
use axum::http::{Request, Uri};
use lambda_http::RequestExt;
use lambda_http::request::RequestContext;

/// The router, wrapped so stage-prefixed paths reach their routes.
pub fn service(router: Router) -> tower::util::MapRequest<Router, fn(lambda_http::Request) -> lambda_http::Request> {
    tower::ServiceExt::map_request(router, strip_stage as fn(lambda_http::Request) -> lambda_http::Request)
}

fn stage<B>(request: &Request<B>) -> Option<String> {
    match request.request_context_ref()? {
        RequestContext::ApiGatewayV1(context) => context.stage.clone(),
        RequestContext::ApiGatewayV2(context) => context.stage.clone(),
        _ => None,
    }
}

/// Removes a leading `/{stage}` from the path when the request context names that stage.
pub fn strip_stage<B>(mut request: Request<B>) -> Request<B> {
    let Some(stage) = stage(&request).filter(|s| !s.is_empty() && s != "$default") else { return request };
    let prefix = format!("/{stage}");
    let path = request.uri().path();
    let rest = match path.strip_prefix(&prefix) {
        Some("") => "/",
        Some(rest) if rest.starts_with('/') => rest,
        _ => return request,
    };
    let target = match request.uri().query() {
        Some(query) => format!("{rest}?{query}"),
        None => rest.to_owned(),
    };
    if let Ok(uri) = target.parse::<Uri>() {
        *request.uri_mut() = uri;
    }
    request
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::routing::get;
    use tower::ServiceExt;

    fn event(stage: &str) -> String {
        serde_json::json!({
            "resource": "/{proxy+}",
            "path": "/api/v1/ping",
            "httpMethod": "GET",
            "headers": {"Host": "abc.execute-api.us-east-1.amazonaws.com"},
            "multiValueHeaders": {"Host": ["abc.execute-api.us-east-1.amazonaws.com"]},
            "queryStringParameters": {"x": "1"},
            "multiValueQueryStringParameters": {"x": ["1"]},
            "pathParameters": {"proxy": "api/v1/ping"},
            "stageVariables": null,
            "requestContext": {
                "accountId": "123456789012", "resourceId": "r", "stage": stage, "requestId": "id",
                "identity": {"sourceIp": "127.0.0.1"}, "resourcePath": "/{proxy+}", "httpMethod": "GET",
                "apiId": "abc", "path": format!("/{stage}/api/v1/ping")
            },
            "body": null,
            "isBase64Encoded": false
        })
        .to_string()
    }

    #[tokio::test]
    async fn rest_api_stage_prefixes_reach_the_routes() {
        let router = Router::new().route("/api/v1/ping", get(|uri: Uri| async move { uri.to_string() }));
        let request = lambda_http::request::from_str(&event("prod")).unwrap();
        let response = service(router).oneshot(request).await.unwrap();
        assert_eq!(response.status(), 200);
        let body = axum::body::to_bytes(response.into_body(), 1024).await.unwrap();
        assert_eq!(&body[..], b"/api/v1/ping?x=1");
    }

    #[test]
    fn paths_outside_the_stage_are_left_alone() {
        let mut request = Request::new(());
        *request.uri_mut() = "/production/api".parse().unwrap();
        assert_eq!(strip_stage(request).uri().path(), "/production/api");
    }
}
