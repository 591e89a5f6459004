//! The adapter's side: the only process that runs student code.
//!
//! An adapter (`grader/adapters/NN-name`) is one call to [`serve`] with a
//! table from op name to a call of the student's API. It receives inputs
//! and returns outputs (see [`crate::wire`]); it holds no fixture, no
//! tolerance and no verdict, so there is nothing in it for student code to
//! read or forge. The judge runs it sandboxed.

use std::collections::HashMap;
use std::io::{BufReader, Write};

use candle_core::Tensor;

use crate::failure::Failure;
use crate::harness::{catch, install_panic_hook, tune_process};
use crate::inputs::Inputs;
use crate::params::Params;
use crate::protocol::CheckStatus;
use crate::wire::{read_frame, write_frame, ReplyHeader, ReplyStatus, RequestHeader, WireError};

/// One call the judge asked for: an op, its parameters, its inputs.
pub struct Call {
    pub op: String,
    pub params: Params,
    inputs: HashMap<String, Tensor>,
}

impl Call {
    /// A call as an adapter receives it (for the kit's own tests).
    #[cfg(test)]
    pub(crate) fn new(op: &str, params: Params, inputs: HashMap<String, Tensor>) -> Call {
        Call {
            op: op.to_string(),
            params,
            inputs,
        }
    }
}

impl Inputs for Call {
    fn label(&self) -> String {
        format!("op {}", self.op)
    }

    fn input_names(&self) -> Vec<String> {
        self.inputs.keys().cloned().collect()
    }

    fn input(&self, name: &str) -> Result<Tensor, Failure> {
        self.inputs
            .get(name)
            .cloned()
            .ok_or_else(|| Failure::fixture(format!("op {} needs an input {name:?}", self.op)))
    }
}

/// What an op returns: named output tensors.
pub type Outputs = Vec<(String, Tensor)>;

/// The outputs of an op, from `[("out", tensor), ...]`.
pub fn outputs<const N: usize>(named: [(&str, Tensor); N]) -> Result<Outputs, Failure> {
    Ok(named.into_iter().map(|(n, t)| (n.to_string(), t)).collect())
}

/// What the student's code loaded from a folder (a checkpoint, a
/// tokenizer), kept for the adapter's life: the fixture cases of one
/// checkpoint load it once. Keep one per thread (`thread_local!`): the
/// values need not be `Send`.
pub struct LoadedOnce<T>(std::cell::RefCell<HashMap<std::path::PathBuf, std::rc::Rc<T>>>);

impl<T> Default for LoadedOnce<T> {
    fn default() -> Self {
        LoadedOnce(Default::default())
    }
}

impl<T> LoadedOnce<T> {
    /// What `load` gave for `dir`, loading it the first time only.
    pub fn get(
        &self,
        dir: &std::path::Path,
        load: impl FnOnce(&std::path::Path) -> Result<T, Failure>,
    ) -> Result<std::rc::Rc<T>, Failure> {
        if let Some(value) = self.0.borrow().get(dir) {
            return Ok(value.clone());
        }
        // Not borrowed while the student's code runs.
        let value = std::rc::Rc::new(load(dir)?);
        self.0.borrow_mut().insert(dir.to_path_buf(), value.clone());
        Ok(value)
    }
}

/// The answer to an op this adapter does not have.
pub fn unknown_op(call: &Call) -> Result<Outputs, Failure> {
    Err(Failure::fixture(format!(
        "this adapter has no op {:?}",
        call.op
    )))
}

/// Serves calls until the judge closes the pipe. Student code that prints
/// to stdout prints to stderr instead: the replies go on a copy of the
/// original stdout, so a `println!` cannot corrupt them.
pub fn serve(dispatch: impl Fn(&Call) -> Result<Outputs, Failure>) -> ! {
    tune_process();
    install_panic_hook();
    let mut replies = private_stdout();
    let mut requests = BufReader::new(std::io::stdin().lock());
    loop {
        let (header, inputs) = match read_frame::<RequestHeader>(&mut requests) {
            Ok(frame) => frame,
            Err(WireError::Closed) => std::process::exit(0),
            Err(WireError::Malformed(why)) => {
                eprintln!("adapter: unreadable request: {why}");
                std::process::exit(3);
            }
        };
        let id = header.call;
        let call = Call {
            op: header.op,
            params: header.params,
            inputs,
        };
        let (reply, outputs) = match catch(|| dispatch(&call)) {
            Ok(outputs) => (
                ReplyHeader {
                    call: id,
                    status: ReplyStatus::Ok,
                    message: None,
                    location: None,
                },
                outputs,
            ),
            Err(failure) => (
                ReplyHeader {
                    call: id,
                    status: match failure.status {
                        CheckStatus::NotStarted => ReplyStatus::NotStarted,
                        CheckStatus::Panicked => ReplyStatus::Panicked,
                        _ => ReplyStatus::Failed,
                    },
                    message: Some(failure.message),
                    location: failure.location,
                },
                vec![],
            ),
        };
        if let Err(error) = write_frame(&mut replies, &reply, &outputs) {
            eprintln!("adapter: cannot reply: {error}");
            std::process::exit(3);
        }
    }
}

/// A handle on the original stdout, which then points at stderr.
fn private_stdout() -> Box<dyn Write> {
    #[cfg(unix)]
    {
        use std::os::fd::FromRawFd;
        let _ = std::io::stdout().flush();
        // SAFETY: dup and dup2 on the process's own standard descriptors.
        let copy = unsafe { libc::dup(1) };
        if copy >= 0 && unsafe { libc::dup2(2, 1) } >= 0 {
            // SAFETY: `copy` is a fresh descriptor that nothing else owns.
            return Box::new(std::io::BufWriter::new(unsafe {
                std::fs::File::from_raw_fd(copy)
            }));
        }
    }
    Box::new(std::io::stdout())
}
