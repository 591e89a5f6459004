//! Reports of a grading run, one module per format. They all read a
//! [`RunReport`](crate::grade::RunReport); none of them runs anything.

pub mod gradescope;
pub mod human;
pub mod json;
pub mod junit;
pub mod plot;

use clap::ValueEnum;
use grader_kit::protocol::{CheckStatus, Record};

use crate::grade::{ExerciseReport, RunReport, Status};

/// The report formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// A colored table plus the first failure of each exercise.
    Human,
    /// The run as JSON (schema: grader/REPORT-SCHEMA.md).
    Json,
    /// JUnit XML, one test suite per exercise, one test case per check.
    Junit,
    /// Gradescope's results.json.
    Gradescope,
}

/// Renders `report`; `color` only matters for the human format.
pub fn render(report: &RunReport, format: Format, color: bool) -> String {
    match format {
        Format::Human => human::render(report, color),
        Format::Json => json::render(report),
        Format::Junit => junit::render(report),
        Format::Gradescope => gradescope::render(report),
    }
}

/// "35.00 / 100 points", and the bonus apart when there is one:
/// "35.00 / 100 points, bonus 4.00 / 10".
pub fn total(report: &crate::grade::RunReport) -> String {
    // `+ 0.0`: an empty sum is -0.0, which would print as "-0.00".
    let mut text = format!(
        "{:.2} / {} points",
        report.score + 0.0,
        report.max_score + 0.0
    );
    if report.bonus_max > 0.0 {
        text.push_str(&format!(
            ", bonus {:.2} / {}",
            report.bonus_score, report.bonus_max
        ));
    }
    text
}

/// What confined a trusted run, in a few lines; a warning first when the
/// student's code was not isolated here.
pub fn isolation_lines(isolation: &crate::grade::Isolation) -> String {
    let mut lines = Vec::new();
    let isolated = [&isolation.build, &isolation.adapter]
        .iter()
        .all(|p| p.as_ref().is_none_or(|p| p.isolated()));
    if !isolated {
        lines.push("WARNING: isolation was not available on this machine (Linux Landlock is needed): the student's build and code could read files outside their copy, so these grades are not protected against a dishonest submission.".to_string());
    }
    if let Some(build) = &isolation.build {
        lines.push(format!("  build: {}", build.summary()));
    }
    if let Some(adapter) = &isolation.adapter {
        lines.push(format!("  student code: {}", adapter.summary()));
    }
    lines.push(format!(
        "  reference solution: {}",
        if isolation.reference {
            "random inputs were judged against it too"
        } else {
            "not available (no solutions/ in this kit): random inputs were judged by properties only"
        }
    ));
    format!("Isolation:\n{}", lines.join("\n"))
}

/// The checks of an exercise that did not pass (nor were skipped).
pub fn problems(exercise: &ExerciseReport) -> impl Iterator<Item = &Record> {
    exercise
        .checks
        .iter()
        .filter(|r| !matches!(r.status, CheckStatus::Passed | CheckStatus::Skipped))
}

/// Plain-text detail of one check that did not pass: what, where, the
/// numbers of a mismatch.
pub fn check_detail(record: &Record) -> String {
    let mut lines = vec![format!(
        "{} `{}` (group {}){}",
        match record.status {
            CheckStatus::NotStarted => "not started:",
            CheckStatus::Panicked => "panicked:",
            CheckStatus::FixtureError => "fixture error:",
            CheckStatus::Skipped => "skipped:",
            _ => "failed:",
        },
        record.check,
        record.group,
        record
            .location
            .as_ref()
            .map(|l| format!(" at {l}"))
            .unwrap_or_default()
    )];
    if let Some(message) = &record.message {
        lines.push(message.clone());
    }
    if let Some(m) = &record.mismatch {
        if m.expected_shape != m.got_shape {
            lines.push(format!(
                "shape: expected {:?}, got {:?}",
                m.expected_shape, m.got_shape
            ));
        } else {
            lines.push(format!("shape {:?}", m.expected_shape));
            lines.push(format!(
                "max abs error {:.3e}, max rel error {:.3e} (atol {:e}, rtol {:e})",
                m.max_abs_error, m.max_rel_error, m.atol, m.rtol
            ));
            lines.push(format!(
                "worst at {:?}: expected {}, got {}",
                m.worst_index, m.expected_at_worst, m.got_at_worst
            ));
            if m.got_nan + m.got_inf > 0 {
                lines.push(format!(
                    "your result holds {} NaN and {} infinite values",
                    m.got_nan, m.got_inf
                ));
            }
        }
        if let Some(diagnosis) = &m.diagnosis {
            lines.push(format!("diagnosis: {}", diagnosis.says));
        }
    }
    lines.join("\n")
}

/// Everything a student needs about one exercise that did not pass: the
/// summary, a compile error or the first failing check, and the rerun command.
pub fn exercise_detail(exercise: &ExerciseReport) -> String {
    if exercise.status == Status::NotStarted {
        return format!(
            "{}\nStart with the lesson at the top of exercises/{}/src/lib.rs; `cargo run -p grader -- hint {}` gives a hint.",
            exercise.summary,
            exercise.dir_like(),
            exercise.id
        );
    }
    let mut parts = vec![exercise.summary.clone()];
    if let Some(error) = &exercise.compile_error {
        parts.push(error.rendered.trim_end().to_string());
    } else if let Some(record) = problems(exercise).next() {
        parts.push(check_detail(record));
    }
    if !exercise.stderr_tail.is_empty() {
        parts.push(format!("stderr:\n{}", exercise.stderr_tail));
    }
    if !exercise.checks.is_empty() {
        parts.push(format!("rerun: {}", exercise.rerun));
    }
    parts.join("\n")
}
