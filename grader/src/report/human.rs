//! The report a student reads: a table, then the first problem of each
//! exercise that did not pass, with the command that reruns it.

use std::fmt::Write;

use anstyle::{AnsiColor, Style};

use super::exercise_detail;
use crate::compile::Target;
use crate::grade::{RunReport, Status};
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

/// The expected and the student's attention rows side by side, shaded by
/// weight from blank (0) to █ (the largest weight shown), the worst cell in
/// red.
pub fn heat_map(check: &str, rows: &Rows) -> String {
    const SHADES: [char; 5] = [' ', '░', '▒', '▓', '█'];
    let top = rows
        .expected
        .iter()
        .chain(&rows.got)
        .flatten()
        .flatten()
        .fold(0.0f64, |m, v| m.max(*v))
        .max(f64::MIN_POSITIVE);
    let red = Style::new().fg_color(Some(AnsiColor::Red.into())).bold();
    let cell = |value: Option<f64>, worst: bool| {
        let shade = match value {
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
        "  {check}: rows {}–{}, columns {}–{}{slice} (blank 0, █ {top:.3}, worst in red)\n  {:width$}   yours\n",
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
    let paint = |style: Style, text: &str| {
        if color {
            format!("{style}{text}{style:#}")
        } else {
            text.to_string()
        }
    };
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
    let _ = writeln!(
        out,
        "  {:<3} {:<18} {:<18} {:>13}",
        "", "exercise", "status", "score"
    );
    for exercise in &report.exercises {
        let status = format!("{} {}", mark(exercise.status), exercise.status.label());
        let _ = writeln!(
            out,
            "  {:<3} {:<18} {} {:>13}",
            exercise.id,
            exercise.name,
            paint(style(exercise.status), &format!("{status:<18}")),
            format!("{:.2} / {}", exercise.score, exercise.points),
        );
        if exercise.bonus {
            out.pop();
            out.push_str("  bonus\n");
        }
    }
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
    for exercise in report
        .exercises
        .iter()
        .filter(|e| e.status != Status::Passed)
    {
        let heading = format!(
            "{} {}: {}",
            exercise.id,
            exercise.name,
            exercise.status.label()
        );
        let _ = writeln!(out, "\n{}", paint(style(exercise.status), &heading));
        for line in exercise_detail(exercise).lines() {
            let _ = writeln!(out, "  {line}");
        }
        // On a terminal, a picture of the first failed weights (a file or a
        // pipe gets the plain text above only).
        if color {
            let pictured = super::problems(exercise)
                .find_map(|r| r.mismatch.as_ref()?.rows.as_ref().map(|rows| (r, rows)));
            if let Some((record, rows)) = pictured {
                let _ = write!(out, "{}", heat_map(&record.check, rows));
            }
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
        assert_eq!(lines.len(), 4, "{map}");
        assert!(lines[0].contains("weights-1") && lines[0].contains("slice [0]"));
        assert!(
            lines[2].starts_with("  │ \u{1b}") && lines[2].contains("│█\u{1b}"),
            "{map}"
        );
        assert!(
            lines[3].contains("│▒▒│") && lines[3].contains("│▒?│"),
            "{map}"
        );
    }
}
