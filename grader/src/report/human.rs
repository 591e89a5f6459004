//! The report a student reads: a table, then the first problem of each
//! exercise that did not pass, with the command that reruns it.

use std::fmt::Write;

use anstyle::{AnsiColor, Style};

use super::exercise_detail;
use crate::compile::Target;
use crate::grade::{RunReport, Status};
use grader_kit::protocol::CheckStatus;

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
            format!("{:.2} / {}", exercise.score, exercise.points)
        );
    }
    let _ = writeln!(
        out,
        "\n  total {:.2} / {} points",
        report.score, report.max_score
    );
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
    }
    out
}
