//! The processes a grading run starts (workers, builds, adapters) and what
//! is done so that none of them can read the caller's secrets, hold the run
//! up, or outlive it:
//!
//! - [`clean_env`]: an environment built from an allow-list, never the
//!   caller's tokens;
//! - [`close_descriptors_from`]: every descriptor but the protocol's closed
//!   at exec (Landlock does not govern descriptors already open);
//! - [`spawn`], [`sweep`]: the launcher and each judge are child subreapers
//!   ([`become_subreaper`]): whatever a child leaves behind (a process that
//!   left its group with `setsid`, a daemon) is re-parented to them, and
//!   [`sweep`] kills every child they did not start themselves;
//! - [`kill_uid`]: as root, every process of a sandbox uid;
//! - [`Capture`]: reading a child's output with a cap on what is kept.

use std::collections::BTreeSet;
use std::io::Read;
use std::process::{Child, Command};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// What a grading run's processes may see of the caller's environment:
/// what cargo, rustc and the kit read, and nothing else (no `*_TOKEN`, no
/// cloud credentials, no `SSH_AUTH_SOCK`).
pub const ENV_ALLOWED: &[&str] = &[
    "PATH",
    "HOME",
    "LANG",
    "LC_ALL",
    "TZ",
    // The toolchain.
    "RUSTUP_HOME",
    "RUSTUP_TOOLCHAIN",
    "CARGO_HOME",
    "CARGO_TARGET_DIR",
    "CARGO_BUILD_JOBS",
    "CARGO_INCREMENTAL",
    "CARGO_TERM_COLOR",
    "RUSTFLAGS",
    "CARGO_ENCODED_RUSTFLAGS",
    // Thread counts the workers and exercise 09 read.
    "RAYON_NUM_THREADS",
    "FLASH_ATTENTION_THREADS",
    "FLASH_NO_SIMD",
];

/// Clears `command`'s environment and passes on only [`ENV_ALLOWED`].
pub fn clean_env(command: &mut Command) -> &mut Command {
    command.env_clear();
    for name in ENV_ALLOWED {
        if let Some(value) = std::env::var_os(name) {
            command.env(name, value);
        }
    }
    command
}

/// In a `pre_exec` hook: marks every descriptor from `first` up
/// close-on-exec, so that the program starts with 0..first only.
/// Async-signal-safe (raw syscalls only).
pub fn close_descriptors_from(first: i32) -> std::io::Result<()> {
    cloexec_range(first, i32::MAX)
}

/// [`close_descriptors_from`]`(first)`, but for `keep`, which stays open
/// across exec (its close-on-exec flag is cleared). Async-signal-safe.
pub fn close_descriptors_but(first: i32, keep: i32) -> std::io::Result<()> {
    if keep < first {
        return close_descriptors_from(first);
    }
    cloexec_range(first, keep - 1)?;
    cloexec_range(keep + 1, i32::MAX)?;
    // SAFETY: fcntl(2) on a descriptor number.
    if unsafe { libc::fcntl(keep, libc::F_SETFD, 0) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

/// Marks `first..=last` close-on-exec.
fn cloexec_range(first: i32, last: i32) -> std::io::Result<()> {
    if last < first {
        return Ok(());
    }
    const CLOSE_RANGE_CLOEXEC: libc::c_uint = 1 << 2;
    // SAFETY: close_range(2) takes plain integers.
    let done = unsafe {
        libc::syscall(
            libc::SYS_close_range,
            first as libc::c_uint,
            last as libc::c_uint,
            CLOSE_RANGE_CLOEXEC,
        )
    };
    if done == 0 {
        return Ok(());
    }
    // Kernels before 5.11: one fcntl per possible descriptor.
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit(2) writes one struct that outlives the call.
    let max = if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } == 0 {
        limit.rlim_cur.min(1 << 20) as i32
    } else {
        1 << 16
    };
    for fd in first..max.min(last.saturating_add(1)) {
        // SAFETY: fcntl(2) on a descriptor number; a closed one is EBADF.
        unsafe {
            libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC);
        }
    }
    Ok(())
}

/// Children this process started itself; [`sweep`] kills every other one.
static KNOWN: Mutex<BTreeSet<u32>> = Mutex::new(BTreeSet::new());

/// Set by [`become_subreaper`]: only a process that is one sweeps (a test
/// binary that calls the launcher's functions in-process has children of
/// its own that it did not start through [`spawn`]).
static SUBREAPER: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

fn known() -> MutexGuard<'static, BTreeSet<u32>> {
    KNOWN.lock().unwrap_or_else(|e| e.into_inner())
}

/// Makes this process the one its descendants' orphans are re-parented to
/// (Linux's child subreaper), so that [`sweep`] can find and end them.
pub fn become_subreaper() {
    #[cfg(target_os = "linux")]
    // SAFETY: prctl(2) with integer arguments.
    unsafe {
        if libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0 {
            SUBREAPER.store(true, std::sync::atomic::Ordering::SeqCst);
        }
    }
}

/// Spawns `command` as a child [`sweep`] leaves alone, until [`forget`].
pub fn spawn(command: &mut Command) -> std::io::Result<Child> {
    // Held across the spawn: a sweep in another thread never sees the new
    // child before it is known.
    let mut known = known();
    let child = crate::confine::spawn_retrying(command)?;
    known.insert(child.id());
    Ok(child)
}

/// `pid` (spawned by [`spawn`]) has been waited for.
pub fn forget(pid: u32) {
    known().remove(&pid);
}

/// Kills and reaps every child of this process that [`spawn`] did not
/// start: what the processes it started left behind, re-parented here.
/// Only in a process that [`become_subreaper`] made one.
/// Returns how many it ended. Gives up after a second (a process stuck in
/// the kernel); what it could not reap is reaped by a later sweep.
pub fn sweep() -> usize {
    if !SUBREAPER.load(std::sync::atomic::Ordering::SeqCst) {
        return 0;
    }
    let me = std::process::id();
    let deadline = Instant::now() + Duration::from_secs(1);
    let mut ended = BTreeSet::new();
    loop {
        let strays: Vec<u32> = {
            let known = known();
            let strays: Vec<u32> = children_of(me)
                .into_iter()
                .filter(|pid| !known.contains(pid))
                .collect();
            for &pid in &strays {
                // SAFETY: kill(2) of our own child (its parent is us).
                unsafe {
                    libc::kill(pid as i32, libc::SIGKILL);
                }
            }
            strays
        };
        for &pid in &strays {
            // SAFETY: waitpid(2) of our own child, without blocking.
            let reaped = unsafe { libc::waitpid(pid as i32, std::ptr::null_mut(), libc::WNOHANG) };
            if reaped == pid as i32 {
                ended.insert(pid);
            }
        }
        if strays.is_empty() || Instant::now() >= deadline {
            return ended.len();
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// The processes whose parent is `parent` (from `/proc/*/stat`).
pub fn children_of(parent: u32) -> Vec<u32> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return vec![];
    };
    dir.filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| parent_of(*pid) == Some(parent))
        .collect()
}

/// The parent of `pid`: the fourth field of `/proc/PID/stat`, after the
/// command name (which may hold spaces and parentheses).
fn parent_of(pid: u32) -> Option<u32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after = &stat[stat.rfind(')')? + 1..];
    after.split_whitespace().nth(1)?.parse().ok()
}

/// Whether `pid` has exited, without reaping it (so that its `Child` can
/// still be waited for).
pub fn has_exited(pid: u32) -> bool {
    // SAFETY: waitid(2) with WNOWAIT writes into a zeroed struct it owns.
    unsafe {
        let mut info: libc::siginfo_t = std::mem::zeroed();
        let r = libc::waitid(
            libc::P_PID,
            pid as libc::id_t,
            &mut info,
            libc::WEXITED | libc::WNOHANG | libc::WNOWAIT,
        );
        r == 0 && info.si_pid() != 0
    }
}

/// As root: kills every process of `uid` (a sandbox uid that nothing but
/// one submission's adapters uses), wherever it went. Not root: nothing.
pub fn kill_uid(uid: u32) {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 || uid == 0 {
        return;
    }
    // SAFETY: the child makes raw syscalls only (async-signal-safe): it
    // becomes `uid` (this thread only: it is the child's one thread), sends
    // SIGKILL to every process that uid may signal, and exits.
    unsafe {
        // Known while it lives, so that a sweep in another thread leaves it.
        let mut known = known();
        let pid = libc::fork();
        if pid == 0 {
            if libc::syscall(libc::SYS_setresuid, uid, uid, uid) == 0 {
                libc::kill(-1, libc::SIGKILL);
            }
            libc::_exit(0);
        }
        if pid > 0 {
            known.insert(pid as u32);
            drop(known);
            libc::waitpid(pid, std::ptr::null_mut(), 0);
            forget(pid as u32);
        }
    }
}

/// `text` from the student's process, fit for a report: at most `max`
/// characters (the rest said to be cut), control characters but newlines
/// and tabs shown as `?`, so that it cannot redraw a terminal.
pub fn student_text(text: &str, max: usize) -> String {
    let mut out: String = text
        .chars()
        .take(max)
        .map(|c| {
            if c.is_control() && c != '\n' && c != '\t' {
                '?'
            } else {
                c
            }
        })
        .collect();
    let total = text.chars().count();
    if total > max {
        out.push_str(&format!(" […{} more characters cut]", total - max));
    }
    out
}

/// A child's output stream read to its end with bounded memory: the first
/// `head` lines and the last `tail` ones, each line cut at `width`
/// characters, with counts of what was left out. A stream without a
/// newline is one line, cut like any other.
#[derive(Debug, Clone, Default)]
pub struct Capture {
    pub head: Vec<String>,
    pub tail: std::collections::VecDeque<String>,
    /// Lines neither in `head` nor in `tail`.
    pub lines_left_out: usize,
    /// Characters cut off long lines.
    pub chars_cut: usize,
    pub bytes: u64,
    max_head: usize,
    max_tail: usize,
    width: usize,
}

impl Capture {
    pub fn new(max_head: usize, max_tail: usize, width: usize) -> Capture {
        Capture {
            max_head,
            max_tail,
            width,
            ..Capture::default()
        }
    }

    fn push(&mut self, line: String) {
        if self.head.len() < self.max_head {
            self.head.push(line);
            return;
        }
        self.tail.push_back(line);
        if self.tail.len() > self.max_tail {
            self.tail.pop_front();
            self.lines_left_out += 1;
        }
    }

    /// Every line kept, with a line that says what was left out.
    pub fn render(&self) -> String {
        let mut lines: Vec<String> = self.head.clone();
        if self.lines_left_out > 0 {
            lines.push(format!("[… {} lines left out …]", self.lines_left_out));
        }
        lines.extend(self.tail.iter().cloned());
        if self.chars_cut > 0 {
            lines.push(format!("[{} characters of long lines cut]", self.chars_cut));
        }
        lines.join("\n")
    }

    /// Every line kept, in order.
    pub fn lines(&self) -> impl Iterator<Item = &String> {
        self.head.iter().chain(self.tail.iter())
    }
}

/// Calls `line` with each line of `stream` (without its newline), to the
/// end; a line longer than `max` bytes is passed over whole, never held.
pub fn for_each_line(mut stream: impl Read, max: usize, mut line: impl FnMut(&str)) {
    let mut current: Vec<u8> = Vec::new();
    let mut too_long = false;
    let mut chunk = [0u8; 8192];
    loop {
        let n = match stream.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(_) => break,
        };
        for &byte in &chunk[..n] {
            if byte == b'\n' {
                if !too_long {
                    line(&String::from_utf8_lossy(&current));
                }
                current.clear();
                too_long = false;
            } else if too_long {
                // Passed over up to its newline.
            } else if current.len() < max {
                current.push(byte);
            } else {
                too_long = true;
                current = Vec::new();
            }
        }
    }
    if !current.is_empty() && !too_long {
        line(&String::from_utf8_lossy(&current));
    }
}

/// Reads `stream` to its end into `capture` (shared, so that what was read
/// so far can be taken while a process left behind still holds the pipe).
pub fn capture_into(mut stream: impl Read, capture: Arc<Mutex<Capture>>) {
    let width = capture.lock().map_or(0, |c| c.width);
    let mut line: Vec<u8> = Vec::new();
    let mut cut = 0usize;
    let mut chunk = [0u8; 8192];
    let flush = |line: &mut Vec<u8>, cut: &mut usize| {
        let text = String::from_utf8_lossy(line).into_owned();
        let mut c = capture.lock().unwrap_or_else(|e| e.into_inner());
        c.chars_cut += *cut;
        c.push(text);
        line.clear();
        *cut = 0;
    };
    loop {
        let n = match stream.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(_) => break,
        };
        if let Ok(mut c) = capture.lock() {
            c.bytes += n as u64;
        }
        for &byte in &chunk[..n] {
            if byte == b'\n' {
                flush(&mut line, &mut cut);
            } else if line.len() < width {
                line.push(byte);
            } else {
                cut += 1;
            }
        }
    }
    if !line.is_empty() || cut > 0 {
        flush(&mut line, &mut cut);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_capture_keeps_a_bounded_head_and_tail() {
        let text: String = (0..100).map(|i| format!("line {i}\n")).collect();
        let capture = Arc::new(Mutex::new(Capture::new(3, 2, 100)));
        capture_into(text.as_bytes(), capture.clone());
        let c = capture.lock().unwrap();
        assert_eq!(c.head, ["line 0", "line 1", "line 2"]);
        assert_eq!(c.tail, ["line 98", "line 99"]);
        assert_eq!(c.lines_left_out, 95);
        assert!(c.render().contains("[… 95 lines left out …]"));
    }

    #[test]
    fn a_stream_without_newlines_is_cut_not_kept() {
        let long = vec![b'x'; 1 << 20];
        let capture = Arc::new(Mutex::new(Capture::new(3, 2, 80)));
        capture_into(long.as_slice(), capture.clone());
        let c = capture.lock().unwrap();
        assert_eq!(c.head.len(), 1);
        assert_eq!(c.head[0].len(), 80);
        assert_eq!(c.chars_cut, (1 << 20) - 80);
        assert_eq!(c.bytes, 1 << 20);
    }

    #[test]
    fn the_environment_is_an_allow_list() {
        std::env::set_var("GRADER_TEST_SECRET_TOKEN", "hunter2");
        let mut command = Command::new("env");
        clean_env(&mut command).stdout(std::process::Stdio::piped());
        // A known child: the sweep test may run meanwhile.
        let child = spawn(&mut command).unwrap();
        let pid = child.id();
        let out = child.wait_with_output().unwrap();
        forget(pid);
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(!text.contains("hunter2"), "{text}");
        assert!(text.lines().all(|l| ENV_ALLOWED
            .iter()
            .any(|name| l.starts_with(&format!("{name}=")))));
    }

    #[test]
    fn a_sweep_ends_what_a_child_left_behind() {
        become_subreaper();
        // A child that starts a grandchild in a session of its own, then
        // exits: the grandchild is re-parented to us.
        let mut child =
            spawn(Command::new("sh").args(["-c", "setsid sleep 600 & exit 0"])).unwrap();
        child.wait().unwrap();
        forget(child.id());
        let deadline = Instant::now() + Duration::from_secs(5);
        while children_of(std::process::id()).is_empty() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        assert!(sweep() >= 1);
        assert!(children_of(std::process::id()).is_empty());
    }
}
