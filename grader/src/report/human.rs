//! The report a student reads: a table, then for each exercise that did
//! not pass its groups (points and first failing check), its first problem
//! (every one with `--verbose`) and the command that reruns it.

use std::fmt::Write;

use anstyle::{AnsiColor, Style};

use super::{exercise_detail_with, Detail};
use crate::compile::Target;
use crate::grade::{ExerciseReport, RunReport, Status};
use grader_kit::protocol::{CheckStatus, Rows};

fn style(status: Status) -> Style {
    let color = match status {
        Status::Passed => AnsiColor::Green,
        Status::NotStarted | Status::Blocked => AnsiColor::Yellow,
        _ => AnsiColor::Red,
    };
    Style::new().fg_color(Some(color.into())).bold()
}

fn mark(status: Status) -> &'static str {
    match status {
        Status::Passed => "✓",
        Status::NotStarted => "·",
        Status::Blocked => "⏸",
        _ => "✗",
    }
}

/// The expected and the student's attention rows side by side, on one
/// scale: blank is 0 and █ the largest expected weight shown (see
/// [`weight_scale`](super::weight_scale)), so the expected side always
/// shows; yours marks what leaves that range (`+` above it, `-` below 0).
/// `?` is NaN or infinite, the worst cell is red (`·` when it is blank).
pub fn heat_map(check: &str, rows: &Rows) -> String {
    const SHADES: [char; 5] = [' ', '░', '▒', '▓', '█'];
    let top = super::weight_scale(rows);
    let red = Style::new().fg_color(Some(AnsiColor::Red.into())).bold();
    let cell = |value: Option<f64>, worst: bool| {
        let shade = match value {
            // A little room: a weight equal to the top up to f32 rounding is █.
            Some(v) if v > top * (1.0 + 1e-3) => '+',
            Some(v) if v < -top * 1e-3 => '-',
            Some(v) => SHADES[((v / top).clamp(0.0, 1.0) * 4.0).round() as usize],
            None => '?',
        };
        if worst {
            format!("{red}{}{red:#}", if shade == ' ' { '·' } else { shade })
        } else {
            shade.to_string()
        }
    };
    let width = rows.expected.first().map_or(0, Vec::len);
    let slice = if rows.slice.is_empty() {
        String::new()
    } else {
        format!(" of slice {:?}", rows.slice)
    };
    let mut out = format!(
        "  heat map of {check}: rows {}–{}, columns {}–{}{slice}\n  one scale for both sides: blank 0, ░▒▓ between, █ {top:.3} (the largest expected weight);\n  + above that, - below 0, ? NaN or infinite; the worst cell in red (· when it is blank)\n  {:width$}   yours\n",
        rows.first_row,
        rows.first_row + rows.expected.len().saturating_sub(1),
        rows.first_col,
        rows.first_col + width.saturating_sub(1),
        "expected",
        width = width.max(8) + 2
    );
    for (r, (expected, got)) in rows.expected.iter().zip(&rows.got).enumerate() {
        let line = |values: &[Option<f64>]| -> String {
            values
                .iter()
                .enumerate()
                .map(|(c, v)| cell(*v, (r, c) == rows.worst))
                .collect()
        };
        let pad = " ".repeat(width.max(8).saturating_sub(width));
        let _ = writeln!(out, "  │{}│{pad}   │{}│", line(expected), line(got));
    }
    out
}

pub fn render(report: &RunReport, color: bool) -> String {
    render_with(report, color, false)
}

/// The report; `verbose` lists every check that did not pass, not only the
/// first.
pub fn render_with(report: &RunReport, color: bool, verbose: bool) -> String {
    let mut out = String::new();
    let target = match report.target {
        Target::Exercises => "your exercises",
        Target::Solutions => "the reference solutions",
    };
    let _ = writeln!(
        out,
        "Grading {target} against {} with seed {} (rerun with --seed {}).\n",
        report.fixtures, report.seed, report.seed
    );
    out.push_str(&table(&report.exercises, color));
    let _ = writeln!(out, "\n  total {}", super::total(report));
    if let Some(isolation) = &report.isolation {
        let _ = writeln!(out, "\n{}", super::isolation_lines(isolation));
    }
    // A skipped check neither earns nor loses points, but say so: it names
    // what to fetch to run it.
    for exercise in &report.exercises {
        for record in exercise
            .checks
            .iter()
            .filter(|r| r.status == CheckStatus::Skipped)
        {
            let _ = writeln!(
                out,
                "\n{} {}: `{}` {}",
                exercise.id,
                exercise.name,
                record.check,
                record.message.as_deref().unwrap_or("skipped")
            );
        }
    }
    // A case that passes on its own (`--case`) says what was not graded.
    for exercise in report
        .exercises
        .iter()
        .filter(|e| e.status == Status::Passed && e.summary.contains(crate::grade::CASE_NOTE))
    {
        let _ = writeln!(
            out,
            "\n{} {}: {}",
            exercise.id, exercise.name, exercise.summary
        );
    }
    for exercise in report
        .exercises
        .iter()
        .filter(|e| e.status != Status::Passed)
    {
        out.push('\n');
        out.push_str(&section(exercise, color, verbose));
    }
    // What the student's own code printed, under its exercise, marked as
    // theirs (it never decides anything).
    for exercise in report
        .exercises
        .iter()
        .filter(|e| !e.student_output.is_empty())
    {
        out.push('\n');
        out.push_str(&student_output(exercise));
    }
    out
}

/// The student's prints of one exercise (`println!`, `eprintln!`, `dbg!`
/// in their code), each line behind a bar, with how they were capped.
pub fn student_output(exercise: &ExerciseReport) -> String {
    let mut out = format!(
        "{} {}: your code printed (its stdout and stderr; `--case ID` shows more of one case):\n",
        exercise.id, exercise.name
    );
    for line in exercise.student_output.lines() {
        let _ = writeln!(out, "  │ {line}");
    }
    out
}

/// The table of exercises: status and score, one line each.
pub fn table(exercises: &[ExerciseReport], color: bool) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "  {:<3} {:<18} {:<18} {:>13}",
        "", "exercise", "status", "score"
    );
    for exercise in exercises {
        let status = format!("{} {}", mark(exercise.status), exercise.status.label());
        let _ = writeln!(
            out,
            "  {:<3} {:<18} {} {:>13}",
            exercise.id,
            exercise.name,
            paint(color, style(exercise.status), &format!("{status:<18}")),
            format!("{:.2} / {}", exercise.score, exercise.points),
        );
        if exercise.bonus {
            out.pop();
            out.push_str("  bonus\n");
        }
    }
    out
}

fn paint(color: bool, style: Style, text: &str) -> String {
    if color {
        format!("{style}{text}{style:#}")
    } else {
        text.to_string()
    }
}

/// What one exercise that did not pass gets: a heading, the summary, its
/// groups, the first failing check (every one, `verbose`), the rerun
/// command, and on a terminal a heat map of failed weights.
pub fn section(exercise: &ExerciseReport, color: bool, verbose: bool) -> String {
    let mut out = String::new();
    let heading = format!(
        "{} {}: {}",
        exercise.id,
        exercise.name,
        exercise.status.label()
    );
    let _ = writeln!(out, "{}", paint(color, style(exercise.status), &heading));
    let detail = Detail {
        groups: true,
        verbose,
    };
    for line in exercise_detail_with(exercise, detail).lines() {
        let _ = writeln!(out, "  {line}");
    }
    // On a terminal, a picture of the first failed weights (a file or a
    // pipe gets the plain text above only).
    if color {
        let pictured = super::problems(exercise)
            .find_map(|r| r.mismatch.as_ref()?.rows.as_ref().map(|rows| (r, rows)));
        if let Some((record, rows)) = pictured {
            let first = super::problems(exercise).next().map(|r| r.check.as_str());
            if first.is_some_and(|first| first != record.check) {
                let _ = writeln!(
                    out,
                    "  (the first failure above, `{}`, has no weights to draw; this is `{}`, the first that has)",
                    first.unwrap_or_default(),
                    record.check
                );
            }
            let _ = write!(out, "{}", heat_map(&record.check, rows));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_heat_map_shades_both_sides_and_marks_the_worst_cell() {
        let rows = Rows {
            slice: vec![0],
            first_row: 0,
            first_col: 0,
            expected: vec![vec![Some(0.0), Some(1.0)], vec![Some(0.5), Some(0.5)]],
            got: vec![vec![Some(1.0), Some(0.0)], vec![Some(0.5), None]],
            worst: (0, 1),
        };
        let map = heat_map("weights-1", &rows);
        let lines: Vec<&str> = map.lines().collect();
        assert_eq!(lines.len(), 6, "{map}");
        assert!(lines[0].contains("weights-1") && lines[0].contains("slice [0]"));
        assert!(lines[1].contains("one scale for both sides"), "{map}");
        assert!(lines[2].contains("· when it is blank") && lines[2].contains("? NaN"));
        assert!(
            lines[4].starts_with("  │ \u{1b}") && lines[4].contains("│█\u{1b}"),
            "{map}"
        );
        assert!(
            lines[5].contains("│▒▒│") && lines[5].contains("│▒?│"),
            "{map}"
        );
    }

    #[test]
    fn the_expected_side_sets_the_scale_and_yours_shows_what_leaves_it() {
        let rows = Rows {
            slice: vec![],
            first_row: 0,
            first_col: 0,
            expected: vec![vec![Some(0.2), Some(0.8)]],
            got: vec![vec![Some(30.0), Some(-0.5)]],
            worst: (0, 0),
        };
        let map = heat_map("weights-2", &rows);
        // Without the red of the worst cell: expected ░ (a quarter of the
        // top) and █; yours + (above the top) and - (below 0).
        let plain = map
            .replace("\u{1b}[1m\u{1b}[31m", "")
            .replace("\u{1b}[0m", "");
        let last = plain.lines().last().unwrap();
        assert!(last.starts_with("  │░█│"), "{plain}");
        assert!(last.ends_with("│+-│"), "{plain}");
        assert!(map.contains("█ 0.800"), "{map}");
    }
}
