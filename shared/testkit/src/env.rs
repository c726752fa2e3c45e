//! The variables `scripts/test` sets for the real components (PostgreSQL, NATS, Valkey, moto).

/// A variable the test needs, or a failure that says how to get it.
pub fn required(name: &str) -> String {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty()).unwrap_or_else(|| {
        panic!(
            "{name} is not set: run scripts/test (it starts PostgreSQL, NATS, Valkey and moto on 127.0.0.1), \
             or source the matching scripts/lib/*.sh and call its ensure_* function first"
        )
    })
}
