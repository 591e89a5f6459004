//! Options shared by the subcommands that grade (`list`, `watch`, `grade
//! --submission`): the seed, the fixture root and the limits, and how they
//! become [`grade::Options`](crate::grade::Options).

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{anyhow, Result};
use clap::Args;

use crate::catalog::{Exercise, Kit};
use crate::compile::Target;
use crate::grade::{self, Options};

/// Seed, fixtures and limits of a grading run.
#[derive(Debug, Clone, Args)]
pub struct RunArgs {
    /// Seed of the property checks' random inputs. Varies when not given.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Fixture root to grade against, such as a hidden set.
    #[arg(long, default_value = "fixtures")]
    pub fixtures: PathBuf,
    /// Time limit per exercise in seconds, instead of each exercise's own.
    #[arg(long, value_name = "SECS")]
    pub timeout: Option<u64>,
    /// Address-space limit per exercise, in MiB.
    #[arg(long, value_name = "MIB", default_value_t = 4096)]
    pub memory: u64,
    /// The kit's root (the folder with exercises/info.yaml); found from the current directory by default.
    #[arg(long, value_name = "DIR")]
    pub kit: Option<PathBuf>,
}

impl RunArgs {
    pub fn locate(&self) -> Result<Kit> {
        Kit::locate(self.kit.as_deref())
    }

    /// The fixture root, the one resolution every subcommand uses: a
    /// relative path is taken from the current directory when it exists
    /// there (what a command line names), else from the kit's root (the
    /// default `fixtures`, from anywhere in the kit).
    pub fn fixtures_dir(&self, kit: &Kit) -> PathBuf {
        let given = &self.fixtures;
        let path = if given.is_absolute() || given.exists() {
            given.to_path_buf()
        } else {
            kit.root.join(given)
        };
        std::fs::canonicalize(&path).unwrap_or(path)
    }

    /// Checks the fixtures of `exercises` (and what they build on).
    pub fn verify(&self, kit: &Kit, exercises: &[Exercise]) -> Result<()> {
        grade::verify_fixtures(&self.fixtures_dir(kit), &kit.with_prerequisites(exercises))
            .map_err(|error| anyhow!("{error}"))
    }

    /// The options of one grading run of the student's crates.
    pub fn options(&self, kit: &Kit, seed: u64) -> Options {
        Options {
            target: Target::Exercises,
            seed,
            fixtures: self.fixtures.clone(),
            fixtures_dir: self.fixtures_dir(kit),
            timeout: self.timeout.map(Duration::from_secs),
            memory_bytes: Some(self.memory * 1024 * 1024),
            only: None,
            echo_build: false,
            references: Default::default(),
            sandbox_uid: None,
            parallel: grade::default_parallel(),
        }
    }

    pub fn seed_or_fresh(&self) -> u64 {
        self.seed.unwrap_or_else(fresh_seed)
    }
}

/// A seed that differs from run to run.
pub fn fresh_seed() -> u64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos() as u64 ^ d.as_secs())
        .unwrap_or(0);
    nanos % 1_000_000
}

/// "exercises/01-attention/src/lib.rs": the file a student edits.
pub fn exercise_file(exercise: &Exercise) -> String {
    format!("exercises/{}/src/lib.rs", exercise.dir)
}

/// The exercise after `id` in the list, if any.
pub fn next_after<'a>(kit: &'a Kit, id: &str) -> Option<&'a Exercise> {
    let exercises = kit.exercises();
    let index = exercises.iter().position(|e| e.id == id)?;
    exercises.get(index + 1)
}

/// The grader's subcommands (cli::Command; a test keeps the two in step).
pub const SUBCOMMANDS: &[&str] = &["list", "hint", "watch", "release", "grade", "judge"];

/// The subcommands' names (and "help"): no exercise may be called so, since
/// `cargo run -p grader -- <name>` would run the subcommand instead of
/// grading the exercise.
pub fn reserved_names() -> Vec<String> {
    SUBCOMMANDS
        .iter()
        .chain(&["help"])
        .map(|name| name.to_string())
        .collect()
}

/// Fails when an exercise's id, name or folder is a subcommand's name.
pub fn check_names(kit: &Kit) -> Result<()> {
    let reserved = reserved_names();
    for exercise in kit.exercises() {
        for name in [&exercise.id, &exercise.name, &exercise.dir] {
            if reserved.iter().any(|r| r.eq_ignore_ascii_case(name)) {
                return Err(anyhow!(
                    "exercise {} is called {name:?}, which is a grader subcommand; rename it in {}",
                    exercise.id,
                    crate::catalog::INFO_FILE
                ));
            }
        }
    }
    Ok(())
}
