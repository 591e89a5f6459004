//! `list`: grades every exercise and shows each one's status and score,
//! with a progress bar on a terminal, then names the exercise to do next.

use std::fmt::Write as _;
use std::io::IsTerminal;
use std::time::Duration;

use anstyle::{AnsiColor, Style};
use anyhow::Result;
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};

use crate::catalog::Kit;
use crate::compile::{self, Target};
use crate::grade::{self, RunReport, Status};
use crate::settings::{check_names, exercise_file, RunArgs};

#[derive(Debug, Clone, Args)]
pub struct ListArgs {
    #[command(flatten)]
    pub run: RunArgs,
}

pub fn run(args: &ListArgs) -> Result<i32> {
    let kit = args.run.locate()?;
    check_names(&kit)?;
    let all = kit.exercises().to_vec();
    args.run.verify(&kit, &all)?;
    let options = args.run.options(&kit, args.run.seed_or_fresh());
    let bar = if std::io::stderr().is_terminal() {
        let bar = ProgressBar::new(all.len() as u64);
        bar.set_style(
            ProgressStyle::with_template("{spinner} [{bar:30}] {pos}/{len} {msg}")
                .expect("a valid template")
                .progress_chars("=> "),
        );
        bar.enable_steady_tick(Duration::from_millis(120));
        bar.set_message("building (the first build compiles candle: ~2 min)");
        Some(bar)
    } else {
        eprintln!("Building the exercises' graders, then grading all of them...");
        None
    };
    let built = compile::build_workers(&kit, &all, Target::Exercises, false)?;
    let report = grade::grade_built(&kit, &all, &built, &options, &mut |graded| {
        if let Some(bar) = &bar {
            bar.inc(1);
            bar.set_message(format!("graded {} {}", graded.id, graded.name));
        }
    });
    if let Some(bar) = &bar {
        bar.finish_and_clear();
    }
    print!("{}", render(&kit, &report, std::io::stdout().is_terminal()));
    Ok(0)
}

/// The table `list` prints.
pub fn render(kit: &Kit, report: &RunReport, color: bool) -> String {
    let paint = |status: Status, text: &str| {
        if !color {
            return text.to_string();
        }
        let color = match status {
            Status::Passed => AnsiColor::Green,
            Status::NotStarted | Status::Blocked => AnsiColor::Yellow,
            _ => AnsiColor::Red,
        };
        let style = Style::new().fg_color(Some(color.into())).bold();
        format!("{style}{text}{style:#}")
    };
    let mut out = String::new();
    let _ = writeln!(
        out,
        "  {:<3} {:<18} {:<18} {:>13}  title",
        "", "exercise", "status", "score"
    );
    for exercise in &report.exercises {
        let mark = match exercise.status {
            Status::Passed => "✓",
            Status::NotStarted => "·",
            Status::Blocked => "⏸",
            _ => "✗",
        };
        let status = format!("{mark} {}", exercise.status.label());
        let _ = writeln!(
            out,
            "  {:<3} {:<18} {} {:>13}  {}",
            exercise.id,
            exercise.name,
            paint(exercise.status, &format!("{status:<18}")),
            format!("{:.2} / {}", exercise.score, exercise.points),
            if exercise.bonus {
                format!("{} (bonus)", exercise.title)
            } else {
                exercise.title.clone()
            }
        );
    }
    let passed = report
        .exercises
        .iter()
        .filter(|e| e.status == Status::Passed)
        .count();
    let _ = writeln!(
        out,
        "\n  {passed} of {} exercises passed, {} (seed {}).",
        report.exercises.len(),
        crate::report::total(report),
        report.seed
    );
    let next = report
        .exercises
        .iter()
        .find(|e| e.status != Status::Passed)
        .and_then(|e| kit.get(&e.id));
    match next {
        Some(exercise) => {
            let _ = writeln!(
                out,
                "  Next: {} {}, in {}.\n  `cargo run -p grader -- {}` shows why; `... -- hint {}` gives a hint; `... -- watch` re-grades on every save.",
                exercise.id,
                exercise.name,
                exercise_file(exercise),
                exercise.id,
                exercise.id
            );
        }
        None => {
            let _ = writeln!(out, "  Everything passes. Well done!");
        }
    }
    out
}
