//! What the launcher passes to a worker (a judge) on its command line.

use std::path::PathBuf;

/// What the launcher passed to the worker.
#[derive(Debug, Clone)]
pub struct WorkerArgs {
    /// The fixture root (the folder holding `manifest.yaml`).
    pub fixtures: PathBuf,
    /// Seed for every random draw of the property checks.
    pub seed: u64,
    /// Run only the check with this name (a case id or a property name).
    pub only: Option<String>,
    /// Read the record token from the first line of stdin (the launcher
    /// does); otherwise the token is "-", for a worker run by hand.
    pub token_on_stdin: bool,
    /// The adapter that runs the student's code (exercises graded through
    /// one): spawned sandboxed on the first call.
    pub adapter: Option<PathBuf>,
    /// The reference solution's adapter (trusted mode): random inputs go to
    /// both, and their outputs are compared.
    pub reference: Option<PathBuf>,
    /// Run the adapter without the sandbox (`--no-sandbox`, for debugging).
    pub no_sandbox: bool,
    /// When the judge runs as root: the uid the adapter runs as (trusted
    /// mode gives each submission its own, so that a fork bomb's process
    /// limit never reaches another student's run).
    pub sandbox_uid: Option<u32>,
    /// The descriptor the student's output goes to: the adapters' stderr
    /// (and so their stdout, see `adapter::serve`). The launcher reads it
    /// apart from this process's own stderr. Unset: this stderr.
    pub student_output_fd: Option<i32>,
}

impl WorkerArgs {
    /// Parses `--fixtures DIR --seed N [--only NAME]`.
    pub fn parse(args: impl IntoIterator<Item = String>) -> Result<WorkerArgs, String> {
        let mut fixtures = PathBuf::from("fixtures");
        let mut seed = 0;
        let mut only = None;
        let mut token_on_stdin = false;
        let (mut adapter, mut reference, mut no_sandbox) = (None, None, false);
        let mut sandbox_uid = None;
        let mut student_output_fd = None;
        let mut args = args.into_iter();
        while let Some(flag) = args.next() {
            let mut value = || args.next().ok_or(format!("{flag} needs a value"));
            match flag.as_str() {
                "--fixtures" => fixtures = PathBuf::from(value()?),
                "--seed" => {
                    let text = value()?;
                    seed = text
                        .parse()
                        .map_err(|_| format!("--seed wants a number, got {text:?}"))?
                }
                "--only" => only = Some(value()?),
                "--token-on-stdin" => token_on_stdin = true,
                "--adapter" => adapter = Some(PathBuf::from(value()?)),
                "--reference" => reference = Some(PathBuf::from(value()?)),
                "--no-sandbox" => no_sandbox = true,
                "--sandbox-uid" => {
                    let text = value()?;
                    sandbox_uid = Some(
                        text.parse()
                            .map_err(|_| format!("--sandbox-uid wants a number, got {text:?}"))?,
                    )
                }
                "--student-output-fd" => {
                    let text = value()?;
                    student_output_fd =
                        Some(text.parse().map_err(|_| {
                            format!("--student-output-fd wants a number, got {text:?}")
                        })?)
                }
                other => return Err(format!("unknown argument {other:?}")),
            }
        }
        Ok(WorkerArgs {
            fixtures,
            seed,
            only,
            token_on_stdin,
            adapter,
            reference,
            no_sandbox,
            sandbox_uid,
            student_output_fd,
        })
    }
}
