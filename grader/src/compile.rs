//! Building the workers: one `cargo build` for every selected exercise, with
//! `--keep-going` so that one exercise that does not compile leaves the
//! others gradable. Cargo's JSON messages tell which package failed and
//! where its first error is.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;

use anyhow::{Context, Result};
use grader_kit::sandbox::Prepared;
use serde::{Deserialize, Serialize};

use crate::catalog::{Exercise, Kit};

/// The first compiler error of a package.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CompileError {
    /// The package that failed (`ex01-attention`, ...).
    pub package: String,
    /// The error's headline ("mismatched types").
    pub message: String,
    /// `file:line:column` of its primary span, when it has one.
    pub location: Option<String>,
    /// The error as rustc renders it, without color.
    pub rendered: String,
}

/// What one `cargo build` produced.
#[derive(Debug, Default)]
pub struct Built {
    /// Exercise id → its worker binary.
    pub workers: BTreeMap<String, PathBuf>,
    /// Exercise id → its adapter binary (exercises graded through one).
    pub adapters: BTreeMap<String, PathBuf>,
    /// Package name → its first error.
    pub errors: BTreeMap<String, CompileError>,
    /// The last lines cargo printed on stderr, for failures that are not
    /// compiler errors (a broken manifest, say).
    pub cargo_stderr: String,
}

/// Which crates a worker links: the student's or the reference solutions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Target {
    Exercises,
    Solutions,
}

/// Builds the workers of `exercises` in one cargo run. `echo` forwards
/// cargo's progress to our stderr.
pub fn build_workers(
    kit: &Kit,
    exercises: &[Exercise],
    target: Target,
    echo: bool,
) -> Result<Built> {
    build_confined(kit, exercises, target, echo, None)
}

/// [`build_workers`], with cargo (and so rustc, and every macro the
/// student's code expands) inside `sandbox` when given: a submission's
/// `include_bytes!` of a file outside its staged copy then fails to compile.
/// Offline: the sandbox has no network, and the kit's own builds fetched
/// every dependency already.
pub fn build_confined(
    kit: &Kit,
    exercises: &[Exercise],
    target: Target,
    echo: bool,
    sandbox: Option<&Arc<Prepared>>,
) -> Result<Built> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_string());
    let mut command = Command::new(cargo);
    command
        .current_dir(&kit.root)
        .args(["build", "--message-format=json", "--keep-going"]);
    if let Some(sandbox) = sandbox {
        command.arg("--offline");
        sandbox.apply_to(&mut command);
    }
    if !cfg!(debug_assertions) {
        // Workers are built in the profile the grader itself was built in.
        command.arg("--release");
    }
    // The package that links the student's crate (or the solution's): the
    // adapter where there is one, else the worker itself.
    let linking = |e: &Exercise| {
        if kit.has_adapter(e) {
            e.adapter_package()
        } else {
            e.check_package()
        }
    };
    for exercise in exercises {
        command.args(["-p", &exercise.check_package()]);
        if kit.has_adapter(exercise) {
            command.args(["-p", &exercise.adapter_package()]);
        }
    }
    if target == Target::Solutions {
        command.arg("--no-default-features").arg("--features").arg(
            exercises
                .iter()
                .map(|e| format!("{}/solution", linking(e)))
                .collect::<Vec<_>>()
                .join(","),
        );
    }
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .context("cannot run cargo; is it on your PATH?")?;
    let stderr = child.stderr.take().expect("piped");
    let stderr_thread = std::thread::spawn(move || tail_and_echo(stderr, echo));
    let mut built = Built::default();
    for line in BufReader::new(child.stdout.take().expect("piped")).lines() {
        let line = line.context("reading cargo's output")?;
        read_message(kit, &line, &mut built);
    }
    child.wait().context("waiting for cargo")?;
    built.cargo_stderr = stderr_thread.join().unwrap_or_default();
    Ok(built)
}

/// Reads one JSON message of `cargo build --message-format=json`.
fn read_message(kit: &Kit, line: &str, built: &mut Built) {
    let Ok(message) = serde_json::from_str::<serde_json::Value>(line) else {
        return;
    };
    let package = message["package_id"].as_str().map(package_name);
    let Some(package) = package else { return };
    match message["reason"].as_str() {
        Some("compiler-artifact") => {
            if let (Some(exe), Some(exercise)) = (
                message["executable"].as_str(),
                kit.exercise_of_package(&package),
            ) {
                if package == exercise.check_package() {
                    built
                        .workers
                        .insert(exercise.id.clone(), PathBuf::from(exe));
                } else if package == exercise.adapter_package() {
                    built
                        .adapters
                        .insert(exercise.id.clone(), PathBuf::from(exe));
                }
            }
        }
        Some("compiler-message") => {
            let diagnostic = &message["message"];
            if diagnostic["level"].as_str() != Some("error") || built.errors.contains_key(&package)
            {
                return;
            }
            let location = diagnostic["spans"].as_array().and_then(|spans| {
                spans
                    .iter()
                    .find(|s| s["is_primary"].as_bool() == Some(true))
                    .map(|s| {
                        format!(
                            "{}:{}:{}",
                            s["file_name"].as_str().unwrap_or("?"),
                            s["line_start"],
                            s["column_start"]
                        )
                    })
            });
            built.errors.insert(
                package.clone(),
                CompileError {
                    package,
                    message: diagnostic["message"].as_str().unwrap_or("").to_string(),
                    location,
                    rendered: diagnostic["rendered"].as_str().unwrap_or("").to_string(),
                },
            );
        }
        _ => {}
    }
}

/// The package name in a cargo package id, old or new style:
/// `path+file:///k/exercises/01-attention#ex01-attention@0.1.0`,
/// `path+file:///k/grader#0.1.0`, `ex01-attention 0.1.0 (path+file:///...)`.
pub fn package_name(id: &str) -> String {
    if let Some((path, fragment)) = id.split_once('#') {
        return match fragment.split_once('@') {
            Some((name, _)) => name.to_string(),
            None => Path::new(path)
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
        };
    }
    id.split(' ').next().unwrap_or(id).to_string()
}

/// Keeps the last 40 lines of a stream, echoing it when asked.
fn tail_and_echo(stream: impl Read, echo: bool) -> String {
    let mut tail = std::collections::VecDeque::new();
    for line in BufReader::new(stream).lines().map_while(|l| l.ok()) {
        if echo {
            let _ = writeln!(std::io::stderr(), "{line}");
        }
        tail.push_back(line);
        if tail.len() > 40 {
            tail.pop_front();
        }
    }
    tail.into_iter().collect::<Vec<_>>().join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn package_names_come_out_of_every_id_style() {
        assert_eq!(
            package_name("path+file:///k/exercises/01-attention#ex01-attention@0.1.0"),
            "ex01-attention"
        );
        assert_eq!(package_name("path+file:///k/grader#0.1.0"), "grader");
        assert_eq!(
            package_name(
                "registry+https://github.com/rust-lang/crates.io-index#candle-core@0.11.1"
            ),
            "candle-core"
        );
        assert_eq!(
            package_name("ex01-attention 0.1.0 (path+file:///k)"),
            "ex01-attention"
        );
    }
}
