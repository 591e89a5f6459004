//! `watch`: re-grades the exercise whose file was saved.
//!
//! The testable core is [`exercise_for_path`] (which exercise a changed path
//! belongs to) and [`serve`] (the loop: debounce a burst of events into one
//! run, and run again when a save arrived during a run, so no save is ever
//! missed). The file watcher and the printing around them are thin.

use std::collections::BTreeSet;
use std::io::IsTerminal;
use std::path::{Component, Path, PathBuf};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use clap::Args;
use notify::{EventKind, RecursiveMode, Watcher};

use crate::catalog::{Exercise, Kit};
use crate::grade::{self, Status};
use crate::report::{self, Format};
use crate::settings::{check_names, exercise_file, next_after, RunArgs};

#[derive(Debug, Clone, Args)]
pub struct WatchArgs {
    /// Grade this exercise once at the start ("01", "attention", ...).
    pub exercise: Option<String>,
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

    let color = std::io::stdout().is_terminal();
    let mut grade_now = |exercises: &[Exercise], since: Instant| {
        grade_and_tell(&kit, args, exercises, since, color);
    };
    if let Some(selector) = &args.exercise {
        let selected = kit.select(std::slice::from_ref(selector))?;
        grade_now(&selected, Instant::now());
    }
    println!(
        "Watching {}: save an exercise's file to grade it. Ctrl-C stops.",
        exercises_dir.display()
    );
    serve(
        &kit,
        &root,
        &receiver,
        Duration::from_millis(args.debounce),
        &mut grade_now,
    );
    Ok(0)
}

/// One run: grade, print the report, and after a pass name the next exercise.
fn grade_and_tell(
    kit: &Kit,
    args: &WatchArgs,
    exercises: &[Exercise],
    since: Instant,
    color: bool,
) {
    let names: Vec<String> = exercises
        .iter()
        .map(|e| format!("{} {}", e.id, e.name))
        .collect();
    println!("\n──── grading {} ────", names.join(", "));
    if let Err(error) = args.run.verify(kit, exercises) {
        println!("error: {error}");
        return;
    }
    let options = args.run.options(kit, args.run.seed_or_fresh());
    match grade::grade(kit, exercises, &options) {
        Ok(report) => {
            print!("{}", report::render(&report, Format::Human, color));
            for exercise in &report.exercises {
                if exercise.status != Status::Passed {
                    continue;
                }
                match next_after(kit, &exercise.id) {
                    Some(next) => println!(
                        "\n{} {} passes. Next: {} {}, in {} (`cargo run -p grader -- hint {}` for a hint).",
                        exercise.id,
                        exercise.name,
                        next.id,
                        next.name,
                        exercise_file(next),
                        next.id
                    ),
                    None => println!(
                        "\n{} {} passes: that was the last exercise. `cargo run -p grader -- list` shows them all.",
                        exercise.id, exercise.name
                    ),
                }
            }
            println!(
                "verdict {:.1} s after the save; watching...",
                since.elapsed().as_secs_f64()
            );
        }
        Err(error) => println!("error: {error:#}"),
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
