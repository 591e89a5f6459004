//! `grade --submissions DIR`: one folder per student, graded by a bounded
//! pool of jobs (builds take turns on the shared cache, runs overlap), into
//! `OUT/<student>/` (the reports of `grade --submission`) and one
//! `OUT/gradebook.csv`.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Instant;

use anyhow::{bail, Context, Result};

use super::submission::{write_reports, GradeSubmissionArgs, Session};
use crate::catalog::Kit;
use crate::grade::RunReport;

/// One line of the gradebook.
#[derive(Debug)]
pub struct Row {
    pub student: String,
    pub report: Option<RunReport>,
    /// Why the submission could not be graded at all.
    pub error: Option<String>,
    pub seconds: f64,
}

/// The students' folders in `dir`, by name; hidden ones are skipped.
pub fn students(dir: &Path) -> Result<Vec<(String, PathBuf)>> {
    let mut found = vec![];
    for entry in std::fs::read_dir(dir).with_context(|| format!("cannot read {}", dir.display()))? {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let kind = entry.file_type()?;
        // A student's folder that is a link is listed, and refused whole
        // when graded (see `submission::refusal`), never followed.
        if name.starts_with('.') || !(kind.is_dir() || kind.is_symlink()) {
            continue;
        }
        if !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '@'))
        {
            bail!("{name:?}: a student's folder name may hold letters, digits, '-', '_', '.' and '@' only");
        }
        found.push((name, entry.path()));
    }
    found.sort();
    Ok(found)
}

/// Grades every student with at most `jobs` at once, writing each one's
/// reports to `out/<student>/` as it finishes.
pub fn grade_all(
    session: &Session,
    students: &[(String, PathBuf)],
    out: &Path,
    jobs: usize,
) -> Vec<Row> {
    let next = AtomicUsize::new(0);
    let rows: Mutex<Vec<Row>> = Mutex::new(vec![]);
    let total = students.len();
    std::thread::scope(|scope| {
        for _ in 0..jobs.clamp(1, total.max(1)) {
            scope.spawn(|| loop {
                let index = next.fetch_add(1, Ordering::SeqCst);
                let Some((student, folder)) = students.get(index) else {
                    return;
                };
                let start = Instant::now();
                let result = session.grade(student, folder, false).and_then(|graded| {
                    write_reports(&out.join(student), &graded)?;
                    Ok(graded.report)
                });
                let seconds = start.elapsed().as_secs_f64();
                let row = match result {
                    Ok(report) => {
                        eprintln!(
                            "[{}/{total}] {student}: {:.2} / {} in {seconds:.1} s",
                            index + 1,
                            report.score,
                            report.max_score
                        );
                        Row {
                            student: student.clone(),
                            report: Some(report),
                            error: None,
                            seconds,
                        }
                    }
                    Err(error) => {
                        eprintln!("[{}/{total}] {student}: not graded: {error:#}", index + 1);
                        let _ = std::fs::create_dir_all(out.join(student));
                        let _ = std::fs::write(
                            out.join(student).join("error.txt"),
                            format!("{error:#}\n"),
                        );
                        Row {
                            student: student.clone(),
                            report: None,
                            error: Some(format!("{error:#}")),
                            seconds,
                        }
                    }
                };
                rows.lock().unwrap_or_else(|e| e.into_inner()).push(row);
            });
        }
    });
    let mut rows = rows.into_inner().unwrap_or_else(|e| e.into_inner());
    rows.sort_by(|a, b| a.student.cmp(&b.student));
    rows
}

fn csv_field(text: &str) -> String {
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_string()
    }
}

/// The gradebook: a line per student with the total, each exercise's score
/// and status, the seconds it took, and why it could not be graded.
pub fn gradebook(kit: &Kit, ids: &[String], rows: &[Row]) -> String {
    let exercises: Vec<_> = kit
        .exercises()
        .iter()
        .filter(|e| ids.contains(&e.id))
        .collect();
    let bonus = exercises.iter().any(|e| e.bonus);
    let mut header = vec!["student".to_string(), "score".into(), "max_score".into()];
    if bonus {
        // Bonus points come on top of `score`, in a column of their own.
        header.push("bonus".into());
    }
    header.extend(exercises.iter().map(|e| format!("{}-{}", e.id, e.name)));
    header.extend(
        exercises
            .iter()
            .map(|e| format!("{}-{} status", e.id, e.name)),
    );
    header.extend(["seconds".to_string(), "error".into()]);
    let mut out = header
        .iter()
        .map(|h| csv_field(h))
        .collect::<Vec<_>>()
        .join(",")
        + "\n";
    let max: f64 = exercises
        .iter()
        .filter(|e| !e.bonus)
        .map(|e| e.points)
        .sum();
    for row in rows {
        let mut fields = vec![row.student.clone()];
        match &row.report {
            Some(report) => {
                fields.push(format!("{:.2}", report.score));
                fields.push(format!("{}", report.max_score));
                if bonus {
                    fields.push(format!("{:.2}", report.bonus_score));
                }
                let find = |id: &str| report.exercises.iter().find(|e| e.id == id);
                fields.extend(exercises.iter().map(|e| {
                    find(&e.id)
                        .map(|r| format!("{:.2}", r.score))
                        .unwrap_or_default()
                }));
                fields.extend(exercises.iter().map(|e| {
                    find(&e.id)
                        .map(|r| r.status.label().to_string())
                        .unwrap_or_default()
                }));
            }
            None => {
                fields.push("0.00".to_string());
                fields.push(format!("{max}"));
                if bonus {
                    fields.push("0.00".to_string());
                }
                fields.extend(exercises.iter().map(|_| String::new()));
                fields.extend(exercises.iter().map(|_| "not graded".to_string()));
            }
        }
        fields.push(format!("{:.1}", row.seconds));
        fields.push(row.error.clone().unwrap_or_default());
        out.push_str(
            &fields
                .iter()
                .map(|f| csv_field(f))
                .collect::<Vec<_>>()
                .join(","),
        );
        out.push('\n');
    }
    out
}

pub fn run(
    kit: Kit,
    work: &Path,
    cargo_target: &Path,
    folder: &Path,
    args: &GradeSubmissionArgs,
) -> Result<i32> {
    let students = students(folder)?;
    if students.is_empty() {
        bail!("{} holds no student folders", folder.display());
    }
    let session = Session::new(kit, work, cargo_target, args)?;
    eprintln!(
        "Grading {} submissions, {} at a time, seed {}{}...",
        students.len(),
        args.jobs,
        session.options.seed,
        session.wait_note()
    );
    let start = Instant::now();
    let rows = grade_all(&session, &students, &args.out, args.jobs);
    let path = args.out.join("gradebook.csv");
    std::fs::create_dir_all(&args.out)?;
    std::fs::write(&path, gradebook(&session.instructor, &session.ids, &rows))
        .with_context(|| format!("cannot write {}", path.display()))?;
    let failed = rows.iter().filter(|r| r.error.is_some()).count();
    println!(
        "Graded {} submissions in {:.1} s ({failed} could not be graded). Gradebook: {}",
        rows.len(),
        start.elapsed().as_secs_f64(),
        path.display()
    );
    Ok(if failed > 0 { 1 } else { 0 })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_fields_are_quoted_when_needed() {
        assert_eq!(csv_field("plain"), "plain");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"hi\"\n"), "\"say \"\"hi\"\"\n\"");
    }
}
