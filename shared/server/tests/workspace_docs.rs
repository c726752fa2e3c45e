//! The docs' crate maps match the workspace: every member of the root `Cargo.toml` appears in
//! `docs/architecture.md` ("Crates": its package name) and in the README ("Layout": its folder,
//! a `folder/*` row above it, or its package name). A crate added without a line fails here.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn read(path: &str) -> String {
    std::fs::read_to_string(root().join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The `members = [...]` of the root manifest.
fn members() -> Vec<String> {
    let manifest = read("Cargo.toml");
    let start = manifest.find("members = [").expect("a members list");
    let list = &manifest[start..];
    let list = &list[..list.find(']').expect("the members list ends")];
    list.split('"').skip(1).step_by(2).map(str::to_owned).collect()
}

/// The `[package] name` of a member.
fn package(member: &str) -> String {
    let manifest = read(&format!("{member}/Cargo.toml"));
    let package = &manifest[manifest.find("[package]").expect("a [package] table")..];
    let line = package.lines().find(|l| l.trim_start().starts_with("name")).expect("a package name");
    line.split('"').nth(1).expect("a quoted name").to_owned()
}

/// The text of a `## heading` section.
fn section(text: &str, heading: &str) -> String {
    let start = text.find(&format!("\n## {heading}\n")).unwrap_or_else(|| panic!("no section '{heading}'"));
    let body = &text[start + heading.len() + 5..];
    body[..body.find("\n## ").unwrap_or(body.len())].to_owned()
}

#[test]
fn every_workspace_crate_is_in_the_architecture_and_the_readme() {
    let members = members();
    assert!(members.len() > 10, "the members list was read: {members:?}");
    let crates = section(&read("docs/architecture.md"), "Crates");
    let layout = section(&read("README.md"), "Layout");
    let mut missing = Vec::new();
    for member in &members {
        let package = package(member);
        if !crates.contains(&format!("`{package}`")) {
            missing.push(format!("docs/architecture.md (Crates) lacks `{package}` ({member})"));
        }
        let parent_glob = member.rsplit_once('/').map(|(parent, _)| format!("`{parent}/*`"));
        let listed = layout.contains(&format!("`{member}`"))
            || layout.contains(&format!("`{package}`"))
            || parent_glob.is_some_and(|glob| layout.contains(&glob));
        if !listed {
            missing.push(format!("README.md (Layout) lacks `{member}` ({package})"));
        }
    }
    assert!(missing.is_empty(), "crates missing from the docs:\n{}", missing.join("\n"));
}
