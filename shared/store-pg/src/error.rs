//! How sqlx failures become [`PortError`]s.
//!
//! Each store first looks at [`violation`] to turn the constraint violations it expects (a
//! duplicate id or name, a missing parent row) into `Conflict` / `NotFound` with a message naming
//! the problem; everything else goes through [`port_error`]: connection trouble (a connection
//! that breaks the wire protocol, such as one closed during the handshake, included) is
//! `Unavailable` (the API answers 503 and clients retry), a value PostgreSQL cannot store (a NUL
//! character in text or JSON, say) is `Invalid`, and the rest is `Internal`. The detail is
//! logged with `tracing`; bound values (provider keys among them) are never part of a sqlx error
//! message.

use everruns_core::ports::PortError;
use sqlx::error::ErrorKind;

/// A constraint violation reported by the database.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Violation<'a> {
    /// A unique index or primary key, by constraint (or index) name.
    Unique(&'a str),
    /// A foreign key, by constraint name.
    ForeignKey(&'a str),
}

/// The constraint violation behind an error, if that is what it is.
pub(crate) fn violation(err: &sqlx::Error) -> Option<Violation<'_>> {
    let db = err.as_database_error()?;
    let constraint = db.constraint()?;
    match db.kind() {
        ErrorKind::UniqueViolation => Some(Violation::Unique(constraint)),
        ErrorKind::ForeignKeyViolation => Some(Violation::ForeignKey(constraint)),
        _ => None,
    }
}

/// Whether a SQLSTATE means the server or the connection is (temporarily) unusable.
fn transient_sqlstate(code: &str) -> bool {
    // 08: connection exceptions; 53: insufficient resources (too many connections, out of
    // memory, disk full); 57P01-57P03: shutdown in progress or cannot connect now;
    // 40001 / 40P01: serialization failure or deadlock, resolved by retrying.
    code.starts_with("08") || code.starts_with("53") || matches!(code, "57P01" | "57P02" | "57P03" | "40001" | "40P01")
}

/// Maps any other sqlx error to a port error, logging the detail. `operation` names the store
/// call for the log (`insert_agent`, `append`, …).
pub(crate) fn port_error(operation: &'static str, err: sqlx::Error) -> PortError {
    match &err {
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => {
            tracing::warn!(operation, error = %err, "postgres unavailable");
            PortError::Unavailable("the database cannot be reached".to_owned())
        }
        sqlx::Error::Protocol(_) => {
            // The bytes from the server broke the wire protocol. In practice this is a connection
            // closed half-way: sqlx reports a connection accepted and closed at once (a proxy or
            // pooler in front of a dead database) as "unexpected response from SSLRequest: 0x00".
            // Retrying later is the right advice, so 503; logged as an error because a lasting one
            // means DATABASE_URL points at something that is not PostgreSQL.
            tracing::error!(operation, error = %err, "postgres connection broke the protocol");
            PortError::Unavailable("the database connection failed".to_owned())
        }
        sqlx::Error::Database(db) => {
            let code = db.code().unwrap_or_default().into_owned();
            if transient_sqlstate(&code) {
                tracing::warn!(operation, sqlstate = %code, error = %err, "postgres unavailable");
                PortError::Unavailable("the database is temporarily unavailable".to_owned())
            } else if code == "42P01" {
                // An undefined table: this database has not been migrated (yet). Deployments run
                // the migrations as a step of their own; until then the service is unavailable.
                tracing::error!(operation, sqlstate = %code, error = %err, "the database schema is not migrated");
                PortError::Unavailable("the database schema is not ready (migrations not applied)".to_owned())
            } else if code.starts_with("22") {
                // Data exceptions: the value itself cannot be stored (NUL in text or JSON, …).
                tracing::debug!(operation, sqlstate = %code, error = %err, "postgres rejected a value");
                PortError::Invalid(format!("the store rejected a value: {}", db.message()))
            } else {
                tracing::error!(operation, sqlstate = %code, error = %err, "postgres error");
                PortError::Internal(format!("{operation} failed (SQLSTATE {code})"))
            }
        }
        _ => {
            tracing::error!(operation, error = %err, "postgres error");
            PortError::Internal(format!("{operation} failed"))
        }
    }
}

/// A row that could not be turned back into a domain value (a bug or a hand-edited row).
pub(crate) fn corrupt(operation: &'static str, what: impl std::fmt::Display) -> PortError {
    tracing::error!(operation, problem = %what, "stored row cannot be decoded");
    PortError::Internal(format!("{operation}: stored row cannot be decoded"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connection_failures_are_unavailable() {
        for err in [
            sqlx::Error::PoolTimedOut,
            sqlx::Error::PoolClosed,
            sqlx::Error::Io(std::io::ErrorKind::ConnectionRefused.into()),
        ] {
            assert!(matches!(port_error("test", err), PortError::Unavailable(_)));
        }
        assert!(transient_sqlstate("08006"));
        assert!(transient_sqlstate("57P01"));
        assert!(transient_sqlstate("53300"));
        assert!(!transient_sqlstate("23505"));
        assert!(matches!(port_error("test", sqlx::Error::RowNotFound), PortError::Internal(_)));
    }

    #[test]
    fn a_connection_that_breaks_the_protocol_is_unavailable() {
        // What sqlx reports when the server end closes the socket right after accepting it.
        let err = sqlx::Error::Protocol("unexpected response from SSLRequest: 0x00".to_owned());
        assert!(matches!(port_error("test", err), PortError::Unavailable(_)));
    }
}
