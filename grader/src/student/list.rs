//! `list`: grades every exercise and shows each one's status and score,
//! with a progress bar on a terminal, then names the exercise to do next.

use std::collections::BTreeMap;
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

/// The table `list` prints, then the exercise to do next.
pub fn render(kit: &Kit, report: &RunReport, color: bool) -> String {
    let mut out = table(kit, report, color);
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

/// Each exercise's status (as [`shown_statuses`] shows it) and score, and
/// the total.
pub fn table(kit: &Kit, report: &RunReport, color: bool) -> String {
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
    let shown = shown_statuses(kit, report);
    let mut out = String::new();
    let _ = writeln!(
        out,
        "  {:<3} {:<18} {:<18} {:>13}  title",
        "", "exercise", "status", "score"
    );
    for exercise in &report.exercises {
        let status = shown[&exercise.id];
        let mark = match status {
            Status::Passed => "✓",
            Status::NotStarted => "·",
            Status::Blocked => "⏸",
            _ => "✗",
        };
        let label = format!("{mark} {}", status.label());
        let _ = writeln!(
            out,
            "  {:<3} {:<18} {} {:>13}  {}",
            exercise.id,
            exercise.name,
            paint(status, &format!("{label:<18}")),
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
    out
}

/// The status `list` shows for each exercise: the report's, except that an
/// untouched exercise ("not started") is shown blocked when something it
/// builds on cannot be built (it does not compile, or is blocked without
/// running). Exercises whose crate uses what they build on (02–08 use 01's
/// crate) cannot be built then, and the grader blocks them; 09's crate
/// uses none of 01's or 02's code (only its grading builds on them), so it
/// still builds and its stubs read "not started". Shown blocked, it reads
/// like the others. No score changes: a not-started exercise scores 0.
pub fn shown_statuses(kit: &Kit, report: &RunReport) -> BTreeMap<String, Status> {
    let mut shown: BTreeMap<String, Status> = BTreeMap::new();
    // Exercises that could not be built, or are shown as such.
    let mut unbuilt: Vec<&str> = vec![];
    for exercise in &report.exercises {
        let cannot_build = |id: &String| unbuilt.contains(&id.as_str());
        let status = match kit.get(&exercise.id) {
            Some(e)
                if exercise.status == Status::NotStarted
                    && e.builds_on.iter().any(cannot_build) =>
            {
                Status::Blocked
            }
            _ => exercise.status,
        };
        let without_running = exercise.status == Status::Blocked && exercise.checks.is_empty();
        if exercise.status == Status::CompileError || without_running || status != exercise.status {
            unbuilt.push(&exercise.id);
        }
        shown.insert(exercise.id.clone(), status);
    }
    shown
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::Info;

    #[test]
    fn an_untouched_exercise_on_one_that_cannot_build_is_shown_blocked() {
        let info: Info = serde_yaml::from_str(
            r#"
format: 1
exercises:
  - {id: "01", name: a, dir: 01-a, title: A, points: 10, timeout_secs: 5}
  - {id: "02", name: b, dir: 02-b, title: B, points: 10, builds_on: ["01"], timeout_secs: 5}
  - {id: "03", name: c, dir: 03-c, title: C, points: 10, builds_on: ["01", "02"], timeout_secs: 5, bonus: true}
  - {id: "04", name: d, dir: 04-d, title: D, points: 10, timeout_secs: 5}
  - {id: "05", name: e, dir: 05-e, title: E, points: 10, builds_on: ["04"], timeout_secs: 5}
"#,
        )
        .unwrap();
        let kit = Kit {
            root: std::path::PathBuf::from("/k"),
            info,
        };
        let exercise = |id: &str, status: &str, checks: usize| {
            let check = serde_json::json!({"group": "g", "check": "c", "status": "not_started"});
            serde_json::json!({
                "id": id, "name": id, "title": id, "status": status, "summary": "",
                "score": 0.0, "points": 10.0, "groups": [],
                "checks": vec![check; checks], "rerun": "", "duration_ms": 0,
            })
        };
        // 01 does not compile: 02 (which uses its crate) is blocked without
        // running; 03 (which does not) runs and reads "not started". 04
        // fails: 05's untouched stubs stay "not started", as the grader says.
        let report: RunReport = serde_json::from_value(serde_json::json!({
            "schema_version": 1, "seed": 1, "target": "exercises", "fixtures": "fixtures",
            "score": 0.0, "max_score": 40.0,
            "exercises": [
                exercise("01", "compile_error", 0),
                exercise("02", "blocked", 0),
                exercise("03", "not_started", 2),
                exercise("04", "failed", 1),
                exercise("05", "not_started", 1),
            ],
        }))
        .unwrap();
        let shown = shown_statuses(&kit, &report);
        let statuses: Vec<Status> = shown.values().copied().collect();
        assert_eq!(
            statuses,
            [
                Status::CompileError,
                Status::Blocked,
                Status::Blocked,
                Status::Failed,
                Status::NotStarted
            ]
        );
        let table = table(&kit, &report, false);
        assert!(
            table.contains("03  03                 ⏸ blocked"),
            "{table}"
        );
    }
}
