//! Saving a run's changes: walk the sandbox's `/workspace`, write files that are new or whose
//! content changed, delete session files that are gone. Read-only files, files over the
//! workspace's size limit and non-regular files are reported as skipped instead, and so is every
//! session file that could not be loaded (it is never written or deleted).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use bashkit::{FileSystem, InMemoryFs};
use everruns_core::capabilities::ToolContext;
use everruns_core::ports::{MAX_FILE_BYTES, PortError, SessionFile};
use everruns_core::time::Timestamp;

use crate::sandbox::{Loaded, SandboxError, WORKSPACE_DIR};

/// What the save did, paths relative to `/workspace`.
#[derive(Debug, Default)]
pub(crate) struct SyncReport {
    pub(crate) written: Vec<String>,
    pub(crate) deleted: Vec<String>,
    pub(crate) skipped: Vec<(String, String)>,
}

/// Saves what the command changed under `/workspace` back to the session.
pub(crate) async fn save_changes(
    fs: &InMemoryFs,
    loaded: &Loaded,
    ctx: &ToolContext<'_>,
) -> Result<SyncReport, SandboxError> {
    let mut report = SyncReport::default();
    report.skipped.extend(loaded.unloaded.iter().map(|(path, reason)| (path.clone(), reason.clone())));
    // Regular files, symlinks and the like still present (a directory does not keep a file).
    let mut present = BTreeSet::new();
    let mut pending = vec![PathBuf::from(WORKSPACE_DIR)];
    while let Some(dir) = pending.pop() {
        // The directory may be gone (`rm -rf /workspace`) or unreadable: nothing under it stays.
        let Ok(mut entries) = fs.read_dir(&dir).await else { continue };
        entries.sort_by(|a, b| b.name.cmp(&a.name));
        for entry in entries {
            let path = dir.join(&entry.name);
            let Some(relative) = relative(&path) else { continue };
            if entry.metadata.file_type.is_dir() {
                pending.push(path);
                continue;
            }
            present.insert(relative.clone());
            if !entry.metadata.file_type.is_file() {
                report.skipped.push((relative, "not a regular file: not saved".into()));
                continue;
            }
            // A file that cannot be read back is left as it is in the session.
            let Ok(content) = fs.read_file(&path).await else {
                report.skipped.push((relative, "could not be read back: not saved".into()));
                continue;
            };
            save_file(relative, content, loaded, ctx, &mut report).await?;
        }
    }
    for (path, original) in &loaded.originals {
        if present.contains(path) {
            continue;
        }
        if original.is_readonly {
            report.skipped.push((path.clone(), "read-only: not deleted".into()));
            continue;
        }
        match ctx.workspace.delete_file(ctx.session, path).await {
            Ok(_) => report.deleted.push(path.clone()),
            Err(PortError::Conflict(_)) => report.skipped.push((path.clone(), "read-only: not deleted".into())),
            Err(source) => return Err(SandboxError::Delete { path: path.clone(), source }),
        }
    }
    report.written.sort();
    report.skipped.sort();
    Ok(report)
}

async fn save_file(
    path: String,
    content: Vec<u8>,
    loaded: &Loaded,
    ctx: &ToolContext<'_>,
    report: &mut SyncReport,
) -> Result<(), SandboxError> {
    if loaded.unloaded.contains_key(&path) {
        return Ok(());
    }
    if let Some(original) = loaded.originals.get(&path) {
        if original.content == content {
            return Ok(());
        }
        if original.is_readonly {
            report.skipped.push((path, "read-only: changes not saved".into()));
            return Ok(());
        }
    }
    if content.len() > MAX_FILE_BYTES {
        report.skipped.push((path, format!("larger than the {MAX_FILE_BYTES}-byte file limit: not saved")));
        return Ok(());
    }
    let file = SessionFile { path: path.clone(), content, is_readonly: false, updated_at: Timestamp::now() };
    match ctx.workspace.write_file(ctx.session, file).await {
        Ok(_) => report.written.push(path),
        Err(PortError::Conflict(_)) => report.skipped.push((path, "read-only: changes not saved".into())),
        Err(source) => return Err(SandboxError::Save { path, source }),
    }
    Ok(())
}

/// The session path of a sandbox path under `/workspace`.
fn relative(path: &Path) -> Option<String> {
    let rest = path.strip_prefix(WORKSPACE_DIR).ok()?;
    let text = rest.to_str()?;
    (!text.is_empty()).then(|| text.to_owned())
}
