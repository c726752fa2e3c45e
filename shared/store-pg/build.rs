//! Rebuilds the crate when a migration changes: `sqlx::migrate!` embeds `migrations/` at compile
//! time, and Cargo would not otherwise notice a new or changed SQL file.

fn main() {
    println!("cargo:rerun-if-changed=../../migrations");
}
