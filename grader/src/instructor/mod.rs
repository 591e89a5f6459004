//! The instructor's side, as in nbgrader or otter: `release` writes the
//! student kit, `grade --submission` grades one student's checkout safely,
//! `grade --submissions` a whole class into a CSV gradebook.

pub mod batch;
pub mod release;
pub mod submission;

use std::path::Path;
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
