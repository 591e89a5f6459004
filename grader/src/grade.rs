//! A grading run: build the workers, run each exercise in order (blocked
//! when something it builds on is not passing), turn records into a status
//! and a score. Reports are written from the [`RunReport`] this produces.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use anyhow::Result;
use grader_kit::manifest::{FixtureError, Manifest};
use grader_kit::protocol::{CheckStatus, Planned, Record};
use grader_kit::sandbox::Protections;
use serde::{Deserialize, Serialize};

use crate::catalog::{Exercise, Kit};
use crate::compile::{self, Built, CompileError, Target};
use crate::run::{self, End, Limits, Outcome};

/// An exercise's status. Each is distinct; `summary` says why.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Passed,
    Failed,
    /// Every check reached a `todo!()`.
    NotStarted,
    Panicked,
    TimedOut,
    /// The worker died: abort, stack overflow, out of memory.
    Crashed,
    CompileError,
    /// An exercise it builds on is not passing.
    Blocked,
    /// The fixtures are unusable (exit code 2).
    FixtureError,
    /// The submission was not graded: it holds a symbolic link or a file
    /// that is not a regular one (`grade --submission(s)` only).
    Refused,
}

impl Status {
    pub fn label(self) -> &'static str {
        match self {
            Status::Passed => "passed",
            Status::Failed => "failed",
            Status::NotStarted => "not started",
            Status::Panicked => "panicked",
            Status::TimedOut => "timed out",
            Status::Crashed => "crashed",
            Status::CompileError => "does not compile",
            Status::Blocked => "blocked",
            Status::FixtureError => "fixture error",
            Status::Refused => "refused",
        }
    }
}

/// One group of checks; partial credit is per group.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Group {
    pub name: String,
    pub checks: usize,
    pub passed: usize,
    /// Checks that could not run here (a model file not fetched, say); they
    /// neither earn nor lose credit.
    pub skipped: usize,
}

impl Group {
    pub fn is_passed(&self) -> bool {
        self.passed + self.skipped == self.checks && self.passed > 0
    }
}

/// The result of one exercise.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExerciseReport {
    pub id: String,
    pub name: String,
    pub title: String,
    pub status: Status,
    /// One line that says why.
    pub summary: String,
    pub score: f64,
    pub points: f64,
    pub groups: Vec<Group>,
    pub checks: Vec<Record>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compile_error: Option<CompileError>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub blocked_by: Vec<String>,
    /// A bonus exercise: counted in `bonus_score`, not in `score`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub bonus: bool,
    /// The command that reruns this exercise with the same seed.
    pub rerun: String,
    /// What the worker printed on stderr when it did not finish cleanly.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub stderr_tail: String,
    /// What the student's code printed (`println!`, `eprintln!`, `dbg!`):
    /// its own words, capped (the first lines and the last, with a line
    /// that says how many were left out). Never read for a status.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub student_output: String,
    pub duration_ms: u64,
}

impl ExerciseReport {
    /// The report of `exercise` before anything is known: passed, no
    /// checks, no points yet, and the command that reruns it.
    pub fn new(exercise: &Exercise, options: &Options) -> ExerciseReport {
        ExerciseReport {
            id: exercise.id.clone(),
            name: exercise.name.clone(),
            title: exercise.title.clone(),
            status: Status::Passed,
            summary: String::new(),
            score: 0.0,
            points: exercise.points,
            bonus: exercise.bonus,
            groups: vec![],
            checks: vec![],
            compile_error: None,
            blocked_by: vec![],
            rerun: rerun_command(&exercise.id, None, options),
            stderr_tail: String::new(),
            student_output: String::new(),
            duration_ms: 0,
        }
    }

    /// "01-attention": a name for the exercise in file-like contexts.
    pub fn dir_like(&self) -> String {
        format!("{}-{}", self.id, self.name)
    }
}

/// A whole grading run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunReport {
    /// Bumped on any incompatible change of this JSON shape.
    pub schema_version: u32,
    pub seed: u64,
    pub target: Target,
    pub fixtures: String,
    /// The points of the graded exercises that are not bonus ones.
    pub score: f64,
    pub max_score: f64,
    /// Bonus exercises' points, on top of `score` (absent without any).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub bonus_score: f64,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub bonus_max: f64,
    pub exercises: Vec<ExerciseReport>,
    /// Trusted mode (`grade --submission(s)`): what confined the student's
    /// build and code, and whether a reference solution judged them too.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub isolation: Option<Isolation>,
}

/// The protections a trusted run had in force.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Isolation {
    /// The student's `cargo build`.
    pub build: Option<Protections>,
    /// The adapters, the processes that ran the student's code.
    pub adapter: Option<Protections>,
    /// Random inputs were also judged against the reference solution.
    pub reference: bool,
}

pub const SCHEMA_VERSION: u32 = 1;

fn is_zero(value: &f64) -> bool {
    *value == 0.0
}

impl RunReport {
    /// The run of `exercises`, with its totals (bonus exercises apart).
    pub fn of(options: &Options, exercises: Vec<ExerciseReport>) -> RunReport {
        let sum = |bonus: bool, of: fn(&ExerciseReport) -> f64| -> f64 {
            exercises.iter().filter(|e| e.bonus == bonus).map(of).sum()
        };
        RunReport {
            schema_version: SCHEMA_VERSION,
            seed: options.seed,
            target: options.target,
            fixtures: options.fixtures.display().to_string(),
            score: sum(false, |e| e.score),
            max_score: sum(false, |e| e.points),
            bonus_score: sum(true, |e| e.score),
            bonus_max: sum(true, |e| e.points),
            exercises,
            isolation: None,
        }
    }

    /// 0 if everything graded passed, 1 if anything failed, 2 on a fixture error.
    pub fn exit_code(&self) -> i32 {
        if self
            .exercises
            .iter()
            .any(|e| e.status == Status::FixtureError)
        {
            2
        } else if self.exercises.iter().all(|e| e.status == Status::Passed) {
            0
        } else {
            1
        }
    }
}

/// What to grade and how.
#[derive(Debug, Clone)]
pub struct Options {
    pub target: Target,
    pub seed: u64,
    /// The fixture root as the user named it (shown in reports and reruns).
    pub fixtures: PathBuf,
    /// The same, resolved to a path the worker can open.
    pub fixtures_dir: PathBuf,
    /// Overrides every exercise's own time limit.
    pub timeout: Option<Duration>,
    pub memory_bytes: Option<u64>,
    /// Run only this check (a case id or property name).
    pub only: Option<String>,
    /// Forward cargo's progress to stderr.
    pub echo_build: bool,
    /// Exercise id → the reference solution's adapter (trusted mode): the
    /// judge compares the student's outputs on random inputs with it.
    pub references: BTreeMap<String, PathBuf>,
    /// The uid the adapters run as when the grader is root (trusted mode).
    pub sandbox_uid: Option<u32>,
    /// Workers run at once (at least 1); see [`grade_built`].
    pub parallel: usize,
}

/// Workers at once for a student's run: two where there are two cores. A
/// training exercise leaves a core idle for seconds (its training runs
/// alone in one adapter process), and what it builds on runs meanwhile.
pub fn default_parallel() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get().min(2))
}

/// Checks the sha256 of every fixture file the selected exercises use.
pub fn verify_fixtures(root: &Path, exercises: &[Exercise]) -> Result<(), FixtureError> {
    let manifest = Manifest::load(root)?;
    for exercise in exercises {
        if !manifest.has_exercise(&exercise.dir) {
            return Err(FixtureError {
                path: root.join(&exercise.dir),
                problem: format!(
                    "holds no fixtures for exercise {} in manifest.yaml",
                    exercise.id
                ),
            });
        }
        manifest.verify(root, &format!("{}/", exercise.dir))?;
    }
    Ok(())
}

/// Grades `selected` (and, silently, what they build on).
pub fn grade(kit: &Kit, selected: &[Exercise], options: &Options) -> Result<RunReport> {
    let all = kit.with_prerequisites(selected);
    // Only these workers: an edit in 01 must not relink the workers of
    // every exercise built on it before 01's verdict arrives.
    let built = compile::build_workers(kit, &all, options.target, options.echo_build)?;
    Ok(grade_built(kit, selected, &built, options, &mut |_| {}))
}

/// Grades `selected` (and what they build on) with workers already built,
/// calling `on_graded` after each exercise, prerequisites included: `list`
/// draws its progress bar from it, and batch grading builds under a lock
/// and then runs copies of the workers in parallel.
///
/// Up to `options.parallel` workers run at once, the selected exercises
/// first and the longest (by time limit) before the others: `grader 08`
/// then runs 01–04 and 07, which decide whether 08 is blocked, while 08's
/// training runs. Each exercise is then judged, and `on_graded` called, in
/// the kit's order, once what it builds on is judged.
pub fn grade_built(
    kit: &Kit,
    selected: &[Exercise],
    built: &Built,
    options: &Options,
    on_graded: &mut dyn FnMut(&ExerciseReport),
) -> RunReport {
    let all = kit.with_prerequisites(selected);
    let mut queue: Vec<&Exercise> = all.iter().collect();
    let is_selected = |e: &Exercise| selected.iter().any(|s| s.id == e.id);
    queue.sort_by_key(|e| (!is_selected(e), std::cmp::Reverse(e.timeout_secs)));
    let queue = Mutex::new(queue.into_iter());
    let (sender, finished) = std::sync::mpsc::channel::<(String, Option<Outcome>)>();
    let mut results: BTreeMap<String, ExerciseReport> = BTreeMap::new();
    std::thread::scope(|scope| {
        for _ in 0..options.parallel.clamp(1, all.len().max(1)) {
            let (queue, sender) = (&queue, sender.clone());
            scope.spawn(move || loop {
                let next = queue.lock().unwrap_or_else(|e| e.into_inner()).next();
                let Some(exercise) = next else { break };
                let outcome = run_one(kit, exercise, built, options, !is_selected(exercise));
                if sender.send((exercise.id.clone(), outcome)).is_err() {
                    break;
                }
            });
        }
        drop(sender);
        // Judge in the kit's order as the outcomes arrive.
        let mut outcomes: BTreeMap<String, Option<Outcome>> = BTreeMap::new();
        let mut next = 0;
        for (id, outcome) in finished {
            outcomes.insert(id, outcome);
            while let Some(exercise) = all.get(next) {
                let Some(outcome) = outcomes.remove(&exercise.id) else {
                    break;
                };
                let report = grade_one(kit, exercise, built, &results, options, outcome);
                on_graded(&report);
                results.insert(exercise.id.clone(), report);
                next += 1;
            }
        }
    });
    let exercises: Vec<ExerciseReport> = selected
        .iter()
        .filter_map(|e| results.remove(&e.id))
        .collect();
    RunReport::of(options, exercises)
}

/// The report of a submission that was refused before any build: every
/// exercise of `selected` is `refused`, with `why` as its summary, and
/// earns nothing.
pub fn refused(selected: &[Exercise], options: &Options, why: &str) -> RunReport {
    let exercises: Vec<ExerciseReport> = selected
        .iter()
        .map(|exercise| ExerciseReport {
            status: Status::Refused,
            summary: why.to_string(),
            ..ExerciseReport::new(exercise, options)
        })
        .collect();
    RunReport::of(options, exercises)
}

/// The worker of `exercise` and its adapter, when both were built and
/// nothing of the exercise's own failed to compile.
fn runnable<'a>(kit: &Kit, exercise: &Exercise, built: &'a Built) -> Option<&'a PathBuf> {
    let own_packages = [
        exercise.exercise_package(),
        exercise.solution_package(),
        exercise.check_package(),
        exercise.adapter_package(),
    ];
    if own_packages.iter().any(|p| built.errors.contains_key(p)) {
        return None;
    }
    let adapter = built.adapters.get(&exercise.id);
    built
        .workers
        .get(&exercise.id)
        .filter(|_| adapter.is_some() || !kit.has_adapter(exercise))
}

/// Runs the worker of `exercise`, if it has one to run.
fn run_one(
    kit: &Kit,
    exercise: &Exercise,
    built: &Built,
    options: &Options,
    background: bool,
) -> Option<Outcome> {
    let worker = runnable(kit, exercise, built)?;
    // This launcher's own judge: `grader judge DIR ARGS…`.
    let judge = built
        .builtin
        .contains(&exercise.id)
        .then(|| ["judge".to_string(), exercise.dir.clone()]);
    let mut args: Vec<String> = judge.into_iter().flatten().collect();
    args.extend([
        "--fixtures".to_string(),
        options.fixtures_dir.display().to_string(),
        "--seed".to_string(),
        options.seed.to_string(),
    ]);
    if let Some(only) = &options.only {
        args.extend(["--only".to_string(), only.clone()]);
    }
    if let Some(adapter) = built.adapters.get(&exercise.id) {
        args.extend(["--adapter".to_string(), adapter.display().to_string()]);
    }
    if let Some(uid) = options.sandbox_uid {
        args.extend(["--sandbox-uid".to_string(), uid.to_string()]);
    }
    if let Some(reference) = options.references.get(&exercise.id) {
        args.extend(["--reference".to_string(), reference.display().to_string()]);
    }
    let limits = Limits {
        timeout: options
            .timeout
            .unwrap_or(Duration::from_secs(exercise.timeout_secs)),
        memory_bytes: options.memory_bytes,
        background,
    };
    let cap = if options.only.is_some() {
        run::OutputCap::CASE
    } else {
        run::OutputCap::RUN
    };
    Some(run::run_worker(worker, &args, limits, cap))
}

/// The report of `exercise` from its worker's `outcome` (`None`: it had
/// none to run), judged against what it builds on (`earlier`).
fn grade_one(
    kit: &Kit,
    exercise: &Exercise,
    built: &Built,
    earlier: &BTreeMap<String, ExerciseReport>,
    options: &Options,
    outcome: Option<Outcome>,
) -> ExerciseReport {
    let mut report = ExerciseReport::new(exercise, options);
    let own_packages = [
        exercise.exercise_package(),
        exercise.solution_package(),
        exercise.check_package(),
        exercise.adapter_package(),
    ];
    if let Some(failure) = &built.failure {
        report.status = Status::CompileError;
        report.summary = failure.clone();
        return report;
    }
    if let Some(error) = own_packages.iter().find_map(|p| built.errors.get(p)) {
        report.status = Status::CompileError;
        report.summary = match &error.location {
            Some(location) => format!("{location}: error: {}", error.message),
            None => format!("error: {}", error.message),
        };
        report.compile_error = Some(error.clone());
        return report;
    }
    let blocked_by: Vec<String> = exercise
        .builds_on
        .iter()
        .filter(|dep| {
            earlier
                .get(*dep)
                .is_some_and(|r| r.status != Status::Passed)
        })
        .cloned()
        .collect();
    let Some(outcome) = outcome else {
        if blocked_by.is_empty() {
            report.status = Status::CompileError;
            report.summary = format!(
                "the grader's worker {} was not built; cargo said:\n{}",
                exercise.check_package(),
                built.cargo_stderr
            );
        } else {
            block(&mut report, kit, blocked_by);
        }
        return report;
    };
    report.duration_ms = outcome.elapsed.as_millis() as u64;
    let mistakes = kit.mistakes(exercise);
    report.checks = outcome
        .records
        .into_iter()
        .map(|record| with_diagnosis(record, &mistakes))
        .collect();
    if outcome.end != End::Finished {
        report.stderr_tail = outcome.stderr_tail.clone();
    }
    report.student_output = outcome.student_output.clone();
    // A crash's last words: the worker's own, else the student's process's
    // (an abort message, "has overflowed its stack").
    let last_words = if outcome.stderr_tail.trim().is_empty() {
        &outcome.student_output
    } else {
        &outcome.stderr_tail
    };
    judge(
        &mut report,
        &outcome.end,
        last_words,
        options,
        &outcome.planned,
    );
    // Untouched stubs are "not started" whatever they build on; anything
    // else that builds on a failing exercise is blocked, since its results
    // would blame it for the other's faults.
    let own_dir = format!("exercises/{}/", exercise.dir);
    let untouched = report.status == Status::NotStarted
        && report
            .checks
            .iter()
            .filter(|r| r.status == CheckStatus::NotStarted)
            .all(|r| {
                r.location
                    .as_deref()
                    .is_some_and(|l| l.starts_with(&own_dir))
            });
    if options.only.is_some() {
        // One case (`--case`): what it builds on ran that case id only, so
        // its statuses say nothing. Grade the case anyway and say so.
        note_prerequisites_unchecked(&mut report, kit, exercise);
    } else if !blocked_by.is_empty() && !untouched {
        block(&mut report, kit, blocked_by);
    }
    report
}

/// How the note of [`note_prerequisites_unchecked`] begins in a summary.
pub const CASE_NOTE: &str = "note: --case grades this case alone";

/// `--case` of an exercise that builds on others: a note in the summary
/// that they were not graded in this run (the status and score are the
/// case's own).
fn note_prerequisites_unchecked(report: &mut ExerciseReport, kit: &Kit, exercise: &Exercise) {
    let Some(last) = exercise.builds_on.last() else {
        return;
    };
    let names: Vec<String> = exercise
        .builds_on
        .iter()
        .map(|id| match kit.get(id) {
            Some(e) => format!("{} {}", e.id, e.name),
            None => id.clone(),
        })
        .collect();
    report.summary = format!(
        "{}; {CASE_NOTE}, not what it builds on ({}: `cargo run -p grader -- {last}` grades it)",
        report.summary,
        names.join(", "),
    );
}

fn block(report: &mut ExerciseReport, kit: &Kit, blocked_by: Vec<String>) {
    let names: Vec<String> = blocked_by
        .iter()
        .map(|id| match kit.get(id) {
            Some(e) => format!("{} ({})", e.id, e.name),
            None => id.clone(),
        })
        .collect();
    report.status = Status::Blocked;
    report.score = 0.0;
    report.summary = format!(
        "builds on {}, which is not passing yet; finish it first (`cargo run -p grader -- {}`)",
        names.join(" and "),
        blocked_by[0]
    );
    report.blocked_by = blocked_by;
}

/// Fills in the line of a diagnosed mistake from the exercise's catalogue.
fn with_diagnosis(mut record: Record, mistakes: &BTreeMap<String, String>) -> Record {
    if let Some(diagnosis) = record.mismatch.as_mut().and_then(|m| m.diagnosis.as_mut()) {
        diagnosis.says = mistakes
            .get(&diagnosis.mistake)
            .cloned()
            .unwrap_or_else(|| {
                format!(
                    "your result equals the known mistake `{}`",
                    diagnosis.mistake
                )
            });
    }
    record
}

/// Sets status, summary, groups and score from the records and the way the
/// worker ended.
/// `planned`: the checks the worker announced; those a run cut short never
/// reached count as failed, so stopping early never earns more.
pub fn judge(
    report: &mut ExerciseReport,
    end: &End,
    stderr_tail: &str,
    options: &Options,
    planned: &[Planned],
) {
    report.groups = groups(&report.checks, planned);
    let (status, summary) = status_of(&report.checks, end, stderr_tail, options);
    // Every status here comes from the records' statuses (the judge's), the
    // way the worker ended and the plan: no message text is read for one.
    report.status = status;
    report.summary = summary;
    // With a plan, every group is known; without one (a worker that died
    // before announcing), a run cut short counts one more failed group.
    let every_group_known = end == &End::Finished || !planned.is_empty();
    report.score = score(report.points, &report.groups, every_group_known);
    if let Some(record) = report
        .checks
        .iter()
        .find(|r| !matches!(r.status, CheckStatus::Passed | CheckStatus::Skipped))
    {
        report.rerun = rerun_command(&report.id, Some(&record.check), options);
    }
}

/// An exercise's status and the line that says why, from its records'
/// statuses and the way its worker ended: the one place a status is decided.
fn status_of(
    checks: &[Record],
    end: &End,
    stderr_tail: &str,
    options: &Options,
) -> (Status, String) {
    let count = |status| checks.iter().filter(|r| r.status == status).count();
    let first = |status| checks.iter().find(|r| r.status == status);
    let total = checks.len();
    let passed = count(CheckStatus::Passed);
    let last_words = stderr_tail
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("")
        .trim()
        .to_string();
    if let Some(record) = first(CheckStatus::FixtureError) {
        (
            Status::FixtureError,
            record.message.clone().unwrap_or_default(),
        )
    } else {
        match end {
            End::TimedOut(limit) => (
                Status::TimedOut,
                format!(
                    "stopped after the {}-second limit with {passed} of {total} finished checks passed; look for an endless loop, or raise the limit with --timeout",
                    limit.as_secs()
                ),
            ),
            End::Signaled { name, .. } => (
                Status::Crashed,
                format!("the process died of {name} after {}. {last_words}", plural(total, "check"))
                    .trim_end()
                    .to_string(),
            ),
            End::Exited(code) => (
                Status::Crashed,
                format!(
                    "the process exited with code {code} before its last check, after {} (does your code call std::process::exit?). {last_words}",
                    plural(total, "check")
                )
                .trim_end()
                .to_string(),
            ),
            End::NotStarted(message) => (Status::Crashed, message.clone()),
            End::Finished if total == 0 => (
                Status::Failed,
                match &options.only {
                    Some(only) => format!("no check is named {only:?}"),
                    None => "the worker ran no checks".to_string(),
                },
            ),
            End::Finished => {
                let not_started = count(CheckStatus::NotStarted);
                let skipped = count(CheckStatus::Skipped);
                if passed + skipped == total && passed > 0 {
                    let note = if skipped > 0 {
                        format!(" ({skipped} skipped)")
                    } else {
                        String::new()
                    };
                    (Status::Passed, format!("all {passed} checks passed{note}"))
                } else if skipped == total {
                    (
                        Status::Passed,
                        format!("no graded check ran ({} not graded)", plural(skipped, "check")),
                    )
                } else if not_started + skipped == total {
                    let record = first(CheckStatus::NotStarted).expect("some check is not started");
                    (
                        Status::NotStarted,
                        format!(
                            "todo!() reached{}; fill in the stubs",
                            record
                                .location
                                .as_ref()
                                .map(|l| format!(" at {l}"))
                                .unwrap_or_default()
                        ),
                    )
                } else if let Some(record) = first(CheckStatus::Panicked) {
                    (
                        Status::Panicked,
                        format!(
                            "{} panicked{}: {}",
                            record.check,
                            record
                                .location
                                .as_ref()
                                .map(|l| format!(" at {l}"))
                                .unwrap_or_default(),
                            record.message.as_deref().unwrap_or("")
                        ),
                    )
                } else {
                    let failing = total - passed - skipped;
                    let record = checks
                        .iter()
                        .find(|r| !matches!(r.status, CheckStatus::Passed | CheckStatus::Skipped))
                        .expect("some check did not pass");
                    (
                        Status::Failed,
                        format!(
                            "{failing} of {total} checks did not pass; first: {}",
                            record.check
                        ),
                    )
                }
            }
        }
    }
}

/// "1 check", "3 checks".
fn plural(count: usize, noun: &str) -> String {
    if count == 1 {
        format!("{count} {noun}")
    } else {
        format!("{count} {noun}s")
    }
}

/// Checks grouped in the order they first appear, with the planned checks
/// no record reports counted as not passed.
fn groups(records: &[Record], planned: &[Planned]) -> Vec<Group> {
    let mut groups: Vec<Group> = vec![];
    let mut add = |name: &str, status: Option<CheckStatus>| {
        let index = match groups.iter().position(|g| g.name == name) {
            Some(index) => index,
            None => {
                groups.push(Group {
                    name: name.to_string(),
                    checks: 0,
                    passed: 0,
                    skipped: 0,
                });
                groups.len() - 1
            }
        };
        let group = &mut groups[index];
        group.checks += 1;
        match status {
            Some(CheckStatus::Passed) => group.passed += 1,
            Some(CheckStatus::Skipped) => group.skipped += 1,
            _ => {}
        }
    };
    for record in records {
        add(&record.group, Some(record.status));
    }
    let reported: std::collections::BTreeSet<(&str, &str)> = records
        .iter()
        .map(|r| (r.group.as_str(), r.check.as_str()))
        .collect();
    for plan in planned {
        if !reported.contains(&(plan.group.as_str(), plan.check.as_str())) {
            add(&plan.group, None);
        }
    }
    groups
}

/// Points × the share of groups that passed. Groups of skipped checks only
/// do not count. A run cut short (timeout, crash) counts one more, failed,
/// group for the checks it never reached.
pub fn score(points: f64, groups: &[Group], complete: bool) -> f64 {
    let counted: Vec<&Group> = groups.iter().filter(|g| g.skipped < g.checks).collect();
    let denominator = counted.len() + usize::from(!complete);
    if denominator == 0 {
        return 0.0;
    }
    let passed = counted.iter().filter(|g| g.is_passed()).count();
    let raw = points * passed as f64 / denominator as f64;
    (raw * 100.0).round() / 100.0
}

/// The command that reruns one exercise, or one check of it, exactly.
/// The flags that change a verdict are kept: a run of one case (`--case`)
/// reruns that case, and a time limit given is given again.
pub fn rerun_command(id: &str, check: Option<&str>, options: &Options) -> String {
    let mut command = format!("cargo run -p grader -- {id}");
    if let Some(check) = check.or(options.only.as_deref()) {
        command.push_str(&format!(" --case {check}"));
    }
    command.push_str(&format!(" --seed {}", options.seed));
    if options.target == Target::Solutions {
        command.push_str(" --solutions");
    }
    if options.fixtures != Path::new("fixtures") {
        command.push_str(&format!(" --fixtures {}", options.fixtures.display()));
    }
    if let Some(timeout) = options.timeout {
        command.push_str(&format!(" --timeout {}", timeout.as_secs()));
    }
    command
}

#[cfg(test)]
mod tests {
    use super::*;

    fn group(checks: usize, passed: usize, skipped: usize) -> Group {
        Group {
            name: "g".into(),
            checks,
            passed,
            skipped,
        }
    }

    #[test]
    fn planned_checks_a_run_never_reached_count_as_failed() {
        let record = |group: &str, check: &str, status| Record {
            group: group.into(),
            check: check.into(),
            status,
            message: None,
            location: None,
            mismatch: None,
        };
        let plan = |group: &str, check: &str| Planned {
            group: group.into(),
            check: check.into(),
        };
        let records = [record("softmax", "s1", CheckStatus::Passed)];
        let planned = [
            plan("softmax", "s1"),
            plan("weights", "w1"),
            plan("properties", "p1"),
        ];
        let groups = groups(&records, &planned);
        assert_eq!(groups.len(), 3);
        assert_eq!((groups[1].checks, groups[1].passed), (1, 0));
        // Exiting (or hanging) after the first group earns a third, as the
        // honest code that fails the rest would.
        assert_eq!(score(9.0, &groups, true), 3.0);
    }

    #[test]
    fn partial_credit_is_per_group() {
        let groups = [group(3, 3, 0), group(2, 1, 0)];
        assert_eq!(score(10.0, &groups, true), 5.0);
        assert_eq!(score(10.0, &groups[..1], true), 10.0);
    }

    #[test]
    fn a_cut_short_run_forfeits_the_rest() {
        assert_eq!(score(10.0, &[group(3, 3, 0)], false), 5.0);
        assert_eq!(score(10.0, &[], false), 0.0);
    }

    #[test]
    fn skipped_checks_neither_earn_nor_lose() {
        assert_eq!(score(10.0, &[group(2, 2, 0), group(1, 0, 1)], true), 10.0);
        assert_eq!(score(10.0, &[group(3, 2, 1)], true), 10.0);
        assert!(!group(1, 0, 1).is_passed());
    }
}
