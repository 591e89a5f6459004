//! File helpers of the launcher: copies that keep modification times
//! (cargo decides freshness by them), and [`Snapshot`], which finds what a
//! build wrote into a shared target dir.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use anyhow::{Context, Result};

/// Copies the tree `from` into `to`, keeping modification times (cargo
/// decides freshness by them; see [`submission`]). Symbolic links are not
/// followed nor copied.
pub fn copy_tree(from: &Path, to: &Path) -> Result<()> {
    std::fs::create_dir_all(to).with_context(|| format!("cannot create {}", to.display()))?;
    for entry in
        std::fs::read_dir(from).with_context(|| format!("cannot read {}", from.display()))?
    {
        let entry = entry?;
        let kind = entry.file_type()?;
        let target = to.join(entry.file_name());
        if kind.is_dir() {
            copy_tree(&entry.path(), &target)?;
        } else if kind.is_file() {
            copy_file(&entry.path(), &target, true)?;
        }
    }
    Ok(())
}

/// Copies one file, keeping its modification time when asked.
pub fn copy_file(from: &Path, to: &Path, keep_mtime: bool) -> Result<()> {
    if let Some(dir) = to.parent() {
        std::fs::create_dir_all(dir)?;
    }
    // A fresh inode: never write through a hard link into someone's file.
    let _ = std::fs::remove_file(to);
    std::fs::copy(from, to)
        .with_context(|| format!("cannot copy {} to {}", from.display(), to.display()))?;
    if keep_mtime {
        let modified = std::fs::metadata(from)?.modified()?;
        set_mtime(to, modified)?;
    }
    Ok(())
}

pub fn set_mtime(path: &Path, time: SystemTime) -> Result<()> {
    let file = std::fs::OpenOptions::new()
        .write(true)
        .open(path)
        .with_context(|| format!("cannot open {}", path.display()))?;
    file.set_modified(time)
        .with_context(|| format!("cannot set the time of {}", path.display()))
}

/// Sets the modification time of every file under `dir` to now.
pub fn touch_tree(dir: &Path) -> Result<()> {
    let now = SystemTime::now();
    for entry in std::fs::read_dir(dir).with_context(|| format!("cannot read {}", dir.display()))? {
        let entry = entry?;
        let kind = entry.file_type()?;
        if kind.is_dir() {
            touch_tree(&entry.path())?;
        } else if kind.is_file() {
            set_mtime(&entry.path(), now)?;
        }
    }
    Ok(())
}

/// What a folder held at one moment: each file's identity (inode, size,
/// modification time), each folder.
pub struct Snapshot {
    files: BTreeMap<PathBuf, (u64, u64, Option<SystemTime>)>,
    dirs: BTreeSet<PathBuf>,
}

impl Snapshot {
    /// Walks `root` (links are not followed); a missing `root` is empty.
    pub fn take(root: &Path) -> Snapshot {
        let mut snapshot = Snapshot {
            files: BTreeMap::new(),
            dirs: BTreeSet::new(),
        };
        let mut stack = vec![root.to_path_buf()];
        while let Some(dir) = stack.pop() {
            let Ok(entries) = std::fs::read_dir(&dir) else {
                continue;
            };
            snapshot.dirs.insert(dir);
            for entry in entries.flatten() {
                let Ok(meta) = entry.metadata() else { continue };
                if meta.is_dir() {
                    stack.push(entry.path());
                } else {
                    snapshot.files.insert(entry.path(), identity(&meta));
                }
            }
        }
        snapshot
    }

    /// Removes from `root` every file and folder that was not in this
    /// snapshot, or has changed since: what a build wrote. Returns how many
    /// files and folders it removed.
    pub fn remove_what_is_new(&self, root: &Path) -> Result<usize> {
        let now = Snapshot::take(root);
        let mut removed = 0;
        // New folders whole, outermost first (a folder inside a removed one
        // is gone with it).
        let mut gone: Vec<&PathBuf> = vec![];
        for dir in now.dirs.difference(&self.dirs) {
            if gone.iter().any(|g| dir.starts_with(g)) {
                continue;
            }
            std::fs::remove_dir_all(dir)
                .with_context(|| format!("cannot remove {}", dir.display()))?;
            gone.push(dir);
            removed += 1;
        }
        for (file, id) in &now.files {
            if gone.iter().any(|g| file.starts_with(g)) || self.files.get(file) == Some(id) {
                continue;
            }
            match std::fs::remove_file(file) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                    return Err(e).with_context(|| format!("cannot remove {}", file.display()))
                }
                _ => removed += 1,
            }
        }
        Ok(removed)
    }
}

fn identity(meta: &std::fs::Metadata) -> (u64, u64, Option<SystemTime>) {
    use std::os::unix::fs::MetadataExt;
    (meta.ino(), meta.len(), meta.modified().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_snapshot_removes_only_what_was_written_since() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("deps")).unwrap();
        std::fs::create_dir_all(root.join("incremental")).unwrap();
        std::fs::write(root.join("deps/libdep.rlib"), "dependency").unwrap();
        std::fs::write(root.join("deps/libstudent.rlib"), "stub").unwrap();
        let before = Snapshot::take(root);
        // A build: a new folder, a new file, a file replaced.
        std::fs::create_dir_all(root.join("incremental/student-1/s")).unwrap();
        std::fs::write(root.join("incremental/student-1/s/q.bin"), "q").unwrap();
        std::fs::write(root.join("deps/adapter"), "binary").unwrap();
        std::fs::remove_file(root.join("deps/libstudent.rlib")).unwrap();
        std::fs::write(root.join("deps/libstudent.rlib"), "the student's code").unwrap();
        assert_eq!(before.remove_what_is_new(root).unwrap(), 3);
        assert!(root.join("deps/libdep.rlib").is_file());
        for gone in [
            "incremental/student-1",
            "deps/adapter",
            "deps/libstudent.rlib",
        ] {
            assert!(!root.join(gone).exists(), "{gone}");
        }
        assert!(root.join("incremental").is_dir());
    }
}
