//! Builds the UI in `ui/` (TypeScript, React, Vite; pinned by `ui/package-lock.json`) into
//! `OUT_DIR/ui` and writes `OUT_DIR/assets.rs`, the table of embedded files. `npm ci` runs when
//! `ui/node_modules` is missing or older than the lockfile; `npm run build` type-checks and bundles.
//!
//! `EVERRUNS_UI_DIST=<dir>` embeds an already built UI instead (a machine without Node.js).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::SystemTime;

fn main() {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR"));
    let ui = manifest.join("../../ui").canonicalize().expect("the ui/ folder of the workspace");
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("OUT_DIR"));
    println!("cargo:rerun-if-env-changed=EVERRUNS_UI_DIST");
    for input in ["src", "index.html", "package.json", "package-lock.json", "vite.config.ts", "tsconfig.json"] {
        println!("cargo:rerun-if-changed={}", ui.join(input).display());
    }
    let dist = match std::env::var_os("EVERRUNS_UI_DIST") {
        Some(dir) => {
            println!("cargo:rerun-if-changed={}", PathBuf::from(&dir).display());
            PathBuf::from(dir)
        }
        None => build(&ui, &out.join("ui")),
    };
    let mut files = Vec::new();
    collect(&dist, &dist, &mut files);
    files.sort();
    assert!(
        files.iter().any(|(path, _)| path == "/index.html"),
        "the UI build has no index.html in {}",
        dist.display()
    );
    let mut table = String::from(
        "/// Every embedded file: (path, content type, bytes).\npub static ASSETS: &[(&str, &str, &[u8])] = &[\n",
    );
    for (path, file) in &files {
        table.push_str(&format!(
            "    ({path:?}, {:?}, include_bytes!({:?})),\n",
            content_type(path),
            file.display().to_string()
        ));
    }
    table.push_str("];\n");
    std::fs::write(out.join("assets.rs"), table).expect("write assets.rs");
}

fn build(ui: &Path, target: &Path) -> PathBuf {
    let npm = if cfg!(windows) { "npm.cmd" } else { "npm" };
    let stale = |marker: &Path| {
        let modified = |p: &Path| p.metadata().and_then(|m| m.modified()).unwrap_or(SystemTime::UNIX_EPOCH);
        !marker.exists() || modified(marker) < modified(&ui.join("package-lock.json"))
    };
    if stale(&ui.join("node_modules/.package-lock.json")) {
        run(Command::new(npm).args(["ci", "--no-audit", "--no-fund", "--loglevel=error"]).current_dir(ui), "npm ci");
    }
    run(
        Command::new(npm).args(["run", "build", "--silent"]).env("EVERRUNS_UI_OUT", target).current_dir(ui),
        "npm run build",
    );
    target.to_path_buf()
}

fn run(command: &mut Command, what: &str) {
    let status = command.status().unwrap_or_else(|error| {
        panic!(
            "{what} could not start ({error}): the UI is built with Node.js (≥ 20.19) and npm. Install them, \
             or set EVERRUNS_UI_DIST to a built UI (npm run build in ui/ writes ui/dist)"
        )
    });
    assert!(status.success(), "{what} failed in ui/ ({status})");
}

fn collect(root: &Path, dir: &Path, files: &mut Vec<(String, PathBuf)>) {
    for entry in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.expect("a directory entry").path();
        if path.is_dir() {
            collect(root, &path, files);
        } else {
            let relative = path.strip_prefix(root).expect("under the root").to_string_lossy().replace('\\', "/");
            files.push((format!("/{relative}"), path));
        }
    }
}

fn content_type(path: &str) -> &'static str {
    match path.rsplit('.').next().unwrap_or_default() {
        "html" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "ico" => "image/x-icon",
        "json" => "application/json",
        "woff2" => "font/woff2",
        "txt" => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}
