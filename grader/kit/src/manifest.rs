//! The fixture manifests, as `fixtures/README.md` documents them, and the
//! sha256 check of every data file.
//!
//! `fixtures/manifest.yaml` names every data file with its sha256;
//! `fixtures/<exercise>/cases.yaml` lists the cases of one exercise.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The command that rewrites every fixture (see `fixtures/README.md`).
pub const REGENERATE: &str = "python fixtures/export/export.py";

/// `fixtures/manifest.yaml`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Manifest {
    pub format: u32,
    pub generator: String,
    pub command: String,
    pub seed: u64,
    #[serde(default)]
    pub hidden: bool,
    #[serde(default)]
    pub versions: BTreeMap<String, String>,
    /// Path relative to the fixture root → hash and size.
    pub files: BTreeMap<String, FileEntry>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FileEntry {
    pub sha256: String,
    pub bytes: u64,
}

/// `fixtures/<exercise>/cases.yaml`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CaseList {
    pub format: u32,
    pub exercise: String,
    pub cases: Vec<CaseSpec>,
}

/// One case: call `op` with `inputs` and `params`, compare with `expected`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CaseSpec {
    pub id: String,
    pub op: String,
    #[serde(default)]
    pub params: BTreeMap<String, serde_yaml::Value>,
    /// Argument name → tensor name in `tensors.safetensors`.
    #[serde(default)]
    pub inputs: BTreeMap<String, String>,
    /// Output name → tensor name.
    #[serde(default)]
    pub expected: BTreeMap<String, String>,
    #[serde(default)]
    pub tolerance: Tolerance,
    /// Known mistakes: mistake id → output name → the tensor PyTorch gives
    /// under that mistake. A failed case that equals one is diagnosed.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub mistakes: BTreeMap<String, BTreeMap<String, String>>,
    #[serde(default)]
    pub tags: Vec<String>,
}

/// torch.isclose's rule: |got − expected| ≤ atol + rtol·|expected|.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Tolerance {
    pub atol: f64,
    pub rtol: f64,
}

impl Default for Tolerance {
    /// The default for f32 single operations.
    fn default() -> Self {
        Tolerance {
            atol: 1e-5,
            rtol: 1e-4,
        }
    }
}

/// A fixture problem, with the way out.
#[derive(Debug, Clone, PartialEq)]
pub struct FixtureError {
    pub path: PathBuf,
    pub problem: String,
}

impl fmt::Display for FixtureError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "fixture file {}: {}.\n  Restore it with `git checkout -- {}`, or regenerate every fixture with `{}` (see fixtures/README.md).",
            self.path.display(),
            self.problem,
            self.path.display(),
            REGENERATE
        )
    }
}

impl std::error::Error for FixtureError {}

fn fixture_error(path: &Path, problem: impl Into<String>) -> FixtureError {
    FixtureError {
        path: path.to_path_buf(),
        problem: problem.into(),
    }
}

impl Manifest {
    /// Reads `<root>/manifest.yaml`.
    pub fn load(root: &Path) -> Result<Manifest, FixtureError> {
        let path = root.join("manifest.yaml");
        let text = std::fs::read_to_string(&path)
            .map_err(|e| fixture_error(&path, format!("cannot be read ({e})")))?;
        serde_yaml::from_str(&text)
            .map_err(|e| fixture_error(&path, format!("is not a valid manifest ({e})")))
    }

    /// Checks the sha256 of every listed file under `prefix` (an exercise
    /// folder such as `01-attention/`, or "" for all).
    pub fn verify(&self, root: &Path, prefix: &str) -> Result<(), FixtureError> {
        for (name, entry) in self.files.iter().filter(|(n, _)| n.starts_with(prefix)) {
            let path = root.join(name);
            let bytes = std::fs::read(&path)
                .map_err(|e| fixture_error(&path, format!("is missing or unreadable ({e})")))?;
            let digest = hex(&Sha256::digest(&bytes));
            if digest != entry.sha256 {
                return Err(fixture_error(
                    &path,
                    format!(
                        "is damaged: its sha256 is {digest}, manifest.yaml expects {}",
                        entry.sha256
                    ),
                ));
            }
        }
        Ok(())
    }

    /// Whether the manifest lists any file of this exercise.
    pub fn has_exercise(&self, exercise_dir: &str) -> bool {
        let prefix = format!("{exercise_dir}/");
        self.files.keys().any(|name| name.starts_with(&prefix))
    }
}

impl CaseList {
    /// Reads `<root>/<exercise_dir>/cases.yaml`.
    pub fn load(root: &Path, exercise_dir: &str) -> Result<CaseList, FixtureError> {
        let path = root.join(exercise_dir).join("cases.yaml");
        let text = std::fs::read_to_string(&path)
            .map_err(|e| fixture_error(&path, format!("cannot be read ({e})")))?;
        serde_yaml::from_str(&text)
            .map_err(|e| fixture_error(&path, format!("is not a valid case list ({e})")))
    }
}

/// Lower-case hex of a digest.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The sha256 of a file, as hex.
pub fn sha256_file(path: &Path) -> std::io::Result<String> {
    Ok(hex(&Sha256::digest(std::fs::read(path)?)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture_root(data: &[u8]) -> (tempfile::TempDir, Manifest) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("01-x")).unwrap();
        std::fs::write(dir.path().join("01-x/data.bin"), data).unwrap();
        let manifest = Manifest {
            format: 1,
            generator: "test".into(),
            command: REGENERATE.into(),
            seed: 1,
            hidden: false,
            versions: BTreeMap::new(),
            files: BTreeMap::from([(
                "01-x/data.bin".to_string(),
                FileEntry {
                    sha256: hex(&Sha256::digest(b"golden")),
                    bytes: 6,
                },
            )]),
        };
        (dir, manifest)
    }

    #[test]
    fn an_intact_file_verifies() {
        let (dir, manifest) = fixture_root(b"golden");
        manifest.verify(dir.path(), "01-x/").unwrap();
        assert!(manifest.has_exercise("01-x"));
        assert!(!manifest.has_exercise("02-y"));
    }

    #[test]
    fn a_damaged_file_is_named_with_the_way_out() {
        let (dir, manifest) = fixture_root(b"g0lden");
        let error = manifest.verify(dir.path(), "").unwrap_err().to_string();
        assert!(error.contains("01-x/data.bin"), "{error}");
        assert!(error.contains("is damaged"), "{error}");
        assert!(error.contains(REGENERATE), "{error}");
    }

    #[test]
    fn a_missing_file_is_named() {
        let (dir, manifest) = fixture_root(b"golden");
        std::fs::remove_file(dir.path().join("01-x/data.bin")).unwrap();
        let error = manifest.verify(dir.path(), "").unwrap_err().to_string();
        assert!(error.contains("is missing"), "{error}");
    }

    #[test]
    fn a_case_list_parses_with_defaults() {
        let yaml = "format: 1\nexercise: 01-x\ncases:\n- id: a\n  op: sdpa\n  inputs: {q: a/q}\n  expected: {out: a/out}\n";
        let list: CaseList = serde_yaml::from_str(yaml).unwrap();
        assert_eq!(list.cases[0].tolerance, Tolerance::default());
        assert_eq!(list.cases[0].inputs["q"], "a/q");
    }
}
