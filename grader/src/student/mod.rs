//! The student's loop, as in rustlings: `list` (every exercise with its
//! status), `hint` (progressive hints kept beside each exercise) and `watch`
//! (re-grades the exercise being edited on every save).

pub mod hint;
pub mod list;
pub mod watch;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

use crate::catalog::Kit;

/// What the grader remembers between runs in a checkout: how many hints of
/// each exercise were shown, which exercises passed last. It lives under
/// `target/`, which git ignores and a submission never carries.
#[derive(Debug, Default, Clone, PartialEq, Serialize, Deserialize)]
pub struct State {
    /// Exercise id → hints shown so far.
    #[serde(default)]
    pub hints_shown: BTreeMap<String, usize>,
}

impl State {
    pub fn path(kit: &Kit) -> PathBuf {
        kit.root.join("target").join("grader-state.json")
    }

    /// The state of `kit`; empty when there is none or it is unreadable.
    pub fn load(kit: &Kit) -> State {
        Self::load_from(&Self::path(kit))
    }

    fn load_from(path: &Path) -> State {
        std::fs::read_to_string(path)
            .ok()
            .and_then(|text| serde_json::from_str(&text).ok())
            .unwrap_or_default()
    }

    pub fn save(&self, kit: &Kit) -> Result<()> {
        let path = Self::path(kit);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
        }
        let text = serde_json::to_string_pretty(self).expect("state serializes") + "\n";
        std::fs::write(&path, text).with_context(|| format!("cannot write {}", path.display()))
    }
}
