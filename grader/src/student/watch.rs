//! `watch`: grades every exercise at the start, then re-grades the
//! exercise whose file was saved and, when it passes, what builds on it;
//! "Next" is the first exercise not passing.
//!
//! The testable core is [`exercise_for_path`] (which exercise a changed path
//! belongs to) and [`serve`] (the loop: debounce a burst of events into one
//! run, and run again when a save arrived during a run, so no save is ever
//! missed). The file watcher and the printing around them are thin.

use std::collections::{BTreeMap, BTreeSet};
use std::io::IsTerminal;
use std::path::{Component, Path, PathBuf};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use clap::Args;
use notify::{EventKind, RecursiveMode, Watcher};

use crate::catalog::{Exercise, Kit};
use crate::compile;
use crate::grade::{self, ExerciseReport, RunReport, Status};
use crate::report::human;
use crate::settings::{check_names, exercise_file, RunArgs};
use crate::student::list;

#[derive(Debug, Clone, Args)]
pub struct WatchArgs {
    /// The exercise to show in detail at the start ("01", "attention",
    /// ...); the first not passing when none is given. Every exercise is
    /// graded at the start.
    pub exercise: Option<String>,
    /// List every check that did not pass, not only the first.
    #[arg(long, short)]
    pub verbose: bool,
    /// Quiet time after a save before grading, in milliseconds: a burst of
    /// events (an editor's write, rename and chmod) becomes one run.
    #[arg(long, value_name = "MS", default_value_t = 100)]
    pub debounce: u64,
    #[command(flatten)]
    pub run: RunArgs,
}

/// The exercise a changed file belongs to: a `.rs` file under
/// `exercises/<dir>/src/` or the exercise's `Cargo.toml`. Editors' temporary
/// files, build output and hints do not count.
pub fn exercise_for_path<'a>(kit: &'a Kit, root: &Path, path: &Path) -> Option<&'a Exercise> {
    let relative = path.strip_prefix(root).ok()?;
    let parts: Vec<&str> = relative
        .components()
        .map(|c| match c {
            Component::Normal(name) => name.to_str(),
            _ => None,
        })
        .collect::<Option<Vec<_>>>()?;
    let (first, dir, rest) = match parts.as_slice() {
        [first, dir, rest @ ..] if !rest.is_empty() => (*first, *dir, rest),
        _ => return None,
    };
    if first != "exercises" {
        return None;
    }
    let exercise = kit.exercises().iter().find(|e| e.dir == dir)?;
    let file = rest.last()?;
    let counts = match rest {
        ["Cargo.toml"] => true,
        ["src", .., name] => name.ends_with(".rs") && !name.starts_with('.'),
        _ => false,
    };
    counts.then_some(exercise).filter(|_| !file.is_empty())
}

/// The exercises waiting for a run, in the kit's order.
#[derive(Debug, Default)]
pub struct Pending {
    ids: BTreeSet<String>,
}

impl Pending {
    pub fn add(&mut self, kit: &Kit, root: &Path, path: &Path) {
        if let Some(exercise) = exercise_for_path(kit, root, path) {
            self.ids.insert(exercise.id.clone());
        }
    }

    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// Everything pending, in list order; empties the set.
    pub fn take(&mut self, kit: &Kit) -> Vec<Exercise> {
        let ids = std::mem::take(&mut self.ids);
        kit.exercises()
            .iter()
            .filter(|e| ids.contains(&e.id))
            .cloned()
            .collect()
    }
}

/// The loop. Waits for a changed path, lets a burst settle for `debounce`,
/// grades the exercises touched, and repeats. Paths that arrive while
/// `grade` runs wait in the channel and trigger the next run, so a save is
/// never lost. `grade` gets the exercises and the instant of the first
/// event of the batch. Returns when the channel closes.
pub fn serve(
    kit: &Kit,
    root: &Path,
    events: &Receiver<PathBuf>,
    debounce: Duration,
    grade: &mut dyn FnMut(&[Exercise], Instant),
) {
    let mut pending = Pending::default();
    let mut open = true;
    while open {
        let Ok(first) = events.recv() else { return };
        let mut since = Instant::now();
        pending.add(kit, root, &first);
        // Let a burst settle, and run again for as long as saves arrive
        // during runs.
        loop {
            loop {
                match events.recv_timeout(debounce) {
                    Ok(path) => pending.add(kit, root, &path),
                    Err(RecvTimeoutError::Timeout) => break,
                    Err(RecvTimeoutError::Disconnected) => {
                        open = false;
                        break;
                    }
                }
            }
            if pending.is_empty() {
                break;
            }
            grade(&pending.take(kit), since);
            // What was saved during the run is in the channel now.
            since = Instant::now();
            while let Ok(path) = events.try_recv() {
                pending.add(kit, root, &path);
            }
            if pending.is_empty() || !open {
                if !pending.is_empty() {
                    grade(&pending.take(kit), since);
                }
                break;
            }
        }
    }
}

pub fn run(args: &WatchArgs) -> Result<i32> {
    let kit = args.run.locate()?;
    check_names(&kit)?;
    let root = std::fs::canonicalize(&kit.root)
        .with_context(|| format!("cannot open {}", kit.root.display()))?;
    let exercises_dir = root.join("exercises");
    let focus = match &args.exercise {
        Some(selector) => kit
            .select(std::slice::from_ref(selector))?
            .into_iter()
            .next(),
        None => None,
    };
    let (sender, receiver) = mpsc::channel::<PathBuf>();
    let mut watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
        if let Ok(event) = event {
            if matches!(
                event.kind,
                EventKind::Create(_) | EventKind::Modify(_) | EventKind::Remove(_)
            ) {
                for path in event.paths {
                    let _ = sender.send(path);
                }
            }
        }
    })
    .context("cannot watch files")?;
    watcher
        .watch(&exercises_dir, RecursiveMode::Recursive)
        .with_context(|| format!("cannot watch {}", exercises_dir.display()))?;

    let mut session = Session {
        kit: &kit,
        args,
        color: std::io::stdout().is_terminal(),
        known: BTreeMap::new(),
    };
    // Saves made while this first run grades wait in the channel.
    session.start(focus.as_ref());
    println!(
        "Watching {}: save an exercise's file to grade it. Ctrl-C stops.",
        exercises_dir.display()
    );
    serve(
        &kit,
        &root,
        &receiver,
        Duration::from_millis(args.debounce),
        &mut |exercises, since| session.saved(exercises, since),
    );
    Ok(0)
}

/// A watch session: what it grades with, and the last status of every
/// exercise graded so far (prerequisites included), for "Next".
struct Session<'a> {
    kit: &'a Kit,
    args: &'a WatchArgs,
    color: bool,
    known: BTreeMap<String, Status>,
}

impl Session<'_> {
    /// Grades `exercises` (and, silently, what they build on), remembering
    /// every status.
    fn grade(&mut self, exercises: &[Exercise]) -> Result<RunReport> {
        let kit = self.kit;
        self.args.run.verify(kit, exercises)?;
        let options = self.args.run.options(kit, self.args.run.seed_or_fresh());
        let all = kit.with_prerequisites(exercises);
        // Only these workers: an edit in 01 must not relink the workers of
        // every exercise built on it before 01's verdict arrives.
        let built = compile::build_workers(kit, &all, options.target, options.echo_build)?;
        let known = &mut self.known;
        Ok(grade::grade_built(
            kit,
            exercises,
            &built,
            &options,
            &mut |graded| {
                known.insert(graded.id.clone(), graded.status);
            },
        ))
    }

    /// The first run, before any save: every exercise, as `list` shows
    /// them, then the one named on the command line (or the first not
    /// passing) in detail.
    fn start(&mut self, focus: Option<&Exercise>) {
        let kit = self.kit;
        println!("──── grading every exercise, to see where you are ────");
        let all = kit.exercises().to_vec();
        let report = match self.grade(&all) {
            Ok(report) => report,
            Err(error) => {
                println!("error: {error:#}");
                return;
            }
        };
        print!("{}", list::table(kit, &report, self.color));
        let focus = focus
            .map(|e| e.id.clone())
            .or_else(|| self.next().map(|e| e.id.clone()));
        let shown = focus.and_then(|id| report.exercises.iter().find(|e| e.id == id));
        if let Some(exercise) = shown.filter(|e| e.status != Status::Passed) {
            println!();
            print!(
                "{}",
                human::section(exercise, self.color, self.args.verbose)
            );
        }
        self.tell_next(None);
    }

    /// A save: grade what was saved, then what builds on it.
    fn saved(&mut self, exercises: &[Exercise], since: Instant) {
        let kit = self.kit;
        let names: Vec<String> = exercises
            .iter()
            .map(|e| format!("{} {}", e.id, e.name))
            .collect();
        println!("\n──── grading {} ────", names.join(", "));
        let report = match self.grade(exercises) {
            Ok(report) => report,
            Err(error) => {
                println!("error: {error:#}");
                return;
            }
        };
        print!(
            "{}",
            human::render_with(&report, self.color, self.args.verbose)
        );
        println!(
            "verdict {:.1} s after the save",
            since.elapsed().as_secs_f64()
        );
        // What builds on a saved exercise that passes may pass or fail
        // differently now; re-grade it, unless it is untouched ("not
        // started" stays so until its own file changes).
        let passing: Vec<&str> = report
            .exercises
            .iter()
            .filter(|e| e.status == Status::Passed)
            .map(|e| e.id.as_str())
            .collect();
        let dependents: Vec<Exercise> = kit
            .exercises()
            .iter()
            .filter(|e| !exercises.iter().any(|s| s.id == e.id))
            .filter(|e| {
                kit.with_prerequisites(std::slice::from_ref(*e))
                    .iter()
                    .any(|p| p.id != e.id && passing.contains(&p.id.as_str()))
            })
            .filter(|e| self.known.get(&e.id) != Some(&Status::NotStarted))
            .cloned()
            .collect();
        if !dependents.is_empty() {
            let names: Vec<String> = dependents
                .iter()
                .map(|e| format!("{} {}", e.id, e.name))
                .collect();
            println!(
                "\n──── re-grading what builds on it: {} ────",
                names.join(", ")
            );
            match self.grade(&dependents) {
                Ok(again) => {
                    print!("{}", human::table(&again.exercises, self.color));
                    for exercise in again
                        .exercises
                        .iter()
                        .filter(|e| !matches!(e.status, Status::Passed | Status::NotStarted))
                    {
                        println!();
                        print!(
                            "{}",
                            human::section(exercise, self.color, self.args.verbose)
                        );
                    }
                }
                Err(error) => println!("error: {error:#}"),
            }
        }
        if !passing.is_empty() && passing.len() == report.exercises.len() {
            let last = report.exercises.last().expect("some exercise passed");
            self.tell_next(Some(last));
        }
        println!("watching...");
    }

    /// The first exercise, in the kit's order, not known to pass.
    fn next(&self) -> Option<&Exercise> {
        self.kit
            .exercises()
            .iter()
            .find(|e| self.known.get(&e.id) != Some(&Status::Passed))
    }

    /// "Next: ..." after `passed` passes (or at the start).
    fn tell_next(&self, passed: Option<&ExerciseReport>) {
        let opening = match passed {
            Some(e) => format!("\n{} {} passes. ", e.id, e.name),
            None => "\n".to_string(),
        };
        match self.next() {
            Some(next) => println!(
                "{opening}Next: {} {}, in {} (`cargo run -p grader -- hint {}` for a hint).",
                next.id,
                next.name,
                exercise_file(next),
                next.id
            ),
            None => println!(
                "{opening}Every exercise passes. `cargo run -p grader -- list` shows them all."
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::Info;

    fn kit() -> Kit {
        let info: Info = serde_yaml::from_str(
            r#"
format: 1
exercises:
  - {id: "01", name: attention, dir: 01-attention, title: A, points: 10, timeout_secs: 5}
  - {id: "02", name: masked, dir: 02-masked, title: B, points: 10, timeout_secs: 5}
"#,
        )
        .unwrap();
        Kit {
            root: PathBuf::from("/k"),
            info,
        }
    }

    fn id_of(path: &str) -> Option<String> {
        let kit = kit();
        exercise_for_path(&kit, Path::new("/k"), Path::new(path)).map(|e| e.id.clone())
    }

    #[test]
    fn a_saved_file_maps_to_its_exercise() {
        assert_eq!(
            id_of("/k/exercises/01-attention/src/lib.rs").as_deref(),
            Some("01")
        );
        assert_eq!(
            id_of("/k/exercises/02-masked/src/deep/mod.rs").as_deref(),
            Some("02")
        );
        assert_eq!(
            id_of("/k/exercises/02-masked/Cargo.toml").as_deref(),
            Some("02")
        );
    }

    #[test]
    fn other_files_do_not_count() {
        for path in [
            "/k/exercises/01-attention/hints.yaml",
            "/k/exercises/01-attention/src/.lib.rs.swp",
            "/k/exercises/01-attention/src/lib.rs~",
            "/k/exercises/01-attention/src/4913",
            "/k/exercises/01-attention/target/debug/x.rs",
            "/k/exercises/09-unknown/src/lib.rs",
            "/k/exercises/info.yaml",
            "/k/solutions/01-attention/src/lib.rs",
            "/elsewhere/exercises/01-attention/src/lib.rs",
        ] {
            assert_eq!(id_of(path), None, "{path}");
        }
    }

    #[test]
    fn a_burst_of_events_is_one_run() {
        let kit = kit();
        let (sender, receiver) = mpsc::channel();
        for path in [
            "/k/exercises/02-masked/src/lib.rs",
            "/k/exercises/02-masked/src/.lib.rs.swp",
            "/k/exercises/02-masked/src/lib.rs",
            "/k/exercises/01-attention/src/lib.rs",
        ] {
            sender.send(PathBuf::from(path)).unwrap();
        }
        drop(sender);
        let mut runs: Vec<Vec<String>> = vec![];
        serve(
            &kit,
            Path::new("/k"),
            &receiver,
            Duration::from_millis(20),
            &mut |exercises, _| runs.push(exercises.iter().map(|e| e.id.clone()).collect()),
        );
        assert_eq!(runs, [["01", "02"]]);
    }

    #[test]
    fn a_save_during_a_run_runs_again() {
        let kit = kit();
        let (sender, receiver) = mpsc::channel();
        sender
            .send(PathBuf::from("/k/exercises/02-masked/src/lib.rs"))
            .unwrap();
        let mut runs: Vec<Vec<String>> = vec![];
        let mut during = Some(sender);
        serve(
            &kit,
            Path::new("/k"),
            &receiver,
            Duration::from_millis(20),
            &mut |exercises, _| {
                runs.push(exercises.iter().map(|e| e.id.clone()).collect());
                // A save while the first run grades; then the editor closes.
                if let Some(sender) = during.take() {
                    sender
                        .send(PathBuf::from("/k/exercises/02-masked/src/lib.rs"))
                        .unwrap();
                }
            },
        );
        assert_eq!(runs, [["02"], ["02"]]);
    }

    #[test]
    fn saves_after_a_quiet_spell_are_runs_of_their_own() {
        let kit = kit();
        let (sender, receiver) = mpsc::channel();
        let feeder = std::thread::spawn(move || {
            for path in ["01-attention", "02-masked", "01-attention"] {
                sender
                    .send(PathBuf::from(format!("/k/exercises/{path}/src/lib.rs")))
                    .unwrap();
                std::thread::sleep(Duration::from_millis(150));
            }
        });
        let mut runs: Vec<Vec<String>> = vec![];
        serve(
            &kit,
            Path::new("/k"),
            &receiver,
            Duration::from_millis(20),
            &mut |exercises, _| runs.push(exercises.iter().map(|e| e.id.clone()).collect()),
        );
        feeder.join().unwrap();
        assert_eq!(runs, [["01"], ["02"], ["01"]]);
    }
}
