//! Gradescope's `results.json`: one test per exercise, with its score.
//! <https://gradescope-autograders.readthedocs.io/en/latest/specs/>

use serde_json::json;

use super::exercise_detail;
use crate::grade::{RunReport, Status};

pub fn render(report: &RunReport) -> String {
    let tests: Vec<serde_json::Value> = report
        .exercises
        .iter()
        .map(|exercise| {
            let groups: Vec<String> = exercise
                .groups
                .iter()
                .map(|g| format!("  {}: {}/{} checks passed", g.name, g.passed, g.checks))
                .collect();
            let mut output = format!("{}\n", exercise.status.label());
            if exercise.status == Status::Passed {
                output.push_str(&exercise.summary);
            } else {
                output.push_str(&exercise_detail(exercise));
            }
            if !groups.is_empty() {
                output.push_str("\ngroups:\n");
                output.push_str(&groups.join("\n"));
            }
            json!({
                "name": format!("{} {}: {}", exercise.id, exercise.name, exercise.title),
                "score": exercise.score,
                "max_score": exercise.points,
                "status": if exercise.status == Status::Passed { "passed" } else { "failed" },
                "output": output,
            })
        })
        .collect();
    let points = if report.max_score == 0.0 && report.bonus_max > 0.0 {
        // Only bonus exercises were graded.
        format!(
            "{} of {} bonus points",
            report.bonus_score, report.bonus_max
        )
    } else if report.bonus_max > 0.0 {
        format!(
            "{} of {} points, bonus {} of {}",
            report.score, report.max_score, report.bonus_score, report.bonus_max
        )
    } else {
        format!("{} of {} points", report.score, report.max_score)
    };
    let mut output = format!(
        "Graded with seed {} against {} ({points}).",
        report.seed, report.fixtures
    );
    if let Some(isolation) = &report.isolation {
        output.push_str("\n\n");
        output.push_str(&super::isolation_lines(isolation));
    }
    let results = json!({
        // Bonus points are extra credit on top of the assignment's total.
        "score": report.score + report.bonus_score,
        "output": output,
        "stdout_visibility": "visible",
        "tests": tests,
    });
    serde_json::to_string_pretty(&results).expect("results serialize") + "\n"
}
