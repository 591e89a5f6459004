//! Where the judge confines an adapter before it runs student code: the
//! sandbox's adapter policy (see [`crate::sandbox`]), plus the input-only
//! paths the judge allows, plus the unprivileged uid the launcher picks in
//! trusted mode.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use crate::sandbox::{Policy, Prepared, Protections};

/// The adapter policy for `binary`. `uid`: the unprivileged user to run as
/// when the judge is root (trusted mode); the drop is left out when that
/// user could not reach the binary or a readable path.
pub fn policy(binary: &Path, readable: &[PathBuf], uid: Option<u32>) -> Policy {
    let mut policy = Policy::for_adapter(binary);
    policy.read.extend(readable.iter().cloned());
    let reachable = std::iter::once(binary)
        .chain(readable.iter().map(PathBuf::as_path))
        .all(reachable_by_others);
    match uid.filter(|_| reachable) {
        Some(uid) if policy.drop_to_uid.is_some() => policy.drop_to_uid = Some((uid, uid)),
        _ => {
            policy.drop_to_uid = None;
            policy.max_processes = None;
        }
    }
    policy
}

/// What [`confine`] puts in force with these arguments.
pub fn protections(binary: &Path, readable: &[PathBuf], uid: Option<u32>) -> Protections {
    Prepared::prepare(&policy(binary, readable, uid)).protections()
}

/// Applies the sandbox to `command`, which will run the adapter `binary`.
pub fn confine(command: &mut Command, binary: &Path, readable: &[PathBuf], uid: Option<u32>) {
    Arc::new(Prepared::prepare(&policy(binary, readable, uid))).apply_to(command);
}

/// `command.spawn()`, retried while the binary is "busy" (ETXTBSY): a
/// binary just copied can still be open for writing in a child another
/// thread forked before its copy was closed, until that child execs.
pub fn spawn_retrying(command: &mut Command) -> std::io::Result<std::process::Child> {
    let mut tries = 0;
    loop {
        match command.spawn() {
            Err(e) if e.kind() == std::io::ErrorKind::ExecutableFileBusy && tries < 50 => {
                tries += 1;
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            result => return result,
        }
    }
}

/// Whether a user other than the owner can reach `path`: every folder on
/// the way searchable by others, and the file, or every file and folder
/// below the folder, readable by others.
fn reachable_by_others(path: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let Ok(path) = std::fs::canonicalize(path) else {
            return false;
        };
        let mode = |p: &Path| std::fs::metadata(p).map(|m| m.permissions().mode());
        fn readable_below(path: &Path) -> bool {
            let Ok(meta) = std::fs::metadata(path) else {
                return false;
            };
            let mode = meta.permissions().mode();
            if !meta.is_dir() {
                return mode & 0o004 != 0;
            }
            mode & 0o005 == 0o005
                && std::fs::read_dir(path).is_ok_and(|entries| {
                    entries
                        .filter_map(Result::ok)
                        .all(|entry| readable_below(&entry.path()))
                })
        }
        readable_below(&path)
            && path
                .ancestors()
                .skip(1)
                .all(|dir| mode(dir).is_ok_and(|m| m & 0o001 != 0))
    }
    #[cfg(not(unix))]
    {
        let _ = path;
        false
    }
}
