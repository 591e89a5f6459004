//! Running one worker in its own process, in its own process group, under a
//! time limit and a memory limit. Whatever happens to it (a panic that
//! escapes, an endless loop, an abort, a stack overflow), the launcher
//! keeps every record the worker printed before it stopped.

use std::io::{Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

use grader_kit::process::Capture;

use grader_kit::protocol::{done_line, Planned, Record};

/// Limits for one worker.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub timeout: Duration,
    /// Address-space limit in bytes (RLIMIT_AS); `None` for no limit.
    pub memory_bytes: Option<u64>,
    /// Run at a lower CPU priority (nice 10): a prerequisite graded while
    /// the exercise asked for runs, taking only the CPU that one leaves.
    pub background: bool,
}

/// How a worker's process ended.
#[derive(Debug, Clone, PartialEq)]
pub enum End {
    /// Exit code 0 after the worker's last check.
    Finished,
    /// An exit before the last check: a non-zero code, or 0 from a
    /// `process::exit` in student code.
    Exited(i32),
    /// Killed by a signal it raised itself (abort, segfault, stack overflow).
    Signaled { signal: i32, name: &'static str },
    /// Killed by us after the time limit.
    TimedOut(Duration),
    /// It could not be started at all.
    NotStarted(String),
}

/// One worker run.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub records: Vec<Record>,
    /// Every check the worker announced before running any.
    pub planned: Vec<Planned>,
    pub end: End,
    /// The last lines of its own stderr (a panic outside a check).
    pub stderr_tail: String,
    /// What the student's code printed (stdout and stderr of its adapters),
    /// capped (see [`OutputCap`]).
    pub student_output: String,
    pub elapsed: Duration,
}

/// How much of the student's own output (their `println!`, `dbg!`, what
/// their code wrote on stderr) a report keeps: the first lines and the
/// last ones, each cut at a width. `--case` keeps more.
#[derive(Debug, Clone, Copy)]
pub struct OutputCap {
    pub head: usize,
    pub tail: usize,
    pub width: usize,
}

impl OutputCap {
    pub const RUN: OutputCap = OutputCap {
        head: 40,
        tail: 10,
        width: 300,
    };
    pub const CASE: OutputCap = OutputCap {
        head: 2000,
        tail: 200,
        width: 2000,
    };
}

/// The longest record line read from a worker (a mismatch with its heat
/// map rows is a few kB); a longer one is passed over.
const MAX_RECORD_LINE: usize = 1 << 20;
/// How long the launcher waits for the pipes of a worker that has ended to
/// close, once what it left behind was killed: it never waits on a pipe
/// that a process it could not end still holds.
const PIPE_GRACE: Duration = Duration::from_secs(2);

/// Runs `exe args... --token-on-stdin` and collects its records. The
/// worker gets a pipe of its own for the student's output
/// (`--student-output-fd N`: the judge gives it to the adapters as their
/// stderr), apart from the worker's own stderr.
pub fn run_worker(exe: &Path, args: &[String], limits: Limits, cap: OutputCap) -> Outcome {
    let start = Instant::now();
    let token = fresh_token();
    let not_started = |why: String| Outcome {
        records: vec![],
        planned: vec![],
        end: End::NotStarted(why),
        stderr_tail: String::new(),
        student_output: String::new(),
        elapsed: start.elapsed(),
    };
    let (student_read, student_write) = match pipe() {
        Ok(ends) => ends,
        Err(error) => return not_started(format!("cannot make a pipe: {error}")),
    };
    let mut command = Command::new(exe);
    grader_kit::process::clean_env(&mut command);
    command
        .args(args)
        .arg("--student-output-fd")
        .arg(student_write.as_raw_fd().to_string())
        .arg("--token-on-stdin")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        // Backtraces would only slow a panicking worker down.
        .env("RUST_BACKTRACE", "0");
    let memory = limits.memory_bytes;
    let background = limits.background;
    let student_fd = student_write.as_raw_fd();
    // SAFETY: only async-signal-safe calls (setpgid, dup2, fcntl,
    // close_range, setrlimit, setpriority) run between fork and exec.
    unsafe {
        command.pre_exec(move || {
            // A group of its own, so that a timeout kills its threads and
            // any children too.
            libc::setpgid(0, 0);
            // The student's output pipe, and nothing else of ours past
            // the standard three (a descriptor the caller left open, a pipe
            // of another worker started at the same time).
            grader_kit::process::close_descriptors_but(3, student_fd)?;
            if let Some(bytes) = memory {
                let limit = libc::rlimit {
                    rlim_cur: bytes as libc::rlim_t,
                    rlim_max: bytes as libc::rlim_t,
                };
                libc::setrlimit(libc::RLIMIT_AS, &limit);
            }
            if background {
                libc::setpriority(libc::PRIO_PROCESS, 0, 10);
            }
            Ok(())
        });
    }
    let spawned = grader_kit::process::spawn(&mut command);
    // Our copy of the write end: the pipe ends when the worker's do.
    drop(student_write);
    let mut child = match spawned {
        Ok(child) => child,
        Err(error) => return not_started(format!("cannot start {}: {error}", exe.display())),
    };
    if let Some(mut stdin) = child.stdin.take() {
        // A worker that died at once closed its end; its end says why.
        let _ = writeln!(stdin, "{token}");
    }
    let (sender, receiver) = mpsc::channel();
    let (plan_sender, plan_receiver) = mpsc::channel();
    let stdout = child.stdout.take().expect("piped");
    let done = done_line(&token);
    let finished = Arc::new(AtomicBool::new(false));
    let reader = {
        let finished = finished.clone();
        std::thread::spawn(move || {
            grader_kit::process::for_each_line(stdout, MAX_RECORD_LINE, |line| {
                if let Some(record) = Record::from_line(line, &token) {
                    let _ = sender.send(record);
                } else if let Some(planned) = Planned::from_line(line, &token) {
                    let _ = plan_sender.send(planned);
                } else if line == done {
                    finished.store(true, Ordering::SeqCst);
                }
            })
        })
    };
    let stderr = Arc::new(Mutex::new(Capture::new(0, 20, 1000)));
    let stderr_reader = {
        let capture = stderr.clone();
        let stream = child.stderr.take().expect("piped");
        std::thread::spawn(move || grader_kit::process::capture_into(stream, capture))
    };
    let student = Arc::new(Mutex::new(Capture::new(cap.head, cap.tail, cap.width)));
    let student_reader = {
        let capture = student.clone();
        let stream = std::fs::File::from(student_read);
        std::thread::spawn(move || grader_kit::process::capture_into(stream, capture))
    };

    let deadline = start + limits.timeout;
    let pid = child.id();
    let end = loop {
        match child.try_wait() {
            Ok(Some(status)) => {
                break match (status.code(), status.signal()) {
                    (Some(0), _) => End::Finished,
                    (Some(code), _) => End::Exited(code),
                    (None, Some(signal)) => End::Signaled {
                        signal,
                        name: signal_name(signal),
                    },
                    (None, None) => End::Exited(-1),
                }
            }
            Ok(None) if Instant::now() >= deadline => {
                // SAFETY: kill(2) on the worker's own process group.
                unsafe {
                    libc::kill(-(pid as i32), libc::SIGKILL);
                }
                let _ = child.wait();
                break End::TimedOut(limits.timeout);
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(10)),
            Err(error) => break End::NotStarted(format!("lost the worker: {error}")),
        }
    };
    grader_kit::process::forget(pid);
    // Whatever it left: its group (adapters still in it), then what left
    // the group and was re-parented to us.
    // SAFETY: kill(2) on the worker's own (now empty or orphaned) group.
    unsafe {
        libc::kill(-(pid as i32), libc::SIGKILL);
    }
    grader_kit::process::sweep();
    let grace = Instant::now() + PIPE_GRACE;
    for thread in [reader, stderr_reader, student_reader] {
        while !thread.is_finished() && Instant::now() < grace {
            std::thread::sleep(Duration::from_millis(5));
        }
        if thread.is_finished() {
            let _ = thread.join();
        }
    }
    let end = match end {
        End::Finished if !finished.load(Ordering::SeqCst) => End::Exited(0),
        end => end,
    };
    let records = receiver.try_iter().collect();
    let planned = plan_receiver.try_iter().collect();
    let stderr_tail = stderr
        .lock()
        .map(|c| {
            c.lines()
                .filter(|l| !l.trim().is_empty())
                .map(|l| without_thread_id(l))
                .collect::<Vec<_>>()
                .join("\n")
        })
        .unwrap_or_default();
    let student_output = student
        .lock()
        .map(|c| {
            let mut c = c.clone();
            for line in c.head.iter_mut().chain(c.tail.iter_mut()) {
                *line = grader_kit::process::student_text(&without_thread_id(line), usize::MAX);
            }
            c.render()
        })
        .unwrap_or_default();
    Outcome {
        records,
        planned,
        end,
        stderr_tail,
        student_output,
        elapsed: start.elapsed(),
    }
}

/// A pipe whose two ends are closed on exec.
fn pipe() -> std::io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0; 2];
    // SAFETY: pipe2(2) fills two descriptors that we then own.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: both are fresh descriptors owned by nothing else.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

/// A token no student code can guess: 128 bits from the OS.
fn fresh_token() -> String {
    let mut bytes = [0u8; 16];
    if let Ok(mut urandom) = std::fs::File::open("/dev/urandom") {
        let _ = urandom.read_exact(&mut bytes);
    }
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// "thread 'main' (4242) has overflowed" → "thread 'main' has overflowed":
/// the thread id is noise that would make every report differ.
fn without_thread_id(line: &str) -> String {
    if let Some(rest) = line.strip_prefix("thread '") {
        if let Some((name, after)) = rest.split_once("' (") {
            if let Some((id, tail)) = after.split_once(')') {
                if id.chars().all(|c| c.is_ascii_digit()) {
                    return format!("thread '{name}'{tail}");
                }
            }
        }
    }
    line.to_string()
}

fn signal_name(signal: i32) -> &'static str {
    match signal {
        libc::SIGABRT => "SIGABRT (abort)",
        libc::SIGSEGV => "SIGSEGV (segmentation fault, often a stack overflow)",
        libc::SIGBUS => "SIGBUS (bus error)",
        libc::SIGILL => "SIGILL (illegal instruction)",
        libc::SIGFPE => "SIGFPE (arithmetic error)",
        libc::SIGKILL => "SIGKILL (killed, perhaps out of memory)",
        libc::SIGTERM => "SIGTERM (terminated)",
        _ => "a signal",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thread_ids_are_dropped() {
        assert_eq!(
            without_thread_id("thread 'main' (10137) has overflowed its stack"),
            "thread 'main' has overflowed its stack"
        );
        assert_eq!(without_thread_id("thread 'x' (a) y"), "thread 'x' (a) y");
        assert_eq!(without_thread_id("plain"), "plain");
    }
}
