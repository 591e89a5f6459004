//! Running one worker in its own process, in its own process group, under a
//! time limit and a memory limit. Whatever happens to it (a panic that
//! escapes, an endless loop, an abort, a stack overflow), the launcher
//! keeps every record the worker printed before it stopped.

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

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
    /// The last lines of its stderr (a panic outside a check, an abort message).
    pub stderr_tail: String,
    pub elapsed: Duration,
}

/// Runs `exe args... --token-on-stdin` and collects its records.
pub fn run_worker(exe: &Path, args: &[String], limits: Limits) -> Outcome {
    let start = Instant::now();
    let token = fresh_token();
    let mut command = Command::new(exe);
    command
        .args(args)
        .arg("--token-on-stdin")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        // Backtraces would only slow a panicking worker down.
        .env("RUST_BACKTRACE", "0");
    let memory = limits.memory_bytes;
    let background = limits.background;
    // SAFETY: only async-signal-safe calls (setpgid, setrlimit,
    // setpriority) run between fork and exec.
    unsafe {
        command.pre_exec(move || {
            // A group of its own, so that a timeout kills its threads and
            // any children too.
            libc::setpgid(0, 0);
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
    let mut child = match grader_kit::confine::spawn_retrying(&mut command) {
        Ok(child) => child,
        Err(error) => {
            return Outcome {
                records: vec![],
                planned: vec![],
                end: End::NotStarted(format!("cannot start {}: {error}", exe.display())),
                stderr_tail: String::new(),
                elapsed: start.elapsed(),
            }
        }
    };
    if let Some(mut stdin) = child.stdin.take() {
        // A worker that died at once closed its end; its end says why.
        let _ = writeln!(stdin, "{token}");
    }
    let (sender, receiver) = mpsc::channel();
    let (plan_sender, plan_receiver) = mpsc::channel();
    let stdout = child.stdout.take().expect("piped");
    let done = done_line(&token);
    let reader = std::thread::spawn(move || {
        let mut finished = false;
        for line in BufReader::new(stdout).lines().map_while(|l| l.ok()) {
            if let Some(record) = Record::from_line(&line, &token) {
                let _ = sender.send(record);
            } else if let Some(planned) = Planned::from_line(&line, &token) {
                let _ = plan_sender.send(planned);
            } else if line == done {
                finished = true;
            }
        }
        finished
    });
    let stderr = child.stderr.take().expect("piped");
    let stderr_reader = std::thread::spawn(move || tail(stderr, 20));

    let deadline = start + limits.timeout;
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
                    libc::kill(-(child.id() as i32), libc::SIGKILL);
                }
                let _ = child.wait();
                break End::TimedOut(limits.timeout);
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(10)),
            Err(error) => break End::NotStarted(format!("lost the worker: {error}")),
        }
    };
    // The pipes close when the process group is gone.
    let finished = reader.join().unwrap_or(false);
    let end = match end {
        End::Finished if !finished => End::Exited(0),
        end => end,
    };
    let records = receiver.try_iter().collect();
    let planned = plan_receiver.try_iter().collect();
    let stderr_tail = stderr_reader.join().unwrap_or_default();
    Outcome {
        records,
        planned,
        end,
        stderr_tail,
        elapsed: start.elapsed(),
    }
}

/// A token no student code can guess: 128 bits from the OS.
fn fresh_token() -> String {
    let mut bytes = [0u8; 16];
    if let Ok(mut urandom) = std::fs::File::open("/dev/urandom") {
        let _ = urandom.read_exact(&mut bytes);
    }
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn tail(stream: impl Read, lines: usize) -> String {
    let mut kept = std::collections::VecDeque::new();
    for line in BufReader::new(stream).lines().map_while(|l| l.ok()) {
        if line.trim().is_empty() {
            continue;
        }
        kept.push_back(without_thread_id(&line));
        if kept.len() > lines {
            kept.pop_front();
        }
    }
    kept.into_iter().collect::<Vec<_>>().join("\n")
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
