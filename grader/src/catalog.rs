//! The kit on disk: `exercises/info.yaml`, the one list of exercises, and
//! where each exercise's crates live.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};

/// The file that lists the exercises.
pub const INFO_FILE: &str = "exercises/info.yaml";

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Info {
    pub format: u32,
    pub exercises: Vec<Exercise>,
}

/// One exercise, as `info.yaml` describes it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Exercise {
    /// "01".
    pub id: String,
    /// "attention".
    pub name: String,
    /// "01-attention": the folder under exercises/, solutions/, grader/checks/ and fixtures/.
    pub dir: String,
    pub title: String,
    pub points: f64,
    /// Ids of the exercises this one uses; it is blocked until they pass.
    #[serde(default)]
    pub builds_on: Vec<String>,
    /// Where it comes from among the seed notebooks.
    #[serde(default)]
    pub seed: String,
    pub timeout_secs: u64,
    /// A bonus exercise: its points come on top of the course's total, and
    /// reports show them apart.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub bonus: bool,
}

impl Exercise {
    /// The worker package that grades this exercise.
    pub fn check_package(&self) -> String {
        format!("check-{}", self.dir)
    }

    /// The adapter package: the only code that calls the student's
    /// functions (exercises graded through one; see `Kit::has_adapter`).
    pub fn adapter_package(&self) -> String {
        format!("adapter-{}", self.dir)
    }

    /// The student's package.
    pub fn exercise_package(&self) -> String {
        format!("ex{}", self.dir)
    }

    /// The reference solution's package.
    pub fn solution_package(&self) -> String {
        format!("sol{}", self.dir)
    }

    /// Whether `selector` ("01", "attention", "01-attention") names it.
    pub fn matches(&self, selector: &str) -> bool {
        let selector = selector.trim_end_matches('/');
        let selector = selector.rsplit('/').next().unwrap_or(selector);
        [&self.id, &self.name, &self.dir]
            .iter()
            .any(|s| s.eq_ignore_ascii_case(selector))
            || matches!(
                (selector.parse::<u32>(), self.id.parse::<u32>()),
                (Ok(a), Ok(b)) if a == b
            )
    }
}

/// A kit checkout: its root and its exercise list.
#[derive(Debug, Clone)]
pub struct Kit {
    pub root: PathBuf,
    pub info: Info,
}

impl Kit {
    pub fn load(root: &Path) -> Result<Kit> {
        let path = root.join(INFO_FILE);
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("cannot read {}: is this the kit's root?", path.display()))?;
        let info: Info = serde_yaml::from_str(&text)
            .with_context(|| format!("{} is not a valid exercise list", path.display()))?;
        let kit = Kit {
            root: root.to_path_buf(),
            info,
        };
        kit.validate()?;
        Ok(kit)
    }

    /// Finds the kit: `explicit` if given, else the first folder upward from
    /// the current directory holding `exercises/info.yaml`, else the folder
    /// this grader was built from.
    pub fn locate(explicit: Option<&Path>) -> Result<Kit> {
        if let Some(root) = explicit {
            return Kit::load(root);
        }
        let cwd = std::env::current_dir()?;
        for dir in cwd.ancestors() {
            if dir.join(INFO_FILE).is_file() {
                return Kit::load(dir);
            }
        }
        Kit::load(Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap())
    }

    fn validate(&self) -> Result<()> {
        for (i, exercise) in self.info.exercises.iter().enumerate() {
            for dep in &exercise.builds_on {
                let position = self.info.exercises.iter().position(|e| &e.id == dep);
                match position {
                    Some(p) if p < i => {}
                    Some(_) => bail!(
                        "{INFO_FILE}: exercise {} builds on {dep}, which must come before it",
                        exercise.id
                    ),
                    None => bail!(
                        "{INFO_FILE}: exercise {} builds on {dep}, which is not in the list",
                        exercise.id
                    ),
                }
            }
        }
        Ok(())
    }

    pub fn exercises(&self) -> &[Exercise] {
        &self.info.exercises
    }

    pub fn get(&self, id: &str) -> Option<&Exercise> {
        self.info.exercises.iter().find(|e| e.id == id)
    }

    /// The exercises the selectors name, in list order; all when empty.
    pub fn select(&self, selectors: &[String]) -> Result<Vec<Exercise>> {
        if selectors.is_empty() {
            return Ok(self.info.exercises.clone());
        }
        for selector in selectors {
            if !self.info.exercises.iter().any(|e| e.matches(selector)) {
                let known: Vec<String> = self
                    .info
                    .exercises
                    .iter()
                    .map(|e| format!("{} ({})", e.id, e.name))
                    .collect();
                bail!(
                    "no exercise matches {selector:?}; the exercises are: {}",
                    known.join(", ")
                );
            }
        }
        Ok(self
            .info
            .exercises
            .iter()
            .filter(|e| selectors.iter().any(|s| e.matches(s)))
            .cloned()
            .collect())
    }

    /// `selected` plus everything they build on, transitively, in list order.
    pub fn with_prerequisites(&self, selected: &[Exercise]) -> Vec<Exercise> {
        let mut wanted: Vec<String> = selected.iter().map(|e| e.id.clone()).collect();
        // The list is ordered so that prerequisites come first; walk it backwards.
        for exercise in self.info.exercises.iter().rev() {
            if wanted.contains(&exercise.id) {
                for dep in &exercise.builds_on {
                    if !wanted.contains(dep) {
                        wanted.push(dep.clone());
                    }
                }
            }
        }
        self.info
            .exercises
            .iter()
            .filter(|e| wanted.contains(&e.id))
            .cloned()
            .collect()
    }

    /// Whether the kit ships reference solutions (a released student kit does not).
    pub fn has_solutions(&self) -> bool {
        self.root.join("solutions").is_dir()
    }

    /// The catalogue of known mistakes of `exercise`
    /// (`exercises/<dir>/mistakes.yaml`, beside its hints): mistake id → the
    /// line a diagnosis prints. Empty when the file is missing or unreadable.
    pub fn mistakes(&self, exercise: &Exercise) -> BTreeMap<String, String> {
        #[derive(Deserialize)]
        struct Catalogue {
            mistakes: Vec<Mistake>,
        }
        #[derive(Deserialize)]
        struct Mistake {
            id: String,
            says: String,
            see: Option<String>,
        }
        let path = self.exercise_dir(exercise).join("mistakes.yaml");
        let Ok(text) = std::fs::read_to_string(path) else {
            return BTreeMap::new();
        };
        let Ok(catalogue) = serde_yaml::from_str::<Catalogue>(&text) else {
            return BTreeMap::new();
        };
        catalogue
            .mistakes
            .into_iter()
            .map(|m| {
                let line = match m.see {
                    Some(see) => format!("{}: see {see}", m.says),
                    None => m.says,
                };
                (m.id, line)
            })
            .collect()
    }

    /// Whether `exercise` runs the student's code in an adapter
    /// (`grader/adapters/<dir>`) and judges in its worker; otherwise its
    /// worker links the student's crate itself.
    pub fn has_adapter(&self, exercise: &Exercise) -> bool {
        self.root
            .join("grader/adapters")
            .join(&exercise.dir)
            .join("Cargo.toml")
            .is_file()
    }

    pub fn exercise_dir(&self, exercise: &Exercise) -> PathBuf {
        self.root.join("exercises").join(&exercise.dir)
    }

    /// Which exercise a package belongs to (exNN-*, solNN-*, check-NN-*).
    pub fn exercise_of_package(&self, package: &str) -> Option<&Exercise> {
        self.info.exercises.iter().find(|e| {
            package == e.check_package()
                || package == e.adapter_package()
                || package == e.exercise_package()
                || package == e.solution_package()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kit() -> Kit {
        let info: Info = serde_yaml::from_str(
            r#"
format: 1
exercises:
  - {id: "01", name: attention, dir: 01-attention, title: A, points: 10, timeout_secs: 5}
  - {id: "02", name: masked-attention, dir: 02-masked-attention, title: B, points: 10, builds_on: ["01"], timeout_secs: 5}
  - {id: "03", name: head, dir: 03-head, title: C, points: 10, builds_on: ["02"], timeout_secs: 5}
"#,
        )
        .unwrap();
        let kit = Kit {
            root: PathBuf::from("."),
            info,
        };
        kit.validate().unwrap();
        kit
    }

    #[test]
    fn selectors_match_id_name_and_dir() {
        let kit = kit();
        for selector in [
            "02",
            "2",
            "masked-attention",
            "02-masked-attention",
            "exercises/02-masked-attention/",
        ] {
            let selected = kit.select(&[selector.to_string()]).unwrap();
            assert_eq!(selected.len(), 1, "{selector}");
            assert_eq!(selected[0].id, "02");
        }
        let error = kit.select(&["bert".to_string()]).unwrap_err().to_string();
        assert!(error.contains("01 (attention)"), "{error}");
    }

    #[test]
    fn prerequisites_are_transitive_and_ordered() {
        let kit = kit();
        let selected = kit.select(&["03".to_string()]).unwrap();
        let ids: Vec<String> = kit
            .with_prerequisites(&selected)
            .into_iter()
            .map(|e| e.id)
            .collect();
        assert_eq!(ids, ["01", "02", "03"]);
    }

    #[test]
    fn packages_map_back_to_exercises() {
        let kit = kit();
        assert_eq!(
            kit.exercise_of_package("sol02-masked-attention")
                .unwrap()
                .id,
            "02"
        );
        assert_eq!(
            kit.exercise_of_package("check-01-attention").unwrap().id,
            "01"
        );
        assert!(kit.exercise_of_package("candle-core").is_none());
    }

    #[test]
    fn a_forward_reference_is_rejected() {
        let mut kit = kit();
        kit.info.exercises[0].builds_on = vec!["03".into()];
        assert!(kit.validate().is_err());
    }
}
