//! Confinement for the untrusted processes the judge starts: the adapter that
//! runs student code, and the student's `cargo build`.
//!
//! A [`Policy`] says what the process may touch; [`Prepared::prepare`] turns it
//! into kernel objects in the parent; [`Prepared::apply_to`] installs them on a
//! [`Command`], to take effect in the child between `fork` and `exec`;
//! [`Protections`] says, in words for a report, what is actually in force.
//!
//! # What is confined (Linux)
//!
//! - **Filesystem** (Landlock, every right the running ABI knows, best effort):
//!   the `read` trees may be read and executed, the `write` trees also
//!   written, created in, removed from; everything else is denied, whatever
//!   the uid (root included). Missing paths are skipped.
//! - **Other processes** (Landlock): no `ptrace` attach of a process outside
//!   the sandbox, hence no `/proc/PID/mem`, `stack`, `syscall`; from ABI 6 no
//!   signals to them either. Read-mode introspection (`/proc/PID/environ`,
//!   `maps`, `auxv`) was *not* refused by Landlock on the 6.18 kernel this was
//!   tested on; adapters are kept from it by having no `/proc` at all and, as
//!   root, by the uid drop (tested).
//! - **Network**: a seccomp filter refuses `socket(2)` for every domain but
//!   `AF_UNIX` (so TCP, UDP, raw, netlink, …) and `connect(2)` (pathname and
//!   abstract unix sockets: a root process could otherwise reach e.g. a
//!   container runtime's socket, and Landlock only controls those from ABI 9);
//!   Landlock (ABI ≥ 4) denies TCP bind/connect and (ABI ≥ 6) scopes abstract
//!   unix sockets.
//! - **Privileged syscalls** (seccomp, always): module loading, kexec, reboot,
//!   mount and the new mount API, `unshare`/`setns` and `clone` with namespace
//!   flags, `bpf`, `perf_event_open`, `userfaultfd`, `open_by_handle_at`,
//!   keyrings, clock setting, `io_uring` (its requests bypass seccomp) and a few
//!   more fail with `EPERM`; `clone3` fails with `ENOSYS` (its flags cannot be
//!   inspected; glibc then falls back to `clone`). This matters most when the
//!   process stays root.
//! - **Processes**: `RLIMIT_NPROC`, which counts every process *and thread* of
//!   the real uid, system-wide. It is only meaningful with a uid drop: root is
//!   exempt, and for another uid it counts that user's whole session. So the
//!   constructors set it only together with `drop_to_uid`.
//! - **User**: when the parent runs as root and `drop_to_uid` is set, the child
//!   calls `setgroups([])`, `setresgid`, `setresuid` last, after everything that
//!   needs privilege.
//!
//! # Why the ruleset is prepared before fork
//!
//! Between `fork` and `exec` of a multithreaded parent the child may only make
//! async-signal-safe calls: another thread may have held the allocator's (or
//! any) lock at the moment of the fork, and the child would deadlock on it.
//! So [`Prepared::prepare`] does all the work that allocates or can fail in
//! interesting ways in the parent: it resolves the paths, opens them, creates
//! the Landlock ruleset (its fd is close-on-exec, so it never reaches the
//! confined program), assembles the seccomp BPF program and decides the
//! limits. The `pre_exec` hook then only makes raw syscalls on that memory:
//! `prctl(PR_SET_NO_NEW_PRIVS)`, `setrlimit`, `landlock_restrict_self`,
//! `seccomp(SECCOMP_SET_MODE_FILTER)`, `setgroups`/`setresgid`/`setresuid`.
//! If any of them fails, `spawn` fails with its error: a process is never
//! started less confined than [`Prepared::protections`] said.
//!
//! # What degrades where
//!
//! - Kernel without Landlock (before 5.13, or not enabled at boot): no
//!   filesystem confinement; [`Protections::isolated`] is false and the
//!   messages say why. Older ABIs confine less (ABI < 4: no TCP rules, ABI < 6:
//!   no signal/abstract-socket scoping); the message names the ABI.
//! - seccomp filters are built for x86_64 and aarch64 only; elsewhere the
//!   messages say "not available" for them and UDP/raw sockets stay possible.
//! - Not root: no uid drop, no process limit (see above).
//! - Not Linux: nothing is confined and every message says so.
//!
//! # Limits worth knowing
//!
//! - `/proc` is not in the adapter policy: a ruleset made before fork cannot
//!   name the child's own `/proc/self` (it would resolve to the parent's), and
//!   all of `/proc` would show every process's command line and, to the same
//!   uid, environment. Rust's std and glibc fall back when
//!   `/proc/self/cgroup` or `/proc/self/maps` cannot be read.
//! - A build as root without a uid drop is still root inside its Landlock
//!   domain and seccomp filter: it cannot read, write, mount, load modules or
//!   reach the network outside the policy, but it is not `nobody`.
//! - Without Landlock ABI 9, a confined process can still `sendmsg` to a
//!   pathname unix datagram socket it may write to (e.g. `/dev/log`); stream
//!   sockets need `connect(2)`, which seccomp refuses.
//! - Read access is per tree: give the adapter binary a folder of its own, or
//!   it may read everything beside it (e.g. all of `target/debug`).
//! - Already-open file descriptors are not affected by Landlock: spawn with
//!   only the pipes the process should have.
//! - The process limit is per uid: adapters run in parallel under the same uid
//!   share it; give each job its own uid (or a larger limit).
//! - No memory or CPU limits here: the judge's timeouts handle time.

use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

/// `nobody`'s uid and gid on Debian, Ubuntu, Fedora, Alpine.
pub const NOBODY: (u32, u32) = (65534, 65534);

/// What every dynamically linked Rust binary (glibc) needs to start, read-only.
const SYSTEM_READ: &[&str] = &[
    "/usr",
    "/lib",
    "/lib64",
    "/lib32",
    "/etc/ld.so.cache",
    "/etc/ld.so.preload",
    "/dev/null",
    "/dev/zero",
    "/dev/urandom",
    "/dev/random",
    // CPU counts for thread pools (glibc's get_nprocs, std's fallbacks).
    "/sys/devices/system/cpu",
];

/// What a build may read beyond [`SYSTEM_READ`]: user lookups (cargo finds
/// the home folder through them when `HOME` is unset).
const BUILD_READ: &[&str] = &["/etc/passwd", "/etc/group", "/etc/nsswitch.conf"];

/// What the untrusted process may touch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    /// Read-only (and execute) trees or files.
    pub read: Vec<PathBuf>,
    /// Read-write trees or files. Missing directories are created by
    /// [`Prepared::prepare`] (they are the sandbox's outputs).
    pub write: Vec<PathBuf>,
    /// No network: see the module documentation.
    pub no_network: bool,
    /// `RLIMIT_NPROC`: processes *and threads* of the real uid, all of them
    /// system-wide, not only the sandbox's. Root is exempt, so without a uid
    /// drop it does nothing for root; for another uid it counts that user's
    /// whole session (a desktop user already has hundreds of threads).
    pub max_processes: Option<u64>,
    /// `(uid, gid)` to switch to when the parent runs as root (euid 0); `None`
    /// stays. Not root: ignored (and said so in [`Protections::user`]).
    pub drop_to_uid: Option<(u32, u32)>,
    /// `TMPDIR` for the process; created by [`Prepared::prepare`]. It should be
    /// inside a `write` tree.
    pub tmpdir: Option<PathBuf>,
    /// Where programs may be executed from (Landlock's execute right):
    /// `None`, wherever the process may read. With `Some`, nothing it could
    /// write or be handed can run: a file its build just wrote, another
    /// student's binary it found. (`memfd_create` and `execveat`, the way
    /// to run a file that is not on disk, are refused by seccomp always.)
    pub exec: Option<Vec<PathBuf>>,
}

/// Where the system's programs and its dynamic loader live: what every
/// confined program may execute.
const SYSTEM_EXEC: &[&str] = &["/usr", "/lib", "/lib64", "/lib32", "/bin", "/sbin"];

impl Policy {
    /// An adapter: read and execute its binary's folder and the system's
    /// libraries, write nothing, no network, at most
    /// [`adapter_process_limit`] processes and threads, and `nobody` when
    /// running as root (the binary and its folder must then be readable by
    /// `nobody`). Not root: no uid drop and no process limit.
    pub fn for_adapter(binary: &Path) -> Policy {
        let binary = std::fs::canonicalize(binary).unwrap_or_else(|_| binary.to_path_buf());
        let mut read = Vec::new();
        if let Some(dir) = binary.parent().filter(|d| !d.as_os_str().is_empty()) {
            read.push(dir.to_path_buf());
        }
        read.extend(SYSTEM_READ.iter().map(PathBuf::from));
        let drop_to_uid = running_as_root().then_some(NOBODY);
        // It runs as the binary it is, and may start the system's programs
        // (still confined), nothing else.
        let mut exec = vec![binary.clone()];
        exec.extend(SYSTEM_EXEC.iter().map(PathBuf::from));
        Policy {
            read,
            write: Vec::new(),
            no_network: true,
            max_processes: drop_to_uid.map(|_| adapter_process_limit()),
            drop_to_uid,
            tmpdir: None,
            exec: Some(exec),
        }
    }

    /// A student's `cargo build`: read the staged copy, the Rust toolchain
    /// (`RUSTUP_HOME` or `~/.rustup`; of `CARGO_HOME` or `~/.cargo` its `bin`,
    /// `registry`, `git` and `config.toml`, not its credentials) and the
    /// system; write `target_dir` (with `TMPDIR` at `target_dir/tmp`) and
    /// `/dev/null`; no network.
    ///
    /// Run it as `cargo build --offline --locked --target-dir TARGET_DIR`: the
    /// staged copy is read-only, so its `Cargo.lock` must exist and be current,
    /// and the dependencies must already be downloaded and unpacked in
    /// `CARGO_HOME` (run `cargo fetch` outside the sandbox first).
    ///
    /// No uid drop (the toolchain usually lives in root's 0700 home) and so no
    /// process limit; set both when the toolchain, the staged copy and the
    /// target dir are accessible to the uid.
    ///
    /// It executes only the toolchain and the system's programs: never a
    /// build script or binary in the target dir (so the dependencies must be
    /// built beforehand, outside it: `grade --submission` builds the clean
    /// kit first), nor anything the staged copy holds.
    pub fn for_build(staged_copy: &Path, target_dir: &Path) -> Policy {
        let mut read = vec![staged_copy.to_path_buf()];
        read.extend(toolchain_dirs());
        read.extend(SYSTEM_READ.iter().map(PathBuf::from));
        read.extend(BUILD_READ.iter().map(PathBuf::from));
        let mut exec = toolchain_dirs();
        exec.extend(SYSTEM_EXEC.iter().map(PathBuf::from));
        Policy {
            read,
            write: vec![target_dir.to_path_buf(), PathBuf::from("/dev/null")],
            no_network: true,
            max_processes: None,
            drop_to_uid: None,
            tmpdir: Some(target_dir.join("tmp")),
            exec: Some(exec),
        }
    }
}

/// What every confined process may read whatever its policy: the system's
/// files, the user lookups and the toolchain. A kit, a hidden fixture set
/// or a work folder kept below one of these would be readable by every
/// student's build and code: [`under_always_readable`] finds that.
pub fn always_readable() -> Vec<PathBuf> {
    let mut paths: Vec<PathBuf> = SYSTEM_READ
        .iter()
        .chain(BUILD_READ)
        .map(PathBuf::from)
        .collect();
    paths.extend(toolchain_dirs());
    paths
}

/// The always-readable path (see [`always_readable`]) that `path` lies
/// below, if any.
pub fn under_always_readable(path: &Path) -> Option<PathBuf> {
    let path = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    always_readable().into_iter().find(|allowed| {
        let allowed = std::fs::canonicalize(allowed).unwrap_or_else(|_| allowed.clone());
        path.starts_with(&allowed)
    })
}

/// The adapter's process limit: room for candle's and rayon's thread pools
/// (about two threads a core, plus the main thread and the harness's) but not
/// for a fork bomb: `max(64, 2 × cores + 16)`.
pub fn adapter_process_limit() -> u64 {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get()) as u64;
    (2 * cores + 16).max(64)
}

/// The Rust toolchain: `RUSTUP_HOME` (default `~/.rustup`), and of
/// `CARGO_HOME` (default `~/.cargo`) only the proxies, the downloaded
/// dependencies and the configuration, not `credentials.toml`: a build script
/// could embed a registry token in the binary it builds.
fn toolchain_dirs() -> Vec<PathBuf> {
    let home = std::env::var_os("HOME").map(PathBuf::from);
    let dir = |var: &str, default: &str| match std::env::var_os(var) {
        Some(dir) if !dir.is_empty() => Some(PathBuf::from(dir)),
        _ => home.as_ref().map(|h| h.join(default)),
    };
    let mut dirs: Vec<PathBuf> = dir("RUSTUP_HOME", ".rustup").into_iter().collect();
    if let Some(cargo) = dir("CARGO_HOME", ".cargo") {
        for part in ["bin", "registry", "git", "config.toml", "config"] {
            dirs.push(cargo.join(part));
        }
    }
    dirs
}

fn running_as_root() -> bool {
    #[cfg(unix)]
    {
        // SAFETY: geteuid has no preconditions and cannot fail.
        unsafe { libc::geteuid() == 0 }
    }
    #[cfg(not(unix))]
    {
        false
    }
}

/// What will be in force in a process started with [`Prepared::apply_to`], in
/// words for a report. `filesystem` starts with `"Landlock ABI N"` exactly when
/// the filesystem is confined; an unavailable protection starts with
/// `"not available"`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Protections {
    pub filesystem: String,
    pub network: String,
    pub processes: String,
    pub user: String,
    /// The seccomp filter on privileged syscalls.
    pub syscalls: String,
}

impl Protections {
    /// One line for a report.
    pub fn summary(&self) -> String {
        format!(
            "filesystem: {}; network: {}; processes: {}; user: {}; syscalls: {}",
            self.filesystem, self.network, self.processes, self.user, self.syscalls
        )
    }

    /// Whether filesystem confinement is in force.
    pub fn isolated(&self) -> bool {
        self.filesystem.starts_with("Landlock ABI")
    }
}

/// A [`Policy`] turned into kernel objects, built in the parent before any
/// fork; share it with an [`Arc`] across spawns and threads.
pub struct Prepared {
    protections: Protections,
    tmpdir: Option<PathBuf>,
    #[cfg(target_os = "linux")]
    plan: linux::Plan,
}

impl std::fmt::Debug for Prepared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Prepared")
            .field("protections", &self.protections)
            .field("tmpdir", &self.tmpdir)
            .finish_non_exhaustive()
    }
}

impl Prepared {
    /// Resolves the paths, creates the Landlock ruleset and the seccomp
    /// program. Never fails: whatever is unavailable is said in
    /// [`Prepared::protections`].
    pub fn prepare(policy: &Policy) -> Prepared {
        for dir in policy.write.iter().chain(&policy.tmpdir) {
            if !dir.exists() {
                let _ = std::fs::create_dir_all(dir);
            }
        }
        #[cfg(target_os = "linux")]
        {
            let (plan, protections) = linux::prepare(policy);
            Prepared {
                protections,
                tmpdir: policy.tmpdir.clone(),
                plan,
            }
        }
        #[cfg(not(target_os = "linux"))]
        {
            let why = format!(
                "not available: {} has no Landlock or seccomp; nothing is confined",
                std::env::consts::OS
            );
            Prepared {
                protections: Protections {
                    filesystem: why.clone(),
                    network: why.clone(),
                    processes: why.clone(),
                    user: "stays the current user (not available off Linux)".into(),
                    syscalls: why,
                },
                tmpdir: policy.tmpdir.clone(),
            }
        }
    }

    /// What will be in force in the processes this starts.
    pub fn protections(&self) -> Protections {
        self.protections.clone()
    }

    /// Installs the confinement on `command` as a `pre_exec` hook (the child
    /// only makes raw syscalls on what [`Prepared::prepare`] built), and sets
    /// `TMPDIR` when the policy has one. If the confinement cannot be applied
    /// in the child, `spawn` fails with that error.
    pub fn apply_to(self: &Arc<Self>, command: &mut Command) {
        if let Some(dir) = &self.tmpdir {
            command.env("TMPDIR", dir);
        }
        #[cfg(target_os = "linux")]
        {
            use std::os::unix::process::CommandExt;
            let me = Arc::clone(self);
            // SAFETY: the hook is async-signal-safe: Plan::apply_in_child only
            // reads memory built before the fork and makes raw syscalls; it
            // neither allocates nor takes locks.
            unsafe {
                command.pre_exec(move || me.plan.apply_in_child());
            }
        }
    }
}

#[cfg(target_os = "linux")]
mod linux {
    use super::{running_as_root, Policy, Protections};
    use std::io;
    use std::os::fd::{AsRawFd, OwnedFd};
    use std::path::PathBuf;

    /// What the child applies, all built before the fork.
    pub(super) struct Plan {
        ruleset: Option<OwnedFd>,
        filter: Option<Vec<libc::sock_filter>>,
        nproc: Option<u64>,
        ids: Option<(u32, u32)>,
    }

    fn last_error() -> io::Error {
        io::Error::last_os_error()
    }

    impl Plan {
        /// Runs in the child between fork and exec: raw syscalls only.
        pub(super) fn apply_in_child(&self) -> io::Result<()> {
            // SAFETY: every call is a plain syscall on values and on memory
            // (`filter`) that outlives the child's use of it; none allocates.
            unsafe {
                if libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 {
                    return Err(last_error());
                }
                if let Some(n) = self.nproc {
                    let limit = libc::rlimit {
                        rlim_cur: n as libc::rlim_t,
                        rlim_max: n as libc::rlim_t,
                    };
                    if libc::setrlimit(libc::RLIMIT_NPROC, &limit) != 0 {
                        return Err(last_error());
                    }
                }
                if let Some(fd) = &self.ruleset {
                    if libc::syscall(libc::SYS_landlock_restrict_self, fd.as_raw_fd(), 0u32) != 0 {
                        return Err(last_error());
                    }
                }
                if let Some(filter) = &self.filter {
                    let program = libc::sock_fprog {
                        len: filter.len() as libc::c_ushort,
                        filter: filter.as_ptr() as *mut libc::sock_filter,
                    };
                    let program: *const libc::sock_fprog = &program;
                    if libc::syscall(
                        libc::SYS_seccomp,
                        libc::SECCOMP_SET_MODE_FILTER,
                        0u32,
                        program,
                    ) != 0
                    {
                        return Err(last_error());
                    }
                }
                if let Some((uid, gid)) = self.ids {
                    // Raw syscalls: they change only this (the only) thread.
                    if libc::syscall(libc::SYS_setgroups, 0usize, std::ptr::null::<libc::gid_t>())
                        != 0
                        || libc::syscall(libc::SYS_setresgid, gid, gid, gid) != 0
                        || libc::syscall(libc::SYS_setresuid, uid, uid, uid) != 0
                    {
                        return Err(last_error());
                    }
                    if libc::getuid() != uid || libc::geteuid() != uid || libc::getegid() != gid {
                        return Err(io::Error::from_raw_os_error(libc::EPERM));
                    }
                }
            }
            Ok(())
        }
    }

    /// `landlock_create_ruleset(NULL, 0, LANDLOCK_CREATE_RULESET_VERSION)`:
    /// the kernel's ABI, or its errno.
    fn landlock_abi() -> Result<i64, i32> {
        const LANDLOCK_CREATE_RULESET_VERSION: u32 = 1;
        // SAFETY: the version query reads no memory.
        let v = unsafe {
            libc::syscall(
                libc::SYS_landlock_create_ruleset,
                std::ptr::null::<libc::c_void>(),
                0usize,
                LANDLOCK_CREATE_RULESET_VERSION,
            )
        };
        if v < 0 {
            Err(io::Error::last_os_error().raw_os_error().unwrap_or(0))
        } else {
            Ok(v)
        }
    }

    /// Canonical, deduplicated, existing paths; and how many were missing.
    fn resolve(paths: &[PathBuf], seen: &mut Vec<PathBuf>) -> (Vec<PathBuf>, usize) {
        let mut out = Vec::new();
        let mut missing = 0;
        for path in paths {
            match std::fs::canonicalize(path) {
                Ok(p) if !seen.contains(&p) => {
                    seen.push(p.clone());
                    out.push(p);
                }
                Ok(_) => {}
                Err(_) => missing += 1,
            }
        }
        (out, missing)
    }

    struct Landlock {
        fd: OwnedFd,
        abi: i64,
    }

    fn landlock_ruleset(
        policy: &Policy,
        read: &[PathBuf],
        write: &[PathBuf],
        exec: Option<&[PathBuf]>,
    ) -> Result<Landlock, String> {
        use landlock::{
            Access, AccessFs, AccessNet, PathBeneath, PathFd, Ruleset, RulesetAttr,
            RulesetCreatedAttr, Scope, ABI,
        };
        let abi = match landlock_abi() {
            Ok(v) if v >= 1 => v,
            Ok(v) => return Err(format!("not available: Landlock ABI {v}")),
            Err(libc::ENOSYS) => {
                return Err("not available: this kernel has no Landlock (ENOSYS)".into())
            }
            Err(libc::EOPNOTSUPP) => {
                return Err("not available: Landlock is not enabled at boot (EOPNOTSUPP)".into())
            }
            Err(e) => {
                return Err(format!(
                    "not available: Landlock ABI query failed: errno {e}"
                ))
            }
        };
        // The newest ABI this crate names; best effort keeps what the kernel knows.
        let all = ABI::V10;
        let fail = |e: landlock::RulesetError| format!("not available: Landlock ruleset: {e}");
        let mut ruleset = Ruleset::default()
            .handle_access(AccessFs::from_all(all))
            .map_err(fail)?
            .scope(Scope::Signal)
            .map_err(fail)?;
        if policy.no_network {
            ruleset = ruleset
                .handle_access(AccessNet::from_all(all))
                .map_err(fail)?
                .scope(Scope::AbstractUnixSocket)
                .map_err(fail)?;
        }
        let mut created = ruleset.create().map_err(fail)?;
        // With an exec list, the read and write trees lose the execute
        // right, which only the exec trees have.
        let no_exec = |access: landlock::BitFlags<AccessFs>| {
            if exec.is_some() {
                access & !AccessFs::Execute
            } else {
                access
            }
        };
        let exec_rules = exec
            .into_iter()
            .flatten()
            .map(|p| (p, AccessFs::Execute | AccessFs::ReadFile));
        let rules = read
            .iter()
            .map(|p| (p, no_exec(AccessFs::from_read(all))))
            .chain(write.iter().map(|p| (p, no_exec(AccessFs::from_all(all)))))
            .chain(exec_rules);
        for (path, access) in rules {
            let Ok(fd) = PathFd::new(path) else { continue };
            let access = if path.is_dir() {
                access
            } else {
                access & AccessFs::from_file(all)
            };
            created = created
                .add_rule(PathBeneath::new(fd, access))
                .map_err(fail)?;
        }
        let fd: Option<OwnedFd> = created.into();
        match fd {
            Some(fd) => Ok(Landlock {
                fd,
                abi: abi.min(all as i64),
            }),
            None => Err("not available: Landlock ruleset was not created".into()),
        }
    }

    pub(super) fn prepare(policy: &Policy) -> (Plan, Protections) {
        let mut seen = Vec::new();
        // Writes first, so a path in both lists counts (and is granted) as a write.
        let (write, missing_w) = resolve(&policy.write, &mut seen);
        let (read, missing_r) = resolve(&policy.read, &mut seen);
        let exec = policy
            .exec
            .as_ref()
            .map(|paths| resolve(paths, &mut Vec::new()).0);
        let landlock = landlock_ruleset(policy, &read, &write, exec.as_deref());
        let abi = landlock.as_ref().map_or(0, |l| l.abi);

        let filesystem = match &landlock {
            Ok(l) => {
                let writes = if write.is_empty() {
                    "no writes".to_string()
                } else {
                    format!("writes limited to {} paths", write.len())
                };
                let missing = missing_r + missing_w;
                let skipped = if missing > 0 {
                    format!(" ({missing} missing paths skipped)")
                } else {
                    String::new()
                };
                let runs = match &exec {
                    Some(paths) => format!(
                        ", executes only under {} paths (the toolchain's, the system's, its own binary)",
                        paths.len()
                    ),
                    None => String::new(),
                };
                format!(
                    "Landlock ABI {}: reads limited to {} paths, {writes}{runs}{skipped}",
                    l.abi,
                    read.len() + write.len()
                )
            }
            Err(why) => why.clone(),
        };

        let seccomp = seccomp::available();
        let filter = seccomp
            .as_ref()
            .ok()
            .map(|_| seccomp::program(policy.no_network));

        let network = if !policy.no_network {
            "allowed by the policy".to_string()
        } else {
            let mut parts = Vec::new();
            if filter.is_some() {
                parts.push("seccomp refuses socket(2) except AF_UNIX, and connect(2)".to_string());
            }
            if abi >= 4 {
                let scoped = if abi >= 6 {
                    " and scopes abstract unix sockets"
                } else {
                    ""
                };
                parts.push(format!(
                    "Landlock ABI {abi} denies TCP bind/connect{scoped}"
                ));
            }
            match (parts.is_empty(), &seccomp) {
                (true, Err(why)) => {
                    format!("not available: {why}; Landlock ABI {abi} has no network rules")
                }
                (true, Ok(())) => "not available".to_string(),
                (false, Err(why)) => format!(
                    "{} (UDP and raw sockets still possible: {why})",
                    parts.join("; ")
                ),
                (false, Ok(())) => format!("denied: {}", parts.join("; ")),
            }
        };

        let root = running_as_root();
        // SAFETY: geteuid has no preconditions.
        let euid = unsafe { libc::geteuid() };
        let ids = if root { policy.drop_to_uid } else { None };
        let limit = match (policy.max_processes, ids) {
            (None, _) => "not limited (no RLIMIT_NPROC)".to_string(),
            (Some(n), Some((uid, _))) => format!(
                "at most {n} processes and threads (RLIMIT_NPROC, shared by every process of uid {uid})"
            ),
            (Some(n), None) if root => format!(
                "RLIMIT_NPROC {n} set but not enforced: root (uid 0) is exempt without a uid drop"
            ),
            (Some(n), None) => format!(
                "RLIMIT_NPROC {n}, counting every process and thread of uid {euid}, not only the sandbox's"
            ),
        };
        let outside = match abi {
            0 => String::new(),
            1..=5 => "; Landlock: no ptrace attach (so no /proc/PID/mem) of outside processes".to_string(),
            _ => "; Landlock: no ptrace attach (so no /proc/PID/mem) of, or signals to, outside processes".to_string(),
        };
        let processes = format!("{limit}{outside}");

        let user = match (policy.drop_to_uid, root) {
            (Some((uid, gid)), true) => {
                format!("drops to uid {uid}, gid {gid}, no supplementary groups")
            }
            (Some((uid, _)), false) => {
                format!("stays uid {euid}: not root, so no drop to uid {uid}")
            }
            (None, true) => "stays root (uid 0): no uid drop".to_string(),
            (None, false) => format!("stays uid {euid}"),
        };

        let syscalls = match &seccomp {
            Ok(()) => format!(
                "seccomp ({}) refuses {} privileged syscalls (modules, kexec, mount, namespaces, bpf, perf, io_uring, memfd_create and execveat, …); clone3 reports ENOSYS",
                std::env::consts::ARCH,
                seccomp::DENIED.len()
            ),
            Err(why) => format!("not available: {why}"),
        };

        let plan = Plan {
            ruleset: landlock.ok().map(|l| l.fd),
            filter,
            // Set even where root is exempt: harmless, and it binds children
            // that later drop privileges themselves.
            nproc: policy.max_processes,
            ids,
        };
        let protections = Protections {
            filesystem,
            network,
            processes,
            user,
            syscalls,
        };
        (plan, protections)
    }

    /// The seccomp BPF program, for the architecture this is built for.
    mod seccomp {
        #[cfg(target_arch = "x86_64")]
        const AUDIT_ARCH: Option<u32> = Some(0xC000_003E);
        #[cfg(target_arch = "aarch64")]
        const AUDIT_ARCH: Option<u32> = Some(0xC000_00B7);
        #[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
        const AUDIT_ARCH: Option<u32> = None;

        /// Refused with EPERM, whatever their arguments.
        #[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
        pub(super) const DENIED: &[libc::c_long] = &[
            libc::SYS_init_module,
            libc::SYS_finit_module,
            libc::SYS_delete_module,
            libc::SYS_kexec_load,
            libc::SYS_kexec_file_load,
            libc::SYS_reboot,
            libc::SYS_swapon,
            libc::SYS_swapoff,
            libc::SYS_syslog,
            libc::SYS_acct,
            libc::SYS_quotactl,
            libc::SYS_quotactl_fd,
            libc::SYS_settimeofday,
            libc::SYS_clock_settime,
            libc::SYS_clock_adjtime,
            libc::SYS_adjtimex,
            libc::SYS_sethostname,
            libc::SYS_setdomainname,
            #[cfg(target_arch = "x86_64")]
            libc::SYS_iopl,
            #[cfg(target_arch = "x86_64")]
            libc::SYS_ioperm,
            libc::SYS_vhangup,
            libc::SYS_mount,
            libc::SYS_umount2,
            libc::SYS_pivot_root,
            libc::SYS_chroot,
            libc::SYS_fsopen,
            libc::SYS_fsmount,
            libc::SYS_fsconfig,
            libc::SYS_fspick,
            libc::SYS_move_mount,
            libc::SYS_open_tree,
            libc::SYS_mount_setattr,
            libc::SYS_unshare,
            libc::SYS_setns,
            libc::SYS_bpf,
            libc::SYS_perf_event_open,
            libc::SYS_userfaultfd,
            libc::SYS_open_by_handle_at,
            libc::SYS_fanotify_init,
            libc::SYS_keyctl,
            libc::SYS_add_key,
            libc::SYS_request_key,
            libc::SYS_io_uring_setup,
            libc::SYS_io_uring_enter,
            libc::SYS_io_uring_register,
            // A program that is not a file on disk (an embedded copy of
            // another student's binary, say) runs through these; Landlock
            // does not see in-memory files.
            libc::SYS_memfd_create,
            libc::SYS_execveat,
        ];
        #[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
        pub(super) const DENIED: &[libc::c_long] = &[];

        const CLONE_NAMESPACES: u32 = (libc::CLONE_NEWNS
            | libc::CLONE_NEWCGROUP
            | libc::CLONE_NEWUTS
            | libc::CLONE_NEWIPC
            | libc::CLONE_NEWUSER
            | libc::CLONE_NEWPID
            | libc::CLONE_NEWNET) as u32;

        // struct seccomp_data: int nr; u32 arch; u64 ip; u64 args[6] (little endian).
        const NR: u32 = 0;
        const ARCH: u32 = 4;
        const ARG0_LOW: u32 = 16;

        const LD_ABS: u16 = 0x20; // BPF_LD | BPF_W | BPF_ABS
        const JEQ: u16 = 0x15; // BPF_JMP | BPF_JEQ | BPF_K
        #[cfg(target_arch = "x86_64")]
        const JGE: u16 = 0x35; // BPF_JMP | BPF_JGE | BPF_K
        const JSET: u16 = 0x45; // BPF_JMP | BPF_JSET | BPF_K
        const RET: u16 = 0x06; // BPF_RET | BPF_K
        const ALLOW: u32 = 0x7fff_0000; // SECCOMP_RET_ALLOW
        const fn errno(e: i32) -> u32 {
            0x0005_0000 | (e as u32 & 0xffff) // SECCOMP_RET_ERRNO
        }

        fn op(code: u16, k: u32) -> libc::sock_filter {
            libc::sock_filter {
                code,
                jt: 0,
                jf: 0,
                k,
            }
        }
        fn jump(code: u16, k: u32, jt: u8, jf: u8) -> libc::sock_filter {
            libc::sock_filter { code, jt, jf, k }
        }
        /// `if nr == k { return ret }`
        fn refuse(nr: libc::c_long, ret: u32) -> [libc::sock_filter; 2] {
            [jump(JEQ, nr as u32, 0, 1), op(RET, ret)]
        }

        /// Whether seccomp filters work here (kernel and architecture).
        pub(super) fn available() -> Result<(), String> {
            if AUDIT_ARCH.is_none() {
                return Err(format!(
                    "no seccomp filter for {} in this build",
                    std::env::consts::ARCH
                ));
            }
            const SECCOMP_GET_ACTION_AVAIL: u32 = 2;
            let action: u32 = errno(0) & 0xffff_0000;
            // SAFETY: reads one u32 that outlives the call.
            let r = unsafe {
                libc::syscall(
                    libc::SYS_seccomp,
                    SECCOMP_GET_ACTION_AVAIL,
                    0u32,
                    &action as *const u32,
                )
            };
            if r == 0 {
                Ok(())
            } else {
                Err(format!(
                    "the kernel has no seccomp filters ({})",
                    std::io::Error::last_os_error()
                ))
            }
        }

        pub(super) fn program(no_network: bool) -> Vec<libc::sock_filter> {
            let arch = AUDIT_ARCH.unwrap_or(0);
            let mut p = vec![
                // Another architecture's syscall numbers (e.g. int 0x80 on x86_64).
                op(LD_ABS, ARCH),
                jump(JEQ, arch, 1, 0),
                op(RET, errno(libc::EPERM)),
                op(LD_ABS, NR),
            ];
            // The x32 ABI: the same numbers with bit 30 set.
            #[cfg(target_arch = "x86_64")]
            p.extend([jump(JGE, 0x4000_0000, 0, 1), op(RET, errno(libc::EPERM))]);
            p.extend(refuse(libc::SYS_clone3, errno(libc::ENOSYS)));
            for &nr in DENIED {
                p.extend(refuse(nr, errno(libc::EPERM)));
            }
            if no_network {
                p.extend(refuse(libc::SYS_connect, errno(libc::EACCES)));
            }
            // clone(flags, ...) with a namespace flag.
            p.extend([
                jump(JEQ, libc::SYS_clone as u32, 0, 3),
                op(LD_ABS, ARG0_LOW),
                jump(JSET, CLONE_NAMESPACES, 0, 1),
                op(RET, errno(libc::EPERM)),
                op(LD_ABS, NR),
            ]);
            if no_network {
                // socket(domain, ...) with domain != AF_UNIX.
                p.extend([
                    jump(JEQ, libc::SYS_socket as u32, 0, 3),
                    op(LD_ABS, ARG0_LOW),
                    jump(JEQ, libc::AF_UNIX as u32, 1, 0),
                    op(RET, errno(libc::EACCES)),
                ]);
            }
            p.push(op(RET, ALLOW));
            p
        }
    }
}
