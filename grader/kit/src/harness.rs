//! The worker's side of a grading run: parse the launcher's arguments, run
//! each check with its panics caught, and print one record per check.
//!
//! A worker is a judge (`grader/checks/NN-name`), run by the launcher as
//! `grader judge NN-name` through [`run_with`] (a test kit's judge is a
//! binary whose `main` is one call to [`run`]). It knows nothing about
//! report formats; the launcher reads its records.

use std::cell::RefCell;
use std::io::Write;
use std::panic::{self, AssertUnwindSafe};

pub use crate::args::WorkerArgs;
pub use crate::failure::{CheckResult, Failure};
use crate::protocol::{CheckStatus, Record};

/// Runs checks and prints their records.
pub struct Worker {
    args: WorkerArgs,
    token: String,
    /// The first pass of [`run`]: announce each check, run none.
    planning: bool,
    /// What the first pass keeps for the second (the fixtures, loaded
    /// and verified once), by name.
    kept: std::collections::HashMap<String, Box<dyn std::any::Any>>,
    /// The connection to the adapters, which the checks call through.
    #[cfg(feature = "tensors")]
    client: crate::client::Client,
}

thread_local! {
    /// The message and location of the last panic, filled by our panic hook.
    /// Per thread: an adapter may run student code on several threads at
    /// once (exercise 06 trains its models side by side), and each thread's
    /// `catch` must see its own panic.
    static LAST_PANIC: RefCell<Option<(String, Option<String>)>> = const { RefCell::new(None) };
}

impl Worker {
    pub fn new(args: WorkerArgs) -> Worker {
        install_panic_hook();
        let mut token = String::from("-");
        if args.token_on_stdin {
            token.clear();
            // Read before any student code runs; stdin is then drained.
            let _ = std::io::stdin().read_line(&mut token);
            token = token.trim().to_string();
        }
        Worker {
            #[cfg(feature = "tensors")]
            client: crate::client::Client::new(&args),
            args,
            token,
            planning: false,
            kept: Default::default(),
        }
    }

    /// The connection to the student's adapter (and the reference's) that
    /// the checks call through: a handle, which closures may keep.
    #[cfg(feature = "tensors")]
    pub fn client(&self) -> crate::client::Client {
        self.client.clone()
    }

    /// A value the worker keeps under `name` ([`Worker::keep`]): the
    /// checks run twice (see [`run`]), and what the first pass loaded need
    /// not be loaded again.
    pub fn kept<T: Clone + 'static>(&self, name: &str) -> Option<T> {
        self.kept.get(name)?.downcast_ref::<T>().cloned()
    }

    /// Keeps `value` under `name` for the rest of the run.
    pub fn keep<T: 'static>(&mut self, name: &str, value: T) {
        self.kept.insert(name.to_string(), Box::new(value));
    }

    pub fn args(&self) -> &WorkerArgs {
        &self.args
    }

    /// The run's seed; property checks derive their RNGs from it.
    pub fn seed(&self) -> u64 {
        self.args.seed
    }

    /// Whether `name` is selected by `--only`.
    pub fn selected(&self, name: &str) -> bool {
        self.args.only.as_deref().is_none_or(|only| only == name)
    }

    /// Runs one check (unless `--only` excludes it) and prints its record.
    pub fn check(&mut self, group: &str, name: &str, check: impl FnOnce() -> CheckResult) {
        if !self.selected(name) {
            return;
        }
        if self.planning {
            let mut out = std::io::stdout().lock();
            let _ = writeln!(
                out,
                "{}",
                crate::protocol::plan_line(&self.token, group, name)
            );
            let _ = out.flush();
            return;
        }
        let record = run_caught(group, name, check);
        let mut out = std::io::stdout().lock();
        // A closed stdout means the launcher is gone; nothing left to do.
        let _ = writeln!(out, "{}", record.to_line(&self.token));
        let _ = out.flush();
    }

    /// Reports a problem found before any check could run (unreadable
    /// fixtures, for instance).
    pub fn fixture_error(&mut self, group: &str, message: impl Into<String>) {
        let message = message.into();
        self.check(group, "fixtures", || Err(Failure::fixture(message)));
    }
}

fn run_caught(group: &str, name: &str, check: impl FnOnce() -> CheckResult) -> Record {
    let mut record = Record {
        group: group.to_string(),
        check: name.to_string(),
        status: CheckStatus::Passed,
        message: None,
        location: None,
        mismatch: None,
    };
    if let Err(failure) = catch(check) {
        record.status = failure.status;
        record.message = Some(failure.message);
        record.location = failure.location;
        record.mismatch = failure.mismatch.map(|m| *m);
    }
    record
}

/// Runs `f` with its panics caught: a `todo!()` becomes a "not started"
/// failure, any other panic a "panicked" one, both with their location.
/// Needs the hook of [`install_panic_hook`] (a worker installs it).
pub fn catch<T>(f: impl FnOnce() -> Result<T, Failure>) -> Result<T, Failure> {
    match panic::catch_unwind(AssertUnwindSafe(f)) {
        Ok(result) => result,
        Err(_) => {
            let (message, location) = LAST_PANIC
                .with(|last| last.borrow_mut().take())
                .unwrap_or_else(|| ("panicked".to_string(), None));
            let status = if is_todo(&message) {
                CheckStatus::NotStarted
            } else {
                CheckStatus::Panicked
            };
            Err(Failure {
                status,
                message,
                mismatch: None,
                location,
            })
        }
    }
}

/// Starts `f` on a thread of `scope`, beside the caller: for student code
/// whose runs are independent (06's trainings, 08's test features). Its
/// panics are caught as by [`catch`] (each thread keeps its own last panic)
/// and it gets the main thread's 8 MiB stack, as when it ran there. Take its
/// result with [`joined`].
pub fn spawn_caught<'scope, T: Send + 'scope>(
    scope: &'scope std::thread::Scope<'scope, '_>,
    f: impl FnOnce() -> Result<T, Failure> + Send + 'scope,
) -> Spawned<'scope, T> {
    std::thread::Builder::new()
        .stack_size(8 << 20)
        .spawn_scoped(scope, move || catch(f))
        .map_err(|e| Failure::new(format!("cannot start a thread for the student's code: {e}")))
}

/// A call of [`spawn_caught`]: its thread, or why none started.
pub type Spawned<'scope, T> =
    Result<std::thread::ScopedJoinHandle<'scope, Result<T, Failure>>, Failure>;

/// The result of a [`spawn_caught`] call, once its thread has ended.
pub fn joined<T>(spawned: Spawned<'_, T>) -> Result<T, Failure> {
    spawned?
        .join()
        .unwrap_or_else(|_| Err(Failure::new("a thread running the student's code panicked")))
}

/// Keeps the message and location of the last panic for [`catch`] instead
/// of printing them.
pub fn install_panic_hook() {
    panic::set_hook(Box::new(|info| {
        let message = if let Some(text) = info.payload().downcast_ref::<&str>() {
            text.to_string()
        } else if let Some(text) = info.payload().downcast_ref::<String>() {
            text.clone()
        } else {
            "panic with a non-text payload".to_string()
        };
        let location = info
            .location()
            .map(|l| format!("{}:{}", l.file(), l.line()));
        LAST_PANIC.with(|last| *last.borrow_mut() = Some((message, location)));
    }));
}

/// What every worker and adapter process sets first, before any thread
/// starts: the grading of training exercises (06, 08) is thousands of tiny
/// candle ops, where these two costs were a third of the time.
///
/// - `RAYON_NUM_THREADS` (unless set) to the CPUs this process may use:
///   unset, candle reads the CPU mask on every matmul (and, in the dev
///   profile, walks it bit by bit, unoptimized). Set, it is one environment
///   read; the count is the one candle would find.
/// - glibc's malloc keeps freed memory instead of handing it back to the
///   kernel after each op and faulting it in again on the next (with the
///   defaults, page faults were a sixth of exercise 06's training time). The
///   processes are short-lived; the memory stays bounded by the peak.
pub fn tune_process() {
    if std::env::var_os("RAYON_NUM_THREADS").is_none() {
        let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
        std::env::set_var("RAYON_NUM_THREADS", cpus.to_string());
    }
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets allocator parameters; called before any
    // other thread exists.
    unsafe {
        libc::mallopt(libc::M_TRIM_THRESHOLD, 256 << 20);
        libc::mallopt(libc::M_TOP_PAD, 64 << 20);
        // The most glibc accepts (32 MiB on 64-bit): larger blocks are mmapped.
        libc::mallopt(libc::M_MMAP_THRESHOLD, 32 << 20);
    }
}

/// `todo!()` panics with "not yet implemented", `unimplemented!()` with
/// "not implemented".
fn is_todo(message: &str) -> bool {
    message.starts_with("not yet implemented") || message.starts_with("not implemented")
}

/// A worker's whole `main`: parse the arguments, then run `checks` twice:
/// first to announce every check it will run (nothing runs, the adapter is
/// not called), so that the launcher knows what a run cut short (a timeout,
/// a crash, an `exit` in student code) did not reach; then for real.
/// Exits with 2 on bad arguments, 0 otherwise (failures are records).
pub fn run(checks: impl Fn(&mut Worker)) {
    run_with(std::env::args().skip(1), checks)
}

/// [`run`] with the worker's arguments given: the launcher's own binary
/// runs a judge it was built with as `grader judge NN-name ARGS…`.
pub fn run_with(args: impl IntoIterator<Item = String>, checks: impl Fn(&mut Worker)) {
    tune_process();
    // What an adapter leaves behind comes back to this judge, which ends it.
    crate::process::become_subreaper();
    let args = match WorkerArgs::parse(args) {
        Ok(args) => args,
        Err(message) => {
            eprintln!("worker: {message}");
            std::process::exit(2);
        }
    };
    let mut worker = Worker::new(args);
    worker.planning = true;
    #[cfg(feature = "tensors")]
    worker.client.set_planning(true);
    checks(&mut worker);
    worker.planning = false;
    #[cfg(feature = "tensors")]
    worker.client.set_planning(false);
    checks(&mut worker);
    // No adapter, nor anything one started, outlives the judge.
    #[cfg(feature = "tensors")]
    worker.client.shutdown();
    crate::process::sweep();
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{}", crate::protocol::done_line(&worker.token));
    let _ = out.flush();
}

#[cfg(test)]
mod tests {
    use super::*;

    fn statuses(check: impl FnOnce() -> CheckResult) -> (CheckStatus, Option<String>) {
        // The hook is process-wide; install it once for these tests.
        let _ = Worker::new(WorkerArgs::parse(Vec::<String>::new()).unwrap());
        let record = run_caught("g", "c", check);
        (record.status, record.message)
    }

    #[test]
    fn todo_is_not_started_and_other_panics_are_panics() {
        assert_eq!(statuses(|| todo!()).0, CheckStatus::NotStarted);
        assert_eq!(statuses(|| unimplemented!()).0, CheckStatus::NotStarted);
        let (status, message) = statuses(|| panic!("index out of range"));
        assert_eq!(status, CheckStatus::Panicked);
        assert_eq!(message.as_deref(), Some("index out of range"));
    }

    #[test]
    fn errors_become_failures() {
        let (status, message) =
            statuses(|| Err(std::io::Error::other("shape mismatch in matmul").into()));
        assert_eq!(status, CheckStatus::Failed);
        assert!(message.unwrap().contains("shape mismatch in matmul"));
        assert_eq!(statuses(|| Ok(())).0, CheckStatus::Passed);
    }

    #[test]
    fn arguments_parse_and_complain() {
        let args = WorkerArgs::parse(
            ["--seed", "7", "--only", "x", "--fixtures", "f"]
                .map(String::from)
                .to_vec(),
        )
        .unwrap();
        assert_eq!(args.seed, 7);
        assert_eq!(args.only.as_deref(), Some("x"));
        assert!(WorkerArgs::parse(["--seed".to_string()]).is_err());
        assert!(WorkerArgs::parse(["--bogus".to_string()]).is_err());
    }
}
