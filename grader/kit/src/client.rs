//! The judge's side of an adapter: spawn it (sandboxed), send calls, read
//! replies. All of it is one [`Client`], which the worker makes from its
//! arguments and hands to its checks ([`crate::Worker::client`]): checks
//! call the student's code through it (an exercise's typed `call::op(cx,
//! …)`, [`Client::call`]), a fixture case through [`crate::Case::call`].
//!
//! In trusted mode the launcher also names the reference solution's adapter:
//! every call of an op that fixture cases pin down (see [`Client::pin`]) then goes to
//! both, and a student's output that differs from the reference's beyond
//! that op's fixture tolerance fails the check. Random inputs from the run's
//! seed thus test the student's code against the reference, not only
//! against properties.
//!
//! An adapter that dies (an abort, a stack overflow, `process::exit`) takes
//! the judge down the same way, so that the launcher reports it as it
//! reports a crashed worker, with every record printed before.

use std::collections::HashMap;
use std::io::{BufReader, BufWriter};
use std::os::fd::FromRawFd;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::{Arc, Mutex};

use candle_core::Tensor;

use crate::args::WorkerArgs;
use crate::compare::compare;
use crate::failure::Failure;
use crate::manifest::Tolerance;
use crate::params::Params;
use crate::protocol::CheckStatus;
use crate::wire::{read_frame, write_frame, ReplyHeader, ReplyStatus, RequestHeader, WireError};

/// The outputs an adapter returned, by name.
#[derive(Debug, Clone, Default)]
pub struct Outputs(pub HashMap<String, Tensor>);

impl Outputs {
    /// The output `name`; a failure when the adapter did not return it.
    pub fn get(&self, name: &str) -> Result<Tensor, Failure> {
        self.0.get(name).cloned().ok_or_else(|| {
            Failure::new(format!(
                "the call returned no output `{name}` (it returned {:?})",
                self.0.keys().collect::<Vec<_>>()
            ))
        })
    }
}

struct Config {
    adapter: Option<PathBuf>,
    reference: Option<PathBuf>,
    sandbox: bool,
    /// The unprivileged uid to run the adapter as, when the judge is root.
    uid: Option<u32>,
    /// Where the adapters' stderr goes (the launcher's pipe for the
    /// student's output); `None`: this process's stderr.
    student_output: Option<i32>,
}

#[derive(Default)]
struct State {
    config: Config,
    student: Option<Link>,
    reference: Option<Link>,
    /// Op → the loosest tolerance of its fixture cases.
    pinned: HashMap<String, Tolerance>,
    /// Folders of inputs the adapter may read besides its own binary's.
    readable: Vec<PathBuf>,
    /// The processes of started calls not yet finished, ended with the judge.
    started: Vec<u32>,
    /// While a worker only announces its checks, calls fail at once: no
    /// adapter is started.
    planning: bool,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            adapter: None,
            reference: None,
            sandbox: true,
            uid: None,
            student_output: None,
        }
    }
}

/// The judge's connection to the adapters of one exercise: the student's
/// (and the reference's, in trusted mode), the ops the fixtures pin, what
/// the adapters may read. A clone is another handle on the same
/// connection; the default one has no adapter (its calls fail).
#[derive(Clone, Default)]
pub struct Client(Arc<Mutex<State>>);

impl Client {
    /// A connection to the adapters named on the worker's command line.
    pub fn new(args: &WorkerArgs) -> Client {
        let client = Client::default();
        client.with(|state| {
            state.config = Config {
                adapter: args.adapter.clone(),
                reference: args.reference.clone(),
                sandbox: !args.no_sandbox,
                uid: args.sandbox_uid,
                student_output: args.student_output_fd,
            }
        });
        client
    }

    fn with<T>(&self, f: impl FnOnce(&mut State) -> T) -> T {
        f(&mut self.0.lock().unwrap_or_else(|e| e.into_inner()))
    }

    /// While a worker only announces its checks, calls fail at once: no
    /// adapter is started.
    pub fn set_planning(&self, planning: bool) {
        self.with(|state| state.planning = planning);
    }

    /// Declares that fixture cases pin `op` down to `tolerance`: in trusted
    /// mode the student's outputs of `op` on any input must then equal the
    /// reference's within it.
    pub fn pin(&self, op: &str, tolerance: Tolerance) {
        self.with(|state| {
            let entry = state.pinned.entry(op.to_string()).or_insert(tolerance);
            entry.atol = entry.atol.max(tolerance.atol);
            entry.rtol = entry.rtol.max(tolerance.rtol);
        });
    }

    /// Lets the adapter read `path` (a folder or file of inputs only, such
    /// as a model checkpoint: never expected values). Call it before the
    /// first call.
    pub fn allow_read(&self, path: &std::path::Path) {
        self.with(|state| state.readable.push(path.to_path_buf()));
    }

    /// Calls `op` of the student's code, and of the reference when there is
    /// one and `op` is pinned; see the module doc.
    pub fn call(
        &self,
        op: &str,
        params: serde_json::Value,
        inputs: &[(&str, &Tensor)],
    ) -> Result<Outputs, Failure> {
        let params = Params::from_json(params);
        let inputs = owned(inputs);
        let got = self.call_student(op, &params, &inputs)?;
        self.against_reference(op, &params, &inputs, got)
    }

    /// `got` (the student's outputs of `op`), once compared with the
    /// reference's when `op` is pinned and there is a reference.
    fn against_reference(
        &self,
        op: &str,
        params: &Params,
        inputs: &[(String, Tensor)],
        got: Outputs,
    ) -> Result<Outputs, Failure> {
        let Some(tolerance) = self.with(|s| s.pinned.get(op).copied()) else {
            return Ok(got);
        };
        let Some(want) = self.call_reference(op, params, inputs)? else {
            return Ok(got);
        };
        let mut names: Vec<&String> = want.0.keys().collect();
        names.sort();
        for name in names {
            // An output the student's code did not return is the judge's to
            // report, in its own words.
            let Some(mine) = got.0.get(name) else {
                continue;
            };
            compare(name, mine, &want.0[name], tolerance).map_err(|f| {
                f.context(format!(
                    "on these random inputs your `{op}` differs from the reference solution's"
                ))
            })?;
        }
        Ok(got)
    }

    /// Starts `op` of the student's code in a process of its own (see
    /// [`Started`]). While the checks are only announced, nothing starts.
    pub fn start(
        &self,
        op: &str,
        params: serde_json::Value,
        inputs: &[(&str, &Tensor)],
    ) -> Started {
        let params = Params::from_json(params);
        let inputs = owned(inputs);
        let link = self.spawn_student().and_then(|mut link| {
            self.with(|s| s.started.push(link.child.id()));
            match link.send(op, &params, &inputs) {
                // A process that died at once is reported by `finish`.
                Ok(()) | Err(Lost::Died) => Ok(link),
                Err(Lost::Garbled(why)) => Err(Failure::new(why)),
                Err(Lost::Failed(failure)) => Err(failure),
            }
        });
        Started {
            client: self.clone(),
            op: op.to_string(),
            params,
            inputs,
            link: Some(link),
        }
    }

    fn forget_started(&self, link: &Link) {
        let id = link.child.id();
        self.with(|s| s.started.retain(|&pid| pid != id));
    }

    /// Calls `op` of the student's code only (a fixture case: its expected
    /// values are already PyTorch's).
    pub fn call_student(
        &self,
        op: &str,
        params: &Params,
        inputs: &[(String, Tensor)],
    ) -> Result<Outputs, Failure> {
        let mut link = match self.with(|s| s.student.take()) {
            Some(link) => link,
            None => self.spawn_student()?,
        };
        let result = link.send(op, params, inputs).and_then(|()| link.receive());
        self.settle(result, link)
    }

    /// A new adapter process for the student's code, sandboxed unless the
    /// worker was told not to.
    fn spawn_student(&self) -> Result<Link, Failure> {
        if self.with(|s| s.planning) {
            return Err(Failure::new("not called while the checks are announced"));
        }
        let path = self.with(|s| s.config.adapter.clone()).ok_or_else(|| {
            Failure::fixture("this worker was started without --adapter, which it needs")
        })?;
        let sandbox = self.with(|state| {
            state
                .config
                .sandbox
                .then(|| (state.readable.clone(), state.config.uid))
        });
        Link::spawn(&path, sandbox, self.student_stderr())
    }

    /// What a call on `link` came to. A link still usable becomes the student
    /// link again (a started call's link replaces nothing else: the first
    /// adapter is kept when there is one). An adapter that died takes the judge
    /// down the same way (see the module doc); one that sent garbage is killed.
    fn settle(&self, result: Result<Outputs, Lost>, mut link: Link) -> Result<Outputs, Failure> {
        match result {
            Ok(outputs) => {
                self.keep(link);
                Ok(outputs)
            }
            Err(Lost::Failed(failure)) => {
                self.keep(link);
                Err(failure)
            }
            Err(Lost::Died) => self.end_like(link.child.wait().ok()),
            Err(Lost::Garbled(why)) => {
                link.kill();
                Err(Failure::new(format!(
                    "the grader could not read what your code's process sent back ({why}); did your code write to the grader's pipe?"
                )))
            }
        }
    }

    /// Makes `link` the student link unless there is one already (then that
    /// spare adapter, idle, is ended).
    fn keep(&self, link: Link) {
        let spare = self.with(|s| match s.student {
            None => {
                s.student = Some(link);
                None
            }
            Some(_) => Some(link),
        });
        if let Some(mut spare) = spare {
            spare.kill();
        }
    }

    /// The reference solution's outputs, or `None` without a reference.
    fn call_reference(
        &self,
        op: &str,
        params: &Params,
        inputs: &[(String, Tensor)],
    ) -> Result<Option<Outputs>, Failure> {
        let Some(path) = self.with(|s| s.config.reference.clone()) else {
            return Ok(None);
        };
        // Taken out of the state for the call: spawning reads the state too,
        // and a long call must not hold it.
        let mut link = match self.with(|s| s.reference.take()) {
            Some(link) => link,
            None => Link::spawn(&path, None, self.student_stderr())?,
        };
        match link.call(op, params, inputs) {
            Ok(outputs) => {
                let spare = self.with(|s| match s.reference {
                    None => {
                        s.reference = Some(link);
                        None
                    }
                    Some(_) => Some(link),
                });
                if let Some(mut spare) = spare {
                    spare.kill();
                }
                Ok(Some(outputs))
            }
            Err(lost) => {
                link.kill();
                Err(Failure::fixture(format!(
                    "the reference solution failed on op {op}: {}",
                    match lost {
                        Lost::Died => "its process died".to_string(),
                        Lost::Garbled(why) => why,
                        Lost::Failed(f) => f.message,
                    }
                )))
            }
        }
    }

    /// The adapters' stderr: the launcher's pipe for the student's output.
    fn student_stderr(&self) -> Stdio {
        let Some(fd) = self.with(|s| s.config.student_output) else {
            return Stdio::inherit();
        };
        // SAFETY: F_DUPFD_CLOEXEC makes a new descriptor that we then own.
        let copy = unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, 3) };
        if copy < 0 {
            return Stdio::inherit();
        }
        // SAFETY: `copy` is fresh and owned by nothing else.
        Stdio::from(unsafe { std::os::fd::OwnedFd::from_raw_fd(copy) })
    }

    /// Ends every adapter this judge started (the student's, the reference's,
    /// started calls) and whatever they left behind: called when the checks
    /// are done, and when the judge ends early.
    pub fn shutdown(&self) {
        let links: Vec<Link> = self.with(|s| {
            s.started.clear();
            s.student
                .take()
                .into_iter()
                .chain(s.reference.take())
                .collect()
        });
        for mut link in links {
            link.kill();
        }
        crate::process::sweep();
    }

    /// Ends this process as the adapter ended: the same exit code, or the same
    /// signal.
    fn end_like(&self, status: Option<std::process::ExitStatus>) -> ! {
        use std::io::Write;
        let _ = std::io::stdout().flush();
        // A started call still running must not outlive the judge (it would
        // hold the launcher's pipes open until it finished).
        for pid in self.with(|s| std::mem::take(&mut s.started)) {
            // SAFETY: kill(2) on a child this judge started and has not reaped.
            unsafe {
                libc::kill(pid as i32, libc::SIGKILL);
            }
        }
        self.shutdown();
        if let Some(status) = status {
            if let Some(code) = status.code() {
                std::process::exit(code);
            }
            #[cfg(unix)]
            {
                use std::os::unix::process::ExitStatusExt;
                if let Some(signal) = status.signal() {
                    // SAFETY: restoring the default action and raising a signal.
                    unsafe {
                        libc::signal(signal, libc::SIG_DFL);
                        libc::raise(signal);
                    }
                }
            }
        }
        std::process::exit(3);
    }
}

fn owned(inputs: &[(&str, &Tensor)]) -> Vec<(String, Tensor)> {
    inputs
        .iter()
        .map(|(n, t)| (n.to_string(), (*t).clone()))
        .collect()
}

/// A long call of the student's code (a training) started in an adapter
/// process of its own, sandboxed like the first, so that the judge's other
/// checks run meanwhile on the other core. [`Started::finish`] waits for
/// its outputs; dropping it unfinished kills that process.
pub struct Started {
    client: Client,
    op: String,
    params: Params,
    inputs: Vec<(String, Tensor)>,
    /// `None` once finished.
    link: Option<Result<Link, Failure>>,
}

impl Started {
    /// The outputs of the started call, as [`Client::call`] returns them.
    pub fn finish(mut self) -> Result<Outputs, Failure> {
        let mut link = self.link.take().expect("finished once")?;
        let result = link.receive();
        self.client.forget_started(&link);
        let got = self.client.settle(result, link)?;
        let client = self.client.clone();
        client.against_reference(&self.op, &self.params, &self.inputs, got)
    }
}

impl Drop for Started {
    fn drop(&mut self) {
        if let Some(Ok(mut link)) = self.link.take() {
            self.client.forget_started(&link);
            link.kill();
        }
    }
}

enum Lost {
    /// The process is gone.
    Died,
    /// It sent something that is not a reply.
    Garbled(String),
    /// A reply that says the call failed.
    Failed(Failure),
}

struct Link {
    child: Child,
    requests: BufWriter<ChildStdin>,
    replies: BufReader<Watched>,
    /// The id of the call in flight: its reply must carry it.
    pending: Option<u64>,
}

impl Link {
    /// Starts an adapter; `sandbox` (the extra readable paths) confines it.
    fn spawn(
        path: &std::path::Path,
        sandbox: Option<(Vec<PathBuf>, Option<u32>)>,
        stderr: Stdio,
    ) -> Result<Link, Failure> {
        let mut command = Command::new(path);
        crate::process::clean_env(&mut command)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(stderr)
            .env("RUST_BACKTRACE", "0");
        // SAFETY: close_range(2)/fcntl(2) only, between fork and exec.
        unsafe {
            command.pre_exec(|| crate::process::close_descriptors_from(3));
        }
        if let Some((readable, uid)) = sandbox {
            crate::confine::confine(&mut command, path, &readable, uid);
        }
        let mut child = crate::process::spawn(&mut command).map_err(|e| {
            Failure::fixture(format!("cannot start the adapter {}: {e}", path.display()))
        })?;
        Ok(Link {
            requests: BufWriter::new(child.stdin.take().expect("piped")),
            replies: BufReader::new(Watched {
                out: child.stdout.take().expect("piped"),
                pid: child.id(),
            }),
            child,
            pending: None,
        })
    }

    fn call(
        &mut self,
        op: &str,
        params: &Params,
        inputs: &[(String, Tensor)],
    ) -> Result<Outputs, Lost> {
        self.send(op, params, inputs)?;
        self.receive()
    }

    fn send(&mut self, op: &str, params: &Params, inputs: &[(String, Tensor)]) -> Result<(), Lost> {
        let call = call_id();
        self.pending = Some(call);
        let header = RequestHeader {
            call,
            op: op.to_string(),
            params: params.clone(),
        };
        write_frame(&mut self.requests, &header, inputs).map_err(|_| Lost::Died)
    }

    fn receive(&mut self) -> Result<Outputs, Lost> {
        let (reply, outputs) = match read_frame::<ReplyHeader>(&mut self.replies) {
            Ok(frame) => frame,
            Err(WireError::Closed) => return Err(Lost::Died),
            Err(WireError::Malformed(why)) => return Err(Lost::Garbled(why)),
        };
        // A frame written ahead of time, or for another call, is not the
        // answer to this one: the adapter's process wrote on the pipe itself.
        if self.pending.take() != Some(reply.call) {
            return Err(Lost::Garbled(
                "a reply that does not answer the call in flight".to_string(),
            ));
        }
        let status = match reply.status {
            ReplyStatus::Ok => return Ok(Outputs(outputs)),
            ReplyStatus::Failed => CheckStatus::Failed,
            ReplyStatus::NotStarted => CheckStatus::NotStarted,
            ReplyStatus::Panicked => CheckStatus::Panicked,
        };
        // The student's own words: shown as they are (bounded, without
        // control characters), never read for a status.
        Err(Lost::Failed(Failure {
            status,
            message: crate::process::student_text(&reply.message.unwrap_or_default(), MAX_MESSAGE),
            mismatch: None,
            location: reply
                .location
                .map(|l| crate::process::student_text(&l, 512)),
        }))
    }

    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        crate::process::forget(self.child.id());
        // What it started, re-parented to this judge when it died.
        crate::process::sweep();
    }
}

/// An adapter's reply pipe, read so that a process it left behind cannot
/// hold the judge: once the adapter has exited, what it started is ended
/// ([`crate::process::sweep`]), and a pipe still open a second later reads
/// as closed.
struct Watched {
    out: ChildStdout,
    pid: u32,
}

impl std::io::Read for Watched {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        use std::os::fd::AsRawFd;
        let mut exited: Option<std::time::Instant> = None;
        loop {
            let mut poll = libc::pollfd {
                fd: self.out.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            };
            // SAFETY: poll(2) on one live pollfd.
            let ready = unsafe { libc::poll(&mut poll, 1, 100) };
            if ready > 0 {
                return self.out.read(buf);
            }
            if ready < 0 {
                let error = std::io::Error::last_os_error();
                if error.kind() != std::io::ErrorKind::Interrupted {
                    return Err(error);
                }
            }
            if !crate::process::has_exited(self.pid) {
                continue;
            }
            match exited {
                None => {
                    exited = Some(std::time::Instant::now());
                    crate::process::sweep();
                }
                Some(at) if at.elapsed() > std::time::Duration::from_secs(1) => return Ok(0),
                Some(_) => {}
            }
        }
    }
}

/// The longest error message kept from a reply.
const MAX_MESSAGE: usize = 4096;

/// A call id: 64 random bits from the kernel (a counter would let code
/// that saw one id write the next call's reply ahead of time).
fn call_id() -> u64 {
    let mut bytes = [0u8; 8];
    // SAFETY: getrandom(2) fills the 8 bytes of a live buffer.
    let got = unsafe { libc::getrandom(bytes.as_mut_ptr().cast(), bytes.len(), 0) };
    if got != bytes.len() as isize {
        // Never in practice; time still changes from call to call.
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        return nanos ^ u64::from(std::process::id()).rotate_left(32);
    }
    u64::from_le_bytes(bytes)
}
