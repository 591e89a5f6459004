//! `hint <exercise>`: the next of the exercise's progressive hints, kept as
//! data in `exercises/<dir>/hints.yaml`; `--all` shows them all, `--reset`
//! starts over.

use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use clap::Args;
use serde::Deserialize;

use super::State;
use crate::catalog::{Exercise, Kit};

#[derive(Debug, Clone, Args)]
pub struct HintArgs {
    /// The exercise, as "01", "attention" or "01-attention".
    pub exercise: String,
    /// Show every hint at once.
    #[arg(long, conflicts_with = "reset")]
    pub all: bool,
    /// Forget which hints were shown, so the next `hint` starts at the first.
    #[arg(long)]
    pub reset: bool,
    /// The kit's root; found from the current directory by default.
    #[arg(long, value_name = "DIR")]
    pub kit: Option<PathBuf>,
}

#[derive(Debug, Deserialize)]
struct HintFile {
    hints: Vec<String>,
}

/// The hints of `exercise`, in order.
pub fn load(kit: &Kit, exercise: &Exercise) -> Result<Vec<String>> {
    let path = kit.exercise_dir(exercise).join("hints.yaml");
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("cannot read {}", path.display()))?;
    let file: HintFile = serde_yaml::from_str(&text)
        .with_context(|| format!("{} is not a list of hints", path.display()))?;
    if file.hints.is_empty() {
        bail!("{} holds no hints", path.display());
    }
    Ok(file.hints)
}

/// What `hint` prints, given how many hints were shown before; returns the
/// text and the new count.
pub fn render(exercise: &Exercise, hints: &[String], shown: usize, all: bool) -> (String, usize) {
    let total = hints.len();
    let heading = |i: usize| {
        format!(
            "Hint {} of {total} for {} {}:",
            i + 1,
            exercise.id,
            exercise.name
        )
    };
    if all {
        let text = hints
            .iter()
            .enumerate()
            .map(|(i, hint)| format!("{}\n{}\n", heading(i), hint.trim_end()))
            .collect::<Vec<_>>()
            .join("\n");
        return (text, total);
    }
    let index = shown.min(total - 1);
    let mut text = format!("{}\n{}\n", heading(index), hints[index].trim_end());
    if index + 1 < total {
        text.push_str(&format!(
            "\n(`cargo run -p grader -- hint {}` again for the next one.)\n",
            exercise.id
        ));
    } else {
        text.push_str(&format!(
            "\n(That was the last hint. `hint {} --reset` starts over.)\n",
            exercise.id
        ));
    }
    (text, index + 1)
}

pub fn run(args: &HintArgs) -> Result<i32> {
    let kit = Kit::locate(args.kit.as_deref())?;
    let selected = kit.select(std::slice::from_ref(&args.exercise))?;
    let [exercise] = selected.as_slice() else {
        bail!("{:?} names more than one exercise", args.exercise);
    };
    let mut state = State::load(&kit);
    if args.reset {
        state.hints_shown.remove(&exercise.id);
        state.save(&kit)?;
        println!("The hints of {} {} start over.", exercise.id, exercise.name);
        return Ok(0);
    }
    let hints = load(&kit, exercise)?;
    let shown = state.hints_shown.get(&exercise.id).copied().unwrap_or(0);
    let (text, shown) = render(exercise, &hints, shown, args.all);
    print!("{text}");
    state.hints_shown.insert(exercise.id.clone(), shown);
    state.save(&kit)?;
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exercise() -> Exercise {
        serde_yaml::from_str(
            "{id: \"01\", name: attention, dir: 01-attention, title: A, points: 10, timeout_secs: 5}",
        )
        .unwrap()
    }

    #[test]
    fn hints_come_one_at_a_time_and_stop_at_the_last() {
        let hints = vec!["nudge".to_string(), "more".into(), "answer".into()];
        let (text, shown) = render(&exercise(), &hints, 0, false);
        assert!(
            text.starts_with("Hint 1 of 3 for 01 attention:\nnudge\n"),
            "{text}"
        );
        assert_eq!(shown, 1);
        let (text, shown) = render(&exercise(), &hints, 2, false);
        assert!(
            text.contains("Hint 3 of 3") && text.contains("last hint"),
            "{text}"
        );
        assert_eq!(shown, 3);
        let (text, shown) = render(&exercise(), &hints, 3, false);
        assert!(text.contains("Hint 3 of 3"), "{text}");
        assert_eq!(shown, 3);
    }

    #[test]
    fn all_shows_every_hint_in_order() {
        let hints = vec!["nudge".to_string(), "answer".into()];
        let (text, shown) = render(&exercise(), &hints, 0, true);
        let first = text.find("nudge").unwrap();
        let second = text.find("answer").unwrap();
        assert!(first < second, "{text}");
        assert_eq!(shown, 2);
    }
}
