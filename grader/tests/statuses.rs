//! Grades the status kit (grader/tests/status-kit), whose exercises end in
//! every way a student's can, and pins each status and each report format.

mod common;

use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;

use common::{copy_dir, copy_kit, kits_target, status_kit, touch};
use grader::catalog::Kit;
use grader::compile::Target;
use grader::grade::{self, Options, RunReport, Status};
use grader::report::{self, Format};

/// One grading run of the whole status kit, shared by the tests, with the
/// timings zeroed so that snapshots are stable. It grades a copy, built in
/// the target dir that commands.rs's copies use, so the kit's dependencies
/// compile once.
fn report() -> &'static RunReport {
    static REPORT: OnceLock<RunReport> = OnceLock::new();
    REPORT.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("kit");
        copy_kit(&root);
        touch(&root.join("exercises"));
        // The launcher's cargo inherits it, as with `grade --cargo-target`.
        std::env::set_var("CARGO_TARGET_DIR", kits_target());
        let kit = Kit::load(&root).unwrap();
        let options = Options {
            target: Target::Exercises,
            seed: 7,
            fixtures: PathBuf::from("fixtures"),
            fixtures_dir: root.join("fixtures"),
            timeout: None,
            memory_bytes: Some(1 << 30),
            only: None,
            echo_build: false,
            references: Default::default(),
            sandbox_uid: None,
            // As `cargo run -p grader` runs them: two workers at once.
            parallel: 2,
        };
        let mut report = grade::grade(&kit, kit.exercises(), &options).unwrap();
        for exercise in &mut report.exercises {
            exercise.duration_ms = 0;
        }
        report
    })
}

fn exercise(id: &str) -> &'static grade::ExerciseReport {
    report().exercises.iter().find(|e| e.id == id).unwrap()
}

#[test]
fn each_ending_gets_its_own_status() {
    let statuses: Vec<(&str, Status)> = report()
        .exercises
        .iter()
        .map(|e| (e.name.as_str(), e.status))
        .collect();
    assert_eq!(
        statuses,
        [
            ("passes", Status::Passed),
            ("fails", Status::Failed),
            ("todo", Status::NotStarted),
            ("panics", Status::Panicked),
            ("loops", Status::TimedOut),
            ("aborts", Status::Crashed),
            ("overflows", Status::Crashed),
            ("no-compile", Status::CompileError),
            ("blocked", Status::Blocked),
            ("forges", Status::Crashed),
            ("todo-on-failing", Status::NotStarted),
            ("todo-in-prerequisite", Status::Blocked),
        ]
    );
    assert_eq!(report().exit_code(), 1);
}

#[test]
fn a_compile_error_names_its_file_and_line() {
    let summary = &exercise("08").summary;
    assert!(
        summary.starts_with("exercises/08-no-compile/src/lib.rs:2:"),
        "{summary}"
    );
    assert!(summary.contains("mismatched types"), "{summary}");
}

#[test]
fn a_panic_names_its_message_and_location() {
    let summary = &exercise("04").summary;
    assert!(
        summary.contains("exercises/04-panics/src/lib.rs:3"),
        "{summary}"
    );
    assert!(summary.contains("index out of bounds"), "{summary}");
}

#[test]
fn records_before_a_crash_or_timeout_are_kept_and_scored() {
    for id in ["05", "06", "07"] {
        let e = exercise(id);
        assert_eq!(
            e.checks.len(),
            1,
            "{id}: the first check finished before the end"
        );
        // One group passed, the unreached rest forfeits: half the points.
        assert_eq!(e.score, 5.0, "{id}");
    }
    assert!(exercise("07").stderr_tail.contains("overflowed its stack"));
}

#[test]
fn forged_records_are_refused() {
    let e = exercise("10");
    // Only the real record of the first check counts; the forged "passed"
    // lines carry a guessed token and are ignored.
    assert_eq!(e.checks.len(), 1);
    assert_eq!(e.checks[0].check, "first");
    assert!(e.summary.contains("exited with code 0"), "{}", e.summary);
    assert_eq!(e.score, 5.0);
}

#[test]
fn partial_credit_and_blocking() {
    assert_eq!(exercise("01").score, 10.0);
    assert_eq!(exercise("02").score, 5.0);
    assert_eq!(exercise("03").score, 0.0);
    assert_eq!(exercise("09").blocked_by, ["02"]);
    assert_eq!(exercise("09").score, 0.0);
}

#[test]
fn a_failure_carries_the_command_that_reruns_it() {
    assert_eq!(
        exercise("02").rerun,
        "cargo run -p grader -- 02 --case answer-is-42 --seed 7"
    );
}

#[test]
fn human_report() {
    insta::assert_snapshot!(report::render(report(), Format::Human, false));
}

#[test]
fn json_report() {
    insta::assert_snapshot!(report::render(report(), Format::Json, false));
}

#[test]
fn junit_report() {
    insta::assert_snapshot!(report::render(report(), Format::Junit, false));
}

#[test]
fn gradescope_report() {
    insta::assert_snapshot!(report::render(report(), Format::Gradescope, false));
}

#[test]
fn a_damaged_fixture_stops_the_run_with_the_way_out() {
    let dir = tempfile::tempdir().unwrap();
    let fixtures = dir.path().join("fixtures");
    copy_dir(&status_kit().join("fixtures"), &fixtures);
    std::fs::write(fixtures.join("01-passes/cases.yaml"), "tampered\n").unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_grader"))
        .args(["--kit", status_kit().to_str().unwrap(), "01", "--fixtures"])
        .arg(&fixtures)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("01-passes/cases.yaml"), "{stderr}");
    assert!(stderr.contains("is damaged"), "{stderr}");
    assert!(
        stderr.contains("python fixtures/export/export.py"),
        "{stderr}"
    );
}

#[test]
fn a_usage_error_exits_with_2() {
    let output = Command::new(env!("CARGO_BIN_EXE_grader"))
        .args(["--kit", status_kit().to_str().unwrap(), "no-such-exercise"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("no exercise matches"));
}
