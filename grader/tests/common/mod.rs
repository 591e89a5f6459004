//! What the tests that grade copies of the status kit (grader/tests/
//! status-kit) share: the copy, and one target dir for all of them, so the
//! kit's dependencies (serde, syn, grader-kit...) compile once per
//! `cargo test`, not once per test file.
//!
//! Every copy has the same relative paths, and cargo decides freshness by
//! modification times: touch a copy's exercises before building it, so a
//! build never takes another copy's crate for fresh (the launcher also
//! checks where each worker was built from; see `compile::build_verified`).

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::time::SystemTime;

pub fn manifest_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn status_kit() -> PathBuf {
    manifest_dir().join("tests/status-kit")
}

/// The target dir every copy of the status kit builds into.
pub fn kits_target() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("status-kits-target")
}

/// Copies `from` to `to`, leaving out build output (`target`).
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        if entry.file_name() == "target" {
            continue;
        }
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// A copy of the status kit at `to`, its path to grader-kit made absolute.
pub fn copy_kit(to: &Path) {
    copy_dir(&status_kit(), to);
    let manifest = to.join("Cargo.toml");
    let text = std::fs::read_to_string(&manifest).unwrap();
    let absolute = manifest_dir().join("kit");
    let text = text.replace(
        "\"../../kit\"",
        &format!("{:?}", absolute.display().to_string()),
    );
    std::fs::write(&manifest, text).unwrap();
}

/// Sets the modification time of every file under `dir` to now.
pub fn touch(dir: &Path) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let entry = entry.unwrap();
        if entry.file_type().unwrap().is_dir() {
            touch(&entry.path());
        } else {
            let file = std::fs::OpenOptions::new()
                .write(true)
                .open(entry.path())
                .unwrap();
            file.set_modified(SystemTime::now()).unwrap();
        }
    }
}
