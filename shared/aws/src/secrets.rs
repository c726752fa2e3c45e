//! Secrets from Secrets Manager: for each variable `NAME` a function needs, `NAME_SECRET_ARN`
//! names a secret whose value becomes `NAME` (loaded once per cold start; a variable set directly
//! wins). A secret holding an RDS credentials document (`{"username", "password", "host", "port",
//! "dbname"}`) becomes a `postgres://` URL for `DATABASE_URL`.

use std::collections::HashMap;

use serde::Deserialize;

/// A secret could not be loaded: the message names the variable and the ARN, never the value.
/// `Debug` prints the same text (a `main` returning this error shows it as is).
#[derive(thiserror::Error)]
#[error("{variable}_SECRET_ARN={arn}: {reason}")]
pub struct SecretError {
    /// The variable the secret was for.
    pub variable: String,
    /// The ARN or name that was asked for.
    pub arn: String,
    /// Why.
    pub reason: String,
}

impl std::fmt::Debug for SecretError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(self, f)
    }
}

#[derive(Deserialize)]
struct RdsCredentials {
    username: String,
    password: String,
    host: String,
    #[serde(default)]
    port: Option<serde_json::Value>,
    #[serde(default)]
    dbname: Option<String>,
}

/// Percent-encodes a URL user-info or path component.
fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The value a secret string gives `variable`.
pub fn value_for(variable: &str, secret: &str) -> String {
    if variable == "DATABASE_URL"
        && let Ok(rds) = serde_json::from_str::<RdsCredentials>(secret)
    {
        let port = match rds.port {
            Some(serde_json::Value::Number(n)) => n.to_string(),
            Some(serde_json::Value::String(s)) => s,
            _ => "5432".to_owned(),
        };
        let db = rds.dbname.unwrap_or_else(|| "postgres".to_owned());
        return format!(
            "postgres://{}:{}@{}:{port}/{}",
            encode(&rds.username),
            encode(&rds.password),
            rds.host,
            encode(&db)
        );
    }
    secret.trim().to_owned()
}

/// Resolves `NAME_SECRET_ARN` for each of `names` that is not set directly, through
/// `lookup` (the environment). Returns the resolved values by name; the first failure stops.
pub async fn resolve(
    names: &[&str],
    lookup: impl Fn(&str) -> Option<String>,
) -> Result<HashMap<String, String>, SecretError> {
    let set = |name: &str| lookup(name).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
    let wanted: Vec<(&str, String)> = names
        .iter()
        .filter(|name| set(name).is_none())
        .filter_map(|name| set(&format!("{name}_SECRET_ARN")).map(|arn| (*name, arn)))
        .collect();
    let mut resolved = HashMap::new();
    if wanted.is_empty() {
        return Ok(resolved);
    }
    let client = aws_sdk_secretsmanager::Client::new(&crate::sdk_config().await);
    for (name, arn) in wanted {
        let failure = |reason: String| SecretError { variable: name.to_owned(), arn: arn.clone(), reason };
        let output = client.get_secret_value().secret_id(&arn).send().await.map_err(|error| {
            let service = error.as_service_error().map(|e| e.to_string());
            failure(service.unwrap_or_else(|| format!("Secrets Manager unreachable: {error}")))
        })?;
        let secret = output.secret_string().ok_or_else(|| failure("the secret has no string value".to_owned()))?;
        if secret.trim().is_empty() {
            return Err(failure("the secret is empty".to_owned()));
        }
        resolved.insert(name.to_owned(), value_for(name, secret));
    }
    Ok(resolved)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rds_documents_become_database_urls() {
        let doc = r#"{"username":"app","password":"p@ss/word","host":"db.internal","port":5432,"dbname":"everruns","engine":"postgres"}"#;
        assert_eq!(value_for("DATABASE_URL", doc), "postgres://app:p%40ss%2Fword@db.internal:5432/everruns");
        assert_eq!(value_for("DATABASE_URL", " postgres://x@y/z \n"), "postgres://x@y/z");
        assert_eq!(value_for("WORKER_GRPC_AUTH_TOKEN", doc), doc);
    }
}
