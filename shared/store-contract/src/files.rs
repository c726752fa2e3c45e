//! The `FileStore` contract: path normalisation and rejection, create vs replace, read-only
//! files, listing by prefix in path order, deletes, and isolation between sessions.

use everruns_core::ports::{SessionFile, Stores};
use everruns_core::time::Timestamp;

use crate::fixtures::{assert_conflict, assert_invalid, seed_session};

fn file(path: &str, content: &str, is_readonly: bool) -> SessionFile {
    SessionFile {
        path: path.to_owned(),
        content: content.as_bytes().to_vec(),
        is_readonly,
        updated_at: Timestamp::now(),
    }
}

fn paths(files: &[SessionFile]) -> Vec<&str> {
    files.iter().map(|f| f.path.as_str()).collect()
}

/// Checks a [`FileStore`](everruns_core::ports::FileStore) (the stores are needed to create the
/// sessions files belong to).
pub async fn file_store_contract(stores: &Stores) {
    let store = stores.files.as_ref();
    let session = seed_session(stores).await.id;
    let other_session = seed_session(stores).await.id;

    // Created, then replaced; paths are normalised on write and on read.
    assert!(store.write_file(session, file("/workspace/src/main.rs", "fn main() {}", false)).await.unwrap());
    let read = store.read_file(session, "src/main.rs").await.unwrap().unwrap();
    assert_eq!(read.path, "src/main.rs");
    assert_eq!(read.content, b"fn main() {}");
    assert!(!read.is_readonly);
    assert_eq!(store.read_file(session, "/src/main.rs").await.unwrap(), Some(read.clone()));
    assert_eq!(store.read_file(session, "/workspace/src/main.rs").await.unwrap(), Some(read.clone()));
    assert!(!store.write_file(session, file("/src/main.rs", "fn main() { run() }", false)).await.unwrap());
    let replaced = store.read_file(session, "src/main.rs").await.unwrap().unwrap();
    assert_eq!(replaced.content, b"fn main() { run() }");
    assert_eq!(store.read_file(session, "src/missing.rs").await.unwrap(), None);

    // Rejected paths.
    for bad in ["", "/", "/workspace/", "../etc/passwd", "src/../../x", "/workspace/.."] {
        assert_invalid(store.write_file(session, file(bad, "x", false)).await);
    }
    assert_invalid(store.read_file(session, "../secret").await);
    assert_invalid(store.delete_file(session, "a/../b").await);

    // Read-only files cannot be overwritten.
    assert!(store.write_file(session, file("readme.md", "read me", true)).await.unwrap());
    assert_conflict(store.write_file(session, file("/workspace/readme.md", "changed", false)).await, "readme.md");
    let readme = store.read_file(session, "readme.md").await.unwrap().unwrap();
    assert_eq!(readme.content, b"read me");
    assert!(readme.is_readonly);

    // Listing by prefix, in path order.
    store.write_file(session, file("src/lib.rs", "", false)).await.unwrap();
    store.write_file(session, file("docs/guide.md", "", false)).await.unwrap();
    let all = store.list_files(session, "").await.unwrap();
    assert_eq!(paths(&all), ["docs/guide.md", "readme.md", "src/lib.rs", "src/main.rs"]);
    assert_eq!(paths(&store.list_files(session, "src/").await.unwrap()), ["src/lib.rs", "src/main.rs"]);
    assert_eq!(paths(&store.list_files(session, "/workspace/src/").await.unwrap()), ["src/lib.rs", "src/main.rs"]);
    assert_eq!(paths(&store.list_files(session, "/docs").await.unwrap()), ["docs/guide.md"]);
    assert!(store.list_files(session, "nothing/").await.unwrap().is_empty());

    // Sessions are isolated.
    assert_eq!(store.read_file(other_session, "src/main.rs").await.unwrap(), None);
    assert!(store.list_files(other_session, "").await.unwrap().is_empty());
    assert!(store.write_file(other_session, file("src/main.rs", "other", false)).await.unwrap());
    assert_eq!(store.read_file(session, "src/main.rs").await.unwrap().unwrap().content, b"fn main() { run() }");

    // Deletes.
    assert!(store.delete_file(session, "/workspace/src/lib.rs").await.unwrap());
    assert!(!store.delete_file(session, "src/lib.rs").await.unwrap());
    assert_eq!(store.read_file(session, "src/lib.rs").await.unwrap(), None);
    assert_eq!(paths(&store.list_files(session, "src").await.unwrap()), ["src/main.rs"]);
    assert!(store.read_file(other_session, "src/main.rs").await.unwrap().is_some());
}
