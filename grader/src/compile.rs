//! Building the workers: one `cargo build` for every selected exercise, with
//! `--keep-going` so that one exercise that does not compile leaves the
//! others gradable. Cargo's JSON messages tell which package failed and
//! where its first error is.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

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
    /// The exercises whose worker is this launcher's own judge
    /// (`grader judge DIR`, see [`crate::judges`]), not a binary built here.
    pub builtin: std::collections::BTreeSet<String>,
    /// The binaries cargo did not rebuild in this run.
    pub fresh: std::collections::BTreeSet<PathBuf>,
    /// Package name → its first error.
    pub errors: BTreeMap<String, CompileError>,
    /// The last lines cargo printed on stderr, for failures that are not
    /// compiler errors (a broken manifest, say).
    pub cargo_stderr: String,
    /// Why the build as a whole did not finish (a limit of a confined
    /// build): every exercise it was to build is then a compile error.
    pub failure: Option<String>,
}

/// A student's build in trusted mode: its sandbox and its limits.
pub struct Confined {
    pub sandbox: Arc<Prepared>,
    /// Wall-clock limit: the build (cargo, rustc, the linker) is killed
    /// after it, and the build lock released.
    pub timeout: Duration,
    /// RLIMIT_AS of each of its processes, in bytes.
    pub memory_bytes: u64,
}

/// What is kept of cargo's output: each JSON message up to this size (a
/// longer one is passed over), and of a compiler error's text this much.
const MAX_MESSAGE_LINE: usize = 4 << 20;
const MAX_RENDERED: usize = 64 << 10;
const MAX_HEADLINE: usize = 4 << 10;

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
    build_verified(kit, exercises, target, echo, None)
}

/// Builds, then checks that every binary comes from this kit's files (see
/// [`foreign_builds`]); one that does not is rebuilt with this kit's files
/// touched, and still foreign, refused with the way out.
pub fn build_verified(
    kit: &Kit,
    exercises: &[Exercise],
    target: Target,
    echo: bool,
    sandbox: Option<&Confined>,
) -> Result<Built> {
    let built = build_confined(kit, exercises, target, echo, sandbox)?;
    let foreign = foreign_builds(kit, &built);
    if foreign.is_empty() {
        return Ok(built);
    }
    // Make this kit's files newer than the other build, then build again.
    for build in &foreign {
        if let Some(exercise) = kit.get(&build.exercise) {
            for dir in ["exercises", "solutions", "grader/checks", "grader/adapters"] {
                let path = kit.root.join(dir).join(&exercise.dir);
                if path.is_dir() {
                    crate::files::touch_tree(&path)?;
                }
            }
        }
    }
    let built = build_confined(kit, exercises, target, echo, sandbox)?;
    if let Some(build) = foreign_builds(kit, &built).first() {
        anyhow::bail!(
            "the grader's worker {} for exercise {} was not built from this kit's files: {}. \
             Another checkout of the kit probably shares this cargo target dir; give this one its own \
             (unset CARGO_TARGET_DIR, or set it to a folder of its own) and run again.",
            build.binary.display(),
            build.exercise,
            build.why
        );
    }
    Ok(built)
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
    sandbox: Option<&Confined>,
) -> Result<Built> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_string());
    let mut command = Command::new(cargo);
    grader_kit::process::clean_env(&mut command)
        .current_dir(&kit.root)
        .args(["build", "--message-format=json", "--keep-going"]);
    let memory = sandbox.map(|c| c.memory_bytes);
    // SAFETY: only async-signal-safe calls (setpgid, setrlimit,
    // close_range/fcntl) run between fork and exec.
    unsafe {
        command.pre_exec(move || {
            if let Some(bytes) = memory {
                // A group of its own, so that a build past its limit is
                // killed whole (cargo, rustc, the linker).
                libc::setpgid(0, 0);
                let limit = libc::rlimit {
                    rlim_cur: bytes as libc::rlim_t,
                    rlim_max: bytes as libc::rlim_t,
                };
                libc::setrlimit(libc::RLIMIT_AS, &limit);
            }
            grader_kit::process::close_descriptors_from(3)
        });
    }
    if let Some(confined) = sandbox {
        command.arg("--offline");
        confined.sandbox.apply_to(&mut command);
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
    // A judge this launcher was built with is not built again: only the
    // adapters (the student's code) are.
    let builtin = |e: &Exercise| kit.has_adapter(e) && crate::judges::builtin(&e.dir).is_some();
    for exercise in exercises {
        if !builtin(exercise) {
            command.args(["-p", &exercise.check_package()]);
        }
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
    command.stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = grader_kit::process::spawn(&mut command)
        .context("cannot run cargo; is it on your PATH?")?;
    let pid = child.id();
    let stderr = child.stderr.take().expect("piped");
    let stderr_thread = std::thread::spawn(move || tail_and_echo(stderr, echo));
    let stdout = child.stdout.take().expect("piped");
    let messages = {
        let kit = kit.clone();
        std::thread::spawn(move || {
            let mut built = Built::default();
            grader_kit::process::for_each_line(stdout, MAX_MESSAGE_LINE, |line| {
                read_message(&kit, line, &mut built)
            });
            built
        })
    };
    let limit = sandbox.map(|c| (Instant::now() + c.timeout, c.timeout));
    let timed_out = loop {
        match child.try_wait() {
            Ok(Some(_)) => break None,
            Ok(None) if limit.is_some_and(|(deadline, _)| Instant::now() >= deadline) => {
                // SAFETY: kill(2) of the build's own process group.
                unsafe {
                    libc::kill(-(pid as i32), libc::SIGKILL);
                }
                let _ = child.wait();
                break limit.map(|(_, timeout)| timeout);
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(20)),
            Err(error) => {
                grader_kit::process::forget(pid);
                return Err(error).context("waiting for cargo");
            }
        }
    };
    grader_kit::process::forget(pid);
    if sandbox.is_some() {
        // Whatever the build left behind: its group, then what left it.
        // SAFETY: kill(2) of the build's own process group.
        unsafe {
            libc::kill(-(pid as i32), libc::SIGKILL);
        }
        grader_kit::process::sweep();
    }
    // Its pipes close with its processes; a pipe still held past the grace
    // is not waited for.
    let grace = Instant::now() + Duration::from_secs(2);
    while !(messages.is_finished() && stderr_thread.is_finished()) && Instant::now() < grace {
        std::thread::sleep(Duration::from_millis(5));
    }
    let mut built = if messages.is_finished() {
        messages.join().unwrap_or_default()
    } else {
        Built::default()
    };
    if stderr_thread.is_finished() {
        built.cargo_stderr = stderr_thread.join().unwrap_or_default();
    }
    if let Some(me) = launcher_exe() {
        for exercise in exercises.iter().filter(|e| builtin(e)) {
            built.workers.insert(exercise.id.clone(), me.clone());
            built.builtin.insert(exercise.id.clone());
        }
    }
    if let Some(timeout) = timed_out {
        built.failure = Some(format!(
            "the build did not finish in {} s (its limit), so nothing of it was graded: look for code that takes the compiler long (a large const evaluation, deep macro recursion)",
            timeout.as_secs()
        ));
        // A binary of a killed build may be incomplete.
        built.workers.clear();
        built.adapters.clear();
    }
    Ok(built)
}

/// This launcher's own binary, to run its judges: `/proc/self/exe` on
/// Linux (in the child it names the running binary, even when a build has
/// since replaced or deleted its file), else its path.
fn launcher_exe() -> Option<PathBuf> {
    let proc_self = Path::new("/proc/self/exe");
    if proc_self.exists() {
        return Some(proc_self.to_path_buf());
    }
    std::env::current_exe().ok()
}

/// Why a built binary cannot be trusted to come from this kit's files.
#[derive(Debug, Clone, PartialEq)]
pub struct ForeignBuild {
    pub exercise: String,
    pub binary: PathBuf,
    pub why: String,
}

/// Checks that every worker and adapter of `built` was compiled from this
/// kit's files. Cargo decides freshness by modification times and hashes a
/// workspace member's path relative to its workspace, so two checkouts that
/// share a target dir share artifacts: after B builds, A's older files look
/// fresh and A would run B's worker. So after each build that compiled a
/// binary we record beside it which kit built it and a hash of the sources
/// it was built from (from cargo's dep-info, `<binary>.d`); a binary cargo
/// calls fresh must carry the record of this kit and of these sources.
pub fn foreign_builds(kit: &Kit, built: &Built) -> Vec<ForeignBuild> {
    let root = std::fs::canonicalize(&kit.root).unwrap_or_else(|_| kit.root.clone());
    let mut foreign = Vec::new();
    let built_here = built
        .workers
        .iter()
        .filter(|(id, _)| !built.builtin.contains(*id));
    for (id, exe) in built_here.chain(&built.adapters) {
        // No dep-info (cargo writes none for a build that failed): nothing
        // to record or check against.
        let Some(origin) = Origin::of(&root, exe) else {
            continue;
        };
        let record = exe.with_extension("grader-origin");
        let recorded = std::fs::read_to_string(&record).unwrap_or_default();
        let mut lines = recorded.lines();
        let (built_in, sources) = (lines.next(), lines.next());
        // A binary cargo rebuilt, or one no run has recorded yet, is this
        // kit's: record it.
        if !built.fresh.contains(exe) || sources.is_none() {
            let _ = std::fs::write(&record, origin.render());
            continue;
        }
        if sources != Some(origin.sources.as_str()) {
            foreign.push(ForeignBuild {
                exercise: id.clone(),
                binary: exe.clone(),
                why: match built_in {
                    Some(other) if other != root.display().to_string() => format!(
                        "it was built from {other}, whose files differ (another checkout sharing this cargo target dir)"
                    ),
                    _ => "its sources changed since it was built, and cargo did not see it"
                        .to_string(),
                },
            });
        }
    }
    foreign
}

/// Which kit built a binary, and a hash of the sources (their paths in the
/// kit and their contents) it was built from.
struct Origin {
    root: PathBuf,
    sources: String,
}

impl Origin {
    /// `None` when the binary has no dep-info naming a file of this kit.
    fn of(root: &Path, exe: &Path) -> Option<Origin> {
        use sha2::{Digest, Sha256};
        let text = std::fs::read_to_string(exe.with_extension("d")).ok()?;
        let first_line = text.lines().next().unwrap_or_default();
        let mut sources: Vec<String> = first_line
            .split_once(": ")
            .map_or(vec![], |(_, deps)| dep_paths(deps))
            .into_iter()
            .filter(|p| Path::new(p).starts_with(root))
            .collect();
        if sources.is_empty() {
            return None;
        }
        sources.sort();
        let mut hash = Sha256::new();
        // Paths relative to the kit: two copies with the same files agree.
        for source in &sources {
            let relative = Path::new(source)
                .strip_prefix(root)
                .unwrap_or(Path::new(source));
            hash.update(relative.to_string_lossy().as_bytes());
            hash.update([0]);
            hash.update(std::fs::read(source).unwrap_or_default());
        }
        Some(Origin {
            root: root.to_path_buf(),
            sources: format!("{:x}", hash.finalize()),
        })
    }

    fn render(&self) -> String {
        format!("{}\n{}\n", self.root.display(), self.sources)
    }
}

/// The paths of a dep-info line, with make's `\ ` for spaces undone.
fn dep_paths(line: &str) -> Vec<String> {
    let mut paths = Vec::new();
    let mut current = String::new();
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if chars.peek() == Some(&' ') => {
                current.push(' ');
                chars.next();
            }
            ' ' => {
                if !current.is_empty() {
                    paths.push(std::mem::take(&mut current));
                }
            }
            c => current.push(c),
        }
    }
    if !current.is_empty() {
        paths.push(current);
    }
    paths
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
                let binaries = if package == exercise.check_package() {
                    &mut built.workers
                } else if package == exercise.adapter_package() {
                    &mut built.adapters
                } else {
                    return;
                };
                binaries.insert(exercise.id.clone(), PathBuf::from(exe));
                if message["fresh"].as_bool() == Some(true) {
                    built.fresh.insert(PathBuf::from(exe));
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
            let text = |field: &str, max: usize| {
                grader_kit::process::student_text(diagnostic[field].as_str().unwrap_or(""), max)
            };
            built.errors.insert(
                package.clone(),
                CompileError {
                    package,
                    message: text("message", MAX_HEADLINE),
                    location: location.map(|l| grader_kit::process::student_text(&l, 1024)),
                    rendered: text("rendered", MAX_RENDERED),
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

/// Keeps the last 40 lines of a stream (each at most 64 KiB; a longer one
/// is passed over), echoing it when asked.
fn tail_and_echo(stream: impl Read, echo: bool) -> String {
    let mut tail = std::collections::VecDeque::new();
    grader_kit::process::for_each_line(stream, 64 << 10, |line| {
        if echo {
            let _ = writeln!(std::io::stderr(), "{line}");
        }
        tail.push_back(grader_kit::process::student_text(line, 1000));
        if tail.len() > 40 {
            tail.pop_front();
        }
    });
    tail.into_iter().collect::<Vec<_>>().join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dep_info_paths_keep_their_spaces() {
        assert_eq!(
            dep_paths("/a/b\\ c/x.rs /d.rs"),
            vec!["/a/b c/x.rs".to_string(), "/d.rs".to_string()]
        );
    }

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
