//! The command line. `main` is one call to [`main`].

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{bail, Result};
use clap::{Args, Parser, Subcommand};

use crate::compile::{self, Target};
use crate::grade;
use crate::report::{self, Format};
use crate::settings::RunArgs;

/// Grades the attention exercises against golden fixtures exported from PyTorch.
#[derive(Debug, Parser)]
#[command(name = "grader", version, args_conflicts_with_subcommands = true)]
pub struct Cli {
    #[command(flatten)]
    pub grade: GradeArgs,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Every exercise with its status and score (grades them all).
    List(crate::student::list::ListArgs),
    /// The next hint of an exercise; --all shows them all.
    Hint(crate::student::hint::HintArgs),
    /// Re-grades the exercise whose file you save, on every save.
    Watch(crate::student::watch::WatchArgs),
    /// Instructors: write the student kit (stubs, no solutions, no hidden fixtures).
    Release(crate::instructor::release::ReleaseArgs),
    /// Instructors: grade a student's checkout (--submission) or a class (--submissions), safely.
    Grade(crate::instructor::submission::GradeSubmissionArgs),
    /// Internal: runs one exercise's judge as a worker (the launcher starts it).
    #[command(hide = true)]
    Judge(JudgeArgs),
}

/// `grader judge DIR ARGS…`, as the launcher starts a judge.
#[derive(Debug, Args)]
pub struct JudgeArgs {
    /// The exercise's folder, e.g. 01-attention.
    pub dir: String,
    /// The worker's arguments (see grader_kit::WorkerArgs).
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub args: Vec<String>,
}

/// Options of a grading run (the default command).
#[derive(Debug, Clone, Args)]
pub struct GradeArgs {
    /// Exercises to grade, as "01", "attention" or "01-attention"; all when none.
    pub exercises: Vec<String>,
    /// Grade the reference solutions instead of exercises/ (must score 100%).
    #[arg(long)]
    pub solutions: bool,
    /// Seed, fixtures, limits and the kit: the options every subcommand
    /// that grades shares.
    #[command(flatten)]
    pub run: RunArgs,
    /// Report format.
    #[arg(long, value_enum, default_value = "human")]
    pub format: Format,
    /// Write the report to FILE (the human summary still goes to stdout).
    #[arg(long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Run only this check (a case id or a property name) of one exercise.
    #[arg(long = "case", value_name = "ID")]
    pub case: Option<String>,
    /// Also write each failed attention-weights case as a PNG into DIR
    /// (expected beside yours).
    #[arg(long, value_name = "DIR")]
    pub plot: Option<PathBuf>,
    /// List every check that did not pass, with its message, not only the
    /// first (human report).
    #[arg(long, short)]
    pub verbose: bool,
}

/// Parses the command line, runs, and returns the exit code.
pub fn main() -> i32 {
    let cli = Cli::parse();
    let result = match cli.command {
        None => run_grade(&cli.grade),
        Some(Command::List(args)) => crate::student::list::run(&args),
        Some(Command::Hint(args)) => crate::student::hint::run(&args),
        Some(Command::Watch(args)) => crate::student::watch::run(&args),
        Some(Command::Release(args)) => crate::instructor::release::run(&args),
        Some(Command::Grade(args)) => crate::instructor::grade(&args),
        Some(Command::Judge(args)) => return crate::judges::run(&args.dir, args.args),
    };
    match result {
        Ok(code) => code,
        Err(error) => {
            let _ = writeln!(std::io::stderr(), "error: {error:#}");
            2
        }
    }
}

pub fn run_grade(args: &GradeArgs) -> Result<i32> {
    let kit = args.run.locate()?;
    let selected = kit.select(&args.exercises)?;
    if args.case.is_some() && selected.len() != 1 {
        bail!("--case needs exactly one exercise, e.g. `cargo run -p grader -- 01 --case <id>`");
    }
    if args.solutions && !kit.has_solutions() {
        bail!("this kit has no solutions/ folder (a released student kit ships none)");
    }
    if let Err(error) = args.run.verify(&kit, &selected) {
        let _ = writeln!(std::io::stderr(), "error: {error}");
        return Ok(2);
    }
    let mut options = args.run.options(&kit, args.run.seed_or_fresh());
    if args.solutions {
        options.target = Target::Solutions;
    }
    options.only = args.case.clone();
    options.echo_build = args.format == Format::Human || args.output.is_some();
    // As `grade::grade`, with a word on stderr when the build runs long
    // (the first one compiles candle); a fresh build says nothing.
    let built = {
        let _notice = options.echo_build.then(|| {
            Notice::after(
                Duration::from_secs(2),
                "Building the exercises' graders (the first build compiles candle: two to three minutes)...",
            )
        });
        compile::build_workers(
            &kit,
            &kit.with_prerequisites(&selected),
            options.target,
            options.echo_build,
        )?
    };
    let report = grade::grade_built(&kit, &selected, &built, &options, &mut |_| {});
    let color = std::io::stdout().is_terminal();
    let human =
        |report: &grade::RunReport, color| report::human::render_with(report, color, args.verbose);
    if let Some(dir) = &args.plot {
        for path in report::plot::write_plots(&report, dir)? {
            let _ = writeln!(std::io::stderr(), "wrote {}", path.display());
        }
    }
    match &args.output {
        Some(path) => {
            std::fs::write(path, report::render(&report, args.format, false))
                .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", path.display()))?;
            print!("{}", human(&report, color));
            println!(
                "\nWrote the {:?} report to {}.",
                args.format,
                path.display()
            );
        }
        None if args.format == Format::Human => print!("{}", human(&report, color)),
        None => print!("{}", report::render(&report, args.format, color)),
    }
    Ok(report.exit_code())
}

/// A line on stderr when something is still running after a delay: it is
/// printed from a timer thread unless dropped first.
pub struct Notice {
    cancel: Option<std::sync::mpsc::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Notice {
    pub fn after(delay: Duration, line: &str) -> Notice {
        let (cancel, cancelled) = std::sync::mpsc::channel::<()>();
        let line = line.to_string();
        let thread = std::thread::spawn(move || {
            if let Err(std::sync::mpsc::RecvTimeoutError::Timeout) = cancelled.recv_timeout(delay) {
                let _ = writeln!(std::io::stderr(), "{line}");
            }
        });
        Notice {
            cancel: Some(cancel),
            thread: Some(thread),
        }
    }
}

impl Drop for Notice {
    fn drop(&mut self) {
        // Closing the channel wakes the timer, which then prints nothing.
        drop(self.cancel.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_reserved_names_are_the_subcommands() {
        use clap::CommandFactory;
        let mut names: Vec<String> = Cli::command()
            .get_subcommands()
            .flat_map(|c| {
                std::iter::once(c.get_name().to_string())
                    .chain(c.get_all_aliases().map(str::to_string))
            })
            .collect();
        names.push("help".to_string());
        names.sort();
        let mut reserved: Vec<String> = crate::settings::reserved_names();
        reserved.sort();
        assert_eq!(
            names, reserved,
            "keep settings::SUBCOMMANDS in step with cli::Command"
        );
    }
}
