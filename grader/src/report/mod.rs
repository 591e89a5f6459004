//! Reports of a grading run, one module per format. They all read a
//! [`RunReport`](crate::grade::RunReport); none of them runs anything.

pub mod gradescope;
pub mod human;
pub mod json;
pub mod junit;
pub mod plot;

use clap::ValueEnum;
use grader_kit::protocol::{CheckStatus, Mismatch, Record, Rows};

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
/// "35.00 / 100 points, bonus 4.00 / 10"; only the bonus when only bonus
/// exercises were graded: "bonus 4.00 / 10 points".
pub fn total(report: &crate::grade::RunReport) -> String {
    if report.max_score == 0.0 && report.bonus_max > 0.0 {
        return format!(
            "bonus {:.2} / {} points",
            report.bonus_score + 0.0,
            report.bonus_max
        );
    }
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

/// The weight a picture of `rows` shades darkest, on both sides: the
/// largest expected weight shown (the largest of both would blank the
/// expected side when yours are far too large); yours when no expected
/// weight is above 0.
pub fn weight_scale(rows: &Rows) -> f64 {
    let largest = |grid: &[Vec<Option<f64>>]| {
        grid.iter()
            .flatten()
            .flatten()
            .fold(0.0f64, |m, v| m.max(*v))
    };
    let expected = largest(&rows.expected);
    let top = if expected > 0.0 {
        expected
    } else {
        largest(&rows.got)
    };
    top.max(f64::MIN_POSITIVE)
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
                "max abs error {:.3e}, max rel error {} (atol {:e}, rtol {:e})",
                m.max_abs_error,
                relative_error(m),
                m.atol,
                m.rtol
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

/// The largest relative error of a mismatch, as text. The judge divides
/// by the expected value only where it is not 0, so a 0 there means every
/// differing value was expected to be 0: no relative error exists.
fn relative_error(m: &Mismatch) -> String {
    if m.max_rel_error == 0.0 && m.max_abs_error != 0.0 {
        "n/a (expected 0)".to_string()
    } else if m.expected_at_worst == 0.0 && m.max_abs_error != 0.0 {
        format!(
            "{:.3e} (where the expected value is not 0)",
            m.max_rel_error
        )
    } else {
        format!("{:.3e}", m.max_rel_error)
    }
}

/// "5", "2.5", "3.33": points without the zeros that say nothing.
pub fn points(value: f64) -> String {
    let text = format!("{:.2}", value + 0.0);
    text.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// How groups score, in one line.
pub const GROUPS_RULE: &str = "a group earns its share only when all its checks pass";

/// Whether the score counted one more, failed, group for checks a run cut
/// short never reached ([`grade::score`](crate::grade::score) with
/// `complete` false). The report does not say so; the score does, unless
/// nothing passed, and then an ending that stopped the run before it
/// announced its checks does (no group holds a check it never reported).
fn counted_an_unreached_group(exercise: &ExerciseReport) -> bool {
    let complete = crate::grade::score(exercise.points, &exercise.groups, true);
    let cut = crate::grade::score(exercise.points, &exercise.groups, false);
    if complete != cut {
        return exercise.score == cut;
    }
    let stopped = matches!(exercise.status, Status::TimedOut | Status::Crashed);
    let announced: usize = exercise.groups.iter().map(|g| g.checks).sum();
    stopped && announced == exercise.checks.len()
}

/// One line per group: its points and, when it failed, its first failing
/// check with that check's message, e.g. `properties  0/2.5 ✗  first:
/// causality: changing token 3 of 4 ...`. Empty for an exercise whose score
/// does not come from its groups (blocked, not compiling, not started...).
pub fn group_lines(exercise: &ExerciseReport) -> Vec<String> {
    let scored = matches!(
        exercise.status,
        Status::Failed | Status::Panicked | Status::TimedOut | Status::Crashed
    );
    if !scored || exercise.groups.is_empty() {
        return vec![];
    }
    let unreached = counted_an_unreached_group(exercise);
    let counted = exercise
        .groups
        .iter()
        .filter(|g| g.skipped < g.checks)
        .count()
        + usize::from(unreached);
    if counted == 0 {
        return vec![];
    }
    let share = exercise.points / counted as f64;
    let mut rows: Vec<(String, String, String)> = vec![];
    for group in &exercise.groups {
        if group.skipped == group.checks {
            rows.push((
                group.name.clone(),
                "-".to_string(),
                "skipped, not counted".to_string(),
            ));
            continue;
        }
        let earned = if group.is_passed() { share } else { 0.0 };
        let score = format!("{}/{}", points(earned), points(share));
        if group.is_passed() {
            rows.push((group.name.clone(), score, "✓".to_string()));
            continue;
        }
        let failing: Vec<&Record> = problems(exercise)
            .filter(|r| r.group == group.name)
            .collect();
        let counted_checks = group.checks - group.skipped;
        let not_passed = counted_checks - group.passed;
        let note = match failing.first() {
            Some(first) => {
                let mut note = format!(
                    "✗  {not_passed} of {} did not pass; first: {}",
                    plural(counted_checks, "check"),
                    first.check
                );
                // A property's message says what is wrong in words, often
                // the most telling line of all: room for more of it.
                let room = if group.name == "properties" { 200 } else { 110 };
                if let Some(message) = first.message.as_deref().and_then(|m| m.lines().next()) {
                    note.push_str(&format!(" — {}", shorten(message, room)));
                }
                note
            }
            None => format!(
                "✗  not run: the run stopped before {}",
                if not_passed == 1 {
                    "its check".to_string()
                } else {
                    format!("its {not_passed} checks")
                }
            ),
        };
        rows.push((group.name.clone(), score, note));
    }
    if unreached {
        rows.push((
            "(not reached)".to_string(),
            format!("0/{}", points(share)),
            "✗  the checks after the run stopped, counted as one failed group".to_string(),
        ));
    }
    let name_width = rows.iter().map(|r| r.0.chars().count()).max().unwrap_or(0);
    let score_width = rows.iter().map(|r| r.1.chars().count()).max().unwrap_or(0);
    let mut lines = vec![format!("groups ({GROUPS_RULE}):")];
    for (name, score, note) in rows {
        lines.push(format!(
            "  {name:<name_width$}  {score:>score_width$}  {note}"
        ));
    }
    lines
}

/// "1 check", "3 checks".
fn plural(count: usize, noun: &str) -> String {
    if count == 1 {
        format!("{count} {noun}")
    } else {
        format!("{count} {noun}s")
    }
}

/// `text` cut to `max` characters, with "…" when cut.
fn shorten(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        text.to_string()
    } else {
        let cut: String = text.chars().take(max.saturating_sub(1)).collect();
        format!("{}…", cut.trim_end())
    }
}

/// `--verbose`: every check that did not pass, one line each with its
/// message's first line, and its diagnosis when it has one.
pub fn every_failure_lines(exercise: &ExerciseReport) -> Vec<String> {
    let failing: Vec<&Record> = problems(exercise).collect();
    if failing.is_empty() {
        return vec![];
    }
    let mut lines = vec![format!(
        "every check that did not pass ({}):",
        failing.len()
    )];
    for record in failing {
        let what = match record.status {
            CheckStatus::NotStarted => "not started",
            CheckStatus::Panicked => "panicked",
            CheckStatus::FixtureError => "fixture error",
            _ => "failed",
        };
        let mut line = format!("  {} ({}, {what})", record.check, record.group);
        if let Some(location) = &record.location {
            line.push_str(&format!(" at {location}"));
        }
        if let Some(message) = record.message.as_deref().and_then(|m| m.lines().next()) {
            line.push_str(&format!(": {message}"));
        }
        lines.push(line);
        if let Some(diagnosis) = record.mismatch.as_ref().and_then(|m| m.diagnosis.as_ref()) {
            lines.push(format!("    diagnosis: {}", diagnosis.says));
        }
    }
    lines
}

/// What [`exercise_detail_with`] adds to the plain detail.
#[derive(Debug, Clone, Copy, Default)]
pub struct Detail {
    /// Each group's points and first failing check.
    pub groups: bool,
    /// Every check that did not pass.
    pub verbose: bool,
}

/// Everything a student needs about one exercise that did not pass: the
/// summary, a compile error or the first failing check, and the rerun command.
pub fn exercise_detail(exercise: &ExerciseReport) -> String {
    exercise_detail_with(exercise, Detail::default())
}

/// [`exercise_detail`], with the groups after the summary and, verbose,
/// every failing check before the rerun command.
pub fn exercise_detail_with(exercise: &ExerciseReport, detail: Detail) -> String {
    if exercise.status == Status::NotStarted {
        return format!(
            "{}\nStart with the lesson at the top of exercises/{}/src/lib.rs; `cargo run -p grader -- hint {}` gives a hint.",
            exercise.summary,
            exercise.dir_like(),
            exercise.id
        );
    }
    let mut parts = vec![exercise.summary.clone()];
    if detail.groups {
        parts.extend(group_lines(exercise));
    }
    if let Some(error) = &exercise.compile_error {
        parts.push(error.rendered.trim_end().to_string());
    } else if let Some(record) = problems(exercise).next() {
        parts.push(check_detail(record));
    }
    if !exercise.stderr_tail.is_empty() {
        parts.push(format!("stderr:\n{}", exercise.stderr_tail));
    }
    if detail.verbose {
        parts.extend(every_failure_lines(exercise));
    }
    if !exercise.checks.is_empty() {
        parts.push(format!("rerun: {}", exercise.rerun));
    }
    parts.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compile::Target;
    use crate::grade::Group;

    /// Runs of spaces as one: the columns' widths do not matter here.
    fn squeeze(lines: &[String]) -> String {
        lines
            .iter()
            .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
            .collect::<Vec<_>>()
            .join("\n")
    }

    fn record(group: &str, check: &str, status: CheckStatus, message: Option<&str>) -> Record {
        Record {
            group: group.into(),
            check: check.into(),
            status,
            message: message.map(str::to_string),
            location: None,
            mismatch: None,
        }
    }

    fn group(name: &str, checks: usize, passed: usize, skipped: usize) -> Group {
        Group {
            name: name.into(),
            checks,
            passed,
            skipped,
        }
    }

    /// From JSON, so that fields added later (with their defaults) need no
    /// change here.
    fn exercise(
        status: Status,
        score: f64,
        groups: Vec<Group>,
        checks: Vec<Record>,
    ) -> ExerciseReport {
        serde_json::from_value(serde_json::json!({
            "id": "05",
            "name": "decoder-layer",
            "title": "A decoder layer",
            "status": status,
            "summary": "some checks did not pass",
            "score": score,
            "points": 10.0,
            "groups": groups,
            "checks": checks,
            "rerun": "cargo run -p grader -- 05 --seed 1",
            "duration_ms": 0,
        }))
        .unwrap()
    }

    #[test]
    fn each_group_shows_its_points_and_first_failure_with_a_property_message() {
        let e = exercise(
            Status::Failed,
            5.0,
            vec![
                group("layer", 2, 1, 0),
                group("properties", 2, 1, 0),
                group("stack", 1, 1, 0),
                group("bert", 1, 0, 1),
                group("norm", 1, 1, 0),
            ],
            vec![
                record("layer", "layer-000", CheckStatus::Passed, None),
                record("layer", "layer-001", CheckStatus::Failed, Some("`out`: 3 of 24 values differ")),
                record("properties", "batch-independence", CheckStatus::Passed, None),
                record(
                    "properties",
                    "causality",
                    CheckStatus::Failed,
                    Some("changing token 3 of 4 changed an output at an earlier position: the layer looks at the future"),
                ),
                record("stack", "stack-000", CheckStatus::Passed, None),
                record("bert", "minilm", CheckStatus::Skipped, Some("skipped: no model")),
                record("norm", "norm-000", CheckStatus::Passed, None),
            ],
        );
        let lines = group_lines(&e);
        let text = squeeze(&lines);
        assert!(lines[0].contains(GROUPS_RULE), "{text}");
        // Four counted groups of 10 points: 2.5 each; two passed.
        assert!(
            text.contains("layer 0/2.5 ✗ 1 of 2 checks did not pass; first: layer-001 — `out`: 3 of 24 values differ"),
            "{text}"
        );
        assert!(text.contains("the layer looks at the future"), "{text}");
        assert!(text.contains("stack 2.5/2.5 ✓"), "{text}");
        assert!(text.contains("bert - skipped, not counted"), "{text}");
        assert_eq!(lines.len(), 6, "{text}");
        // Passing, blocked or not started: no groups.
        for status in [Status::Passed, Status::Blocked, Status::NotStarted] {
            assert!(group_lines(&exercise(status, 0.0, e.groups.clone(), vec![])).is_empty());
        }
    }

    #[test]
    fn a_run_cut_short_shows_the_group_it_never_reached() {
        let checks = vec![record("basics", "first", CheckStatus::Passed, None)];
        let e = exercise(
            Status::TimedOut,
            5.0,
            vec![group("basics", 1, 1, 0)],
            checks,
        );
        let text = squeeze(&group_lines(&e));
        assert!(text.contains("basics 5/5 ✓"), "{text}");
        assert!(text.contains("(not reached) 0/5 ✗"), "{text}");
        // Nothing passed and no check announced beyond those reported.
        let checks = vec![record(
            "basics",
            "first",
            CheckStatus::Failed,
            Some("wrong"),
        )];
        let e = exercise(Status::Crashed, 0.0, vec![group("basics", 1, 0, 0)], checks);
        assert!(squeeze(&group_lines(&e)).contains("(not reached) 0/5 ✗"));
        // A planned check never reported: its group holds it, no extra group.
        let checks = vec![record("basics", "first", CheckStatus::Passed, None)];
        let groups = vec![group("basics", 1, 1, 0), group("more", 1, 0, 0)];
        let e = exercise(Status::Crashed, 5.0, groups, checks);
        let text = squeeze(&group_lines(&e));
        assert!(!text.contains("not reached"), "{text}");
        assert!(
            text.contains("more 0/5 ✗ not run: the run stopped before its check"),
            "{text}"
        );
    }

    #[test]
    fn verbose_lists_every_failing_check() {
        let checks = vec![
            record("a", "a-1", CheckStatus::Failed, Some("first problem")),
            record("a", "a-2", CheckStatus::Passed, None),
            record("b", "b-1", CheckStatus::Panicked, Some("boom\nmore")),
        ];
        let e = exercise(
            Status::Failed,
            0.0,
            vec![group("a", 2, 1, 0), group("b", 1, 0, 0)],
            checks,
        );
        let plain = exercise_detail(&e);
        assert!(!plain.contains("b-1"), "{plain}");
        let verbose = exercise_detail_with(
            &e,
            Detail {
                groups: true,
                verbose: true,
            },
        );
        assert!(
            verbose.contains("every check that did not pass (2):"),
            "{verbose}"
        );
        assert!(
            verbose.contains("  a-1 (a, failed): first problem"),
            "{verbose}"
        );
        assert!(verbose.contains("  b-1 (b, panicked): boom"), "{verbose}");
    }

    #[test]
    fn no_relative_error_where_the_expected_value_is_0() {
        let mut m = Mismatch {
            tensor: "out".into(),
            expected_shape: vec![1],
            got_shape: vec![1],
            mismatched: 1,
            total: 1,
            max_abs_error: 1.0,
            max_rel_error: 0.0,
            worst_index: vec![0],
            expected_at_worst: 0.0,
            got_at_worst: 1.0,
            got_nan: 0,
            got_inf: 0,
            atol: 1e-5,
            rtol: 1e-4,
            diagnosis: None,
            rows: None,
        };
        assert_eq!(relative_error(&m), "n/a (expected 0)");
        m.max_rel_error = 0.5;
        assert!(relative_error(&m).contains("where the expected value is not 0"));
        m.expected_at_worst = 2.0;
        assert_eq!(relative_error(&m), "5.000e-1");
    }

    #[test]
    fn a_bonus_alone_totals_the_bonus() {
        let mut bonus = exercise(Status::Passed, 10.0, vec![], vec![]);
        bonus.bonus = true;
        let mut report = RunReport {
            schema_version: crate::grade::SCHEMA_VERSION,
            seed: 1,
            target: Target::Exercises,
            fixtures: "fixtures".into(),
            score: 0.0,
            max_score: 0.0,
            bonus_score: 10.0,
            bonus_max: 10.0,
            exercises: vec![bonus],
            isolation: None,
        };
        assert_eq!(total(&report), "bonus 10.00 / 10 points");
        report.max_score = 100.0;
        assert_eq!(total(&report), "0.00 / 100 points, bonus 10.00 / 10");
    }

    #[test]
    fn one_scale_for_both_sides_the_expected_one() {
        let rows = Rows {
            slice: vec![],
            first_row: 0,
            first_col: 0,
            expected: vec![vec![Some(0.25), Some(0.75)]],
            got: vec![vec![Some(30.0), None]],
            worst: (0, 0),
        };
        assert_eq!(weight_scale(&rows), 0.75);
        let zeros = Rows {
            expected: vec![vec![Some(0.0), Some(0.0)]],
            ..rows
        };
        assert_eq!(weight_scale(&zeros), 30.0);
    }
}
