//! `release --out DIR`: the student kit. It holds the exercises with their
//! stubs, the committed fixtures, and a grader that works without solutions:
//!
//! - no `solutions/`, hidden fixture sets, `models/`, build output, `.git`,
//!   or instructor-only files (`.ci/`, `bench/`, `ci-templates/`,
//!   `INSTRUCTORS.md`);
//! - every manifest rewritten (with `toml_edit`, comments kept) so that no
//!   path dependency, workspace member or feature points into
//!   `solutions/`: cargo wants every path dependency to exist, even an
//!   optional one, and a member glob that matches nothing is an error;
//! - the student repository's CI workflow from `ci-templates/`.
//!
//! It refuses to write a kit in which an exercise equals its solution, or in
//! which a source file reads a file from `solutions/` (`#[path]`,
//! `include_str!`): such a kit would not build without solutions.

use std::collections::BTreeSet;
use std::path::{Component, Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{bail, Context, Result};
use clap::Args;
use toml_edit::{DocumentMut, Item, Table};

use super::{copy_file, set_mtime};
use crate::catalog::{Kit, INFO_FILE};
use crate::grade;
use crate::settings::check_names;

#[derive(Debug, Clone, Args)]
pub struct ReleaseArgs {
    /// Where to write the student kit; must be empty or absent.
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Replace DIR if it holds an earlier release.
    #[arg(long)]
    pub force: bool,
    /// The kit's root; found from the current directory by default.
    #[arg(long, value_name = "DIR")]
    pub kit: Option<PathBuf>,
}

/// What a release wrote.
#[derive(Debug, Default)]
pub struct Released {
    /// Files copied, relative to the kit's root.
    pub files: Vec<String>,
    /// Manifests rewritten to drop what pointed into `solutions/`.
    pub rewritten: Vec<String>,
    /// Problems that do not stop the release (fixtures missing for an
    /// exercise still being written, say).
    pub warnings: Vec<String>,
}

/// Top-level folders and files that never go to students.
const INSTRUCTOR_ONLY: &[&str] = &[
    "solutions",
    "models",
    ".ci",
    ".github",
    "bench",
    "ci-templates",
    "out",
    "INSTRUCTORS.md",
];

/// The workflow template that becomes the student repository's CI.
pub const WORKFLOW_TEMPLATE: &str = "ci-templates/github-actions/grade.yml";

/// Whether `relative` (a path under the kit's root) stays out of a release.
pub fn is_excluded(relative: &Path) -> bool {
    let parts: Vec<String> = relative
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    let Some(first) = parts.first() else {
        return true;
    };
    INSTRUCTOR_ONLY.contains(&first.as_str())
        || first.starts_with("fixtures-hidden")
        || first.starts_with("hidden-fixtures")
        || parts.iter().any(|p| {
            matches!(
                p.as_str(),
                "target" | ".git" | ".venv" | "__pycache__" | ".grader"
            )
        })
        || parts.last().is_some_and(|name| {
            name.ends_with(".pending-snap") || name.ends_with(".snap.new") || name.ends_with(".pyc")
        })
}

/// The kit's files, relative to its root: what git tracks or would track
/// (`git ls-files --cached --others --exclude-standard`) in a git checkout,
/// else every file under the root.
fn kit_files(root: &Path) -> Result<Vec<PathBuf>> {
    if root.join(".git").exists() {
        let output = Command::new("git")
            .arg("-C")
            .arg(root)
            .args([
                "ls-files",
                "-z",
                "--cached",
                "--others",
                "--exclude-standard",
            ])
            .stderr(Stdio::inherit())
            .output()
            .context("cannot run git")?;
        if output.status.success() {
            return Ok(output
                .stdout
                .split(|b| *b == 0)
                .filter(|p| !p.is_empty())
                .map(|p| PathBuf::from(String::from_utf8_lossy(p).into_owned()))
                .filter(|p| root.join(p).is_file())
                .collect());
        }
    }
    let mut files = vec![];
    walk(root, Path::new(""), &mut files)?;
    Ok(files)
}

fn walk(root: &Path, relative: &Path, files: &mut Vec<PathBuf>) -> Result<()> {
    let dir = root.join(relative);
    let mut entries: Vec<_> = std::fs::read_dir(&dir)
        .with_context(|| format!("cannot read {}", dir.display()))?
        .collect::<std::io::Result<_>>()?;
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let path = relative.join(entry.file_name());
        if is_excluded(&path) {
            continue;
        }
        let kind = entry.file_type()?;
        if kind.is_dir() {
            walk(root, &path, files)?;
        } else if kind.is_file() {
            files.push(path);
        }
    }
    Ok(())
}

/// Folders that hold a fixture manifest marked `hidden: true`.
fn hidden_fixture_dirs(root: &Path, files: &[PathBuf]) -> Vec<PathBuf> {
    files
        .iter()
        .filter(|f| f.file_name().is_some_and(|n| n == "manifest.yaml"))
        .filter(|f| {
            std::fs::read_to_string(root.join(f))
                .ok()
                .and_then(|text| serde_yaml::from_str::<serde_yaml::Value>(&text).ok())
                .is_some_and(|v| v["hidden"].as_bool() == Some(true))
        })
        .filter_map(|f| f.parent().map(Path::to_path_buf))
        .collect()
}

/// `a/b/../c` → `a/c`, without touching the disk.
fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}

fn into_solutions(path: &Path) -> bool {
    path.components()
        .next()
        .is_some_and(|c| c.as_os_str() == "solutions")
}

/// Drops every dependency whose path leads into `solutions/` (in
/// `[dependencies]`, `[dev-dependencies]`, `[build-dependencies]`, their
/// `[target.*]` forms and `[workspace.dependencies]`), the features that
/// only enabled them, and `solutions/*` workspace members. `manifest_dir`
/// is the manifest's folder relative to the kit's root. Returns the new text
/// when anything changed.
pub fn strip_solutions(text: &str, manifest_dir: &Path) -> Result<Option<String>> {
    let mut doc: DocumentMut = text.parse().context("not a valid Cargo.toml")?;
    let mut changed = false;
    let mut removed: BTreeSet<String> = BTreeSet::new();

    if let Some(workspace) = doc.get_mut("workspace").and_then(Item::as_table_like_mut) {
        if let Some(members) = workspace.get_mut("members").and_then(Item::as_array_mut) {
            let before = members.len();
            members.retain(|m| {
                !m.as_str()
                    .is_some_and(|m| into_solutions(&normalize(&manifest_dir.join(m))))
            });
            changed |= members.len() != before;
        }
        if let Some(deps) = workspace
            .get_mut("dependencies")
            .and_then(Item::as_table_like_mut)
        {
            changed |= drop_solution_deps(deps, manifest_dir, &mut removed);
        }
    }
    for key in ["dependencies", "dev-dependencies", "build-dependencies"] {
        if let Some(deps) = doc.get_mut(key).and_then(Item::as_table_like_mut) {
            changed |= drop_solution_deps(deps, manifest_dir, &mut removed);
        }
    }
    if let Some(targets) = doc.get_mut("target").and_then(Item::as_table_like_mut) {
        for (_, target) in targets.iter_mut() {
            let Some(target) = target.as_table_like_mut() else {
                continue;
            };
            for key in ["dependencies", "dev-dependencies", "build-dependencies"] {
                if let Some(deps) = target.get_mut(key).and_then(Item::as_table_like_mut) {
                    changed |= drop_solution_deps(deps, manifest_dir, &mut removed);
                }
            }
        }
    }
    if let Some(features) = doc.get_mut("features").and_then(Item::as_table_mut) {
        changed |= drop_features(features, &mut removed);
    }
    // Profile overrides of the solution crates (`[profile.dev.package.sol09-…]`):
    // cargo warns about a spec that matches no package.
    let solution_packages = solution_package_names(manifest_dir);
    if let Some(profiles) = doc.get_mut("profile").and_then(Item::as_table_like_mut) {
        for (_, profile) in profiles.iter_mut() {
            let Some(packages) = profile
                .as_table_like_mut()
                .and_then(|p| p.get_mut("package"))
                .and_then(Item::as_table_like_mut)
            else {
                continue;
            };
            for name in &solution_packages {
                changed |= packages.remove(name).is_some();
            }
        }
    }
    Ok(changed.then(|| {
        let text = doc.to_string();
        if text.ends_with('\n') {
            text
        } else {
            text + "\n"
        }
    }))
}

/// The package names of `<manifest_dir>/solutions/*/Cargo.toml`.
fn solution_package_names(manifest_dir: &Path) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(manifest_dir.join("solutions")) else {
        return vec![];
    };
    entries
        .filter_map(|entry| {
            let text = std::fs::read_to_string(entry.ok()?.path().join("Cargo.toml")).ok()?;
            let doc: DocumentMut = text.parse().ok()?;
            Some(doc.get("package")?.get("name")?.as_str()?.to_string())
        })
        .collect()
}

fn drop_solution_deps(
    deps: &mut dyn toml_edit::TableLike,
    manifest_dir: &Path,
    removed: &mut BTreeSet<String>,
) -> bool {
    let doomed: Vec<String> = deps
        .iter()
        .filter(|(_, dep)| {
            dep.as_table_like()
                .and_then(|t| t.get("path"))
                .and_then(Item::as_str)
                .is_some_and(|p| into_solutions(&normalize(&manifest_dir.join(p))))
        })
        .map(|(name, _)| name.to_string())
        .collect();
    for name in &doomed {
        deps.remove(name);
        removed.insert(name.clone());
    }
    !doomed.is_empty()
}

/// Removes references to `removed` dependencies from every feature; a
/// feature left empty by that is removed too, and so on.
fn drop_features(features: &mut Table, removed: &mut BTreeSet<String>) -> bool {
    let mut changed = false;
    loop {
        let mut emptied = vec![];
        for (name, list) in features.iter_mut() {
            let Some(list) = list.as_array_mut() else {
                continue;
            };
            let before = list.len();
            list.retain(|entry| {
                let Some(entry) = entry.as_str() else {
                    return true;
                };
                let entry = entry.strip_prefix("dep:").unwrap_or(entry);
                let target = entry.split('/').next().unwrap_or(entry);
                let target = target.trim_end_matches('?');
                !removed.contains(target)
            });
            if list.len() != before {
                changed = true;
                if list.is_empty() && name.get() != "default" {
                    emptied.push(name.get().to_string());
                }
            }
        }
        if emptied.is_empty() {
            return changed;
        }
        for name in emptied {
            features.remove(&name);
            removed.insert(name);
        }
    }
}

/// Lines of Rust sources that read a file from `solutions/`.
fn solution_reads(root: &Path, files: &[PathBuf]) -> Vec<String> {
    let mut found = vec![];
    // What the workers and the exercises compile; the grader's own tests
    // mention such lines as data.
    let compiled = |f: &PathBuf| {
        [
            "grader/checks",
            "grader/adapters",
            "grader/kit",
            "exercises",
        ]
        .iter()
        .any(|d| f.starts_with(d))
    };
    for file in files
        .iter()
        .filter(|f| f.extension().is_some_and(|e| e == "rs") && compiled(f))
    {
        let Ok(text) = std::fs::read_to_string(root.join(file)) else {
            continue;
        };
        for (number, line) in text.lines().enumerate() {
            if reads_solutions(line) {
                found.push(format!(
                    "{}:{}: {}",
                    file.display(),
                    number + 1,
                    line.trim()
                ));
            }
        }
    }
    found
}

/// Whether a line of Rust reads a file under `solutions/`: a `#[path]`
/// attribute, or an `include!`, `include_str!` or `include_bytes!` of a
/// literal path.
fn reads_solutions(line: &str) -> bool {
    let code = line.trim_start();
    if code.starts_with("#[path") {
        return code.contains("solutions/");
    }
    ["include!(", "include_str!(", "include_bytes!("]
        .iter()
        .any(|macro_call| {
            code.match_indices(macro_call).any(|(at, _)| {
                let rest = code[at + macro_call.len()..].trim_start();
                rest.strip_prefix('"')
                    .and_then(|literal| literal.split('"').next())
                    .is_some_and(|path| path.contains("solutions/"))
            })
        })
}

/// Exercises whose sources are the same as their solution's.
fn solved_exercises(kit: &Kit) -> Vec<String> {
    kit.exercises()
        .iter()
        .filter(|e| {
            let exercise = kit.root.join("exercises").join(&e.dir).join("src/lib.rs");
            let solution = kit.root.join("solutions").join(&e.dir).join("src/lib.rs");
            match (std::fs::read(&exercise), std::fs::read(&solution)) {
                (Ok(a), Ok(b)) => a == b,
                _ => false,
            }
        })
        .map(|e| format!("{} ({})", e.id, e.name))
        .collect()
}

/// Prepares `out`: absent, empty, or (with `force`) an earlier release.
fn prepare_out(out: &Path, force: bool) -> Result<()> {
    if out.exists() {
        let empty = std::fs::read_dir(out)
            .with_context(|| format!("cannot read {}", out.display()))?
            .next()
            .is_none();
        if !empty {
            if !force {
                bail!(
                    "{} is not empty; pass --force to replace an earlier release",
                    out.display()
                );
            }
            if !out.join(INFO_FILE).is_file() {
                bail!(
                    "{} is not empty and does not look like a released kit (no {INFO_FILE}); not removing it",
                    out.display()
                );
            }
            std::fs::remove_dir_all(out)
                .with_context(|| format!("cannot remove {}", out.display()))?;
        }
    }
    std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))
}

/// Writes the student kit of `kit` into `out`.
pub fn release(kit: &Kit, out: &Path, force: bool) -> Result<Released> {
    check_names(kit)?;
    let root = std::fs::canonicalize(&kit.root)
        .with_context(|| format!("cannot open {}", kit.root.display()))?;
    let solved = solved_exercises(kit);
    if !solved.is_empty() {
        bail!(
            "these exercises are the same as their solutions, so releasing them would hand out the answers: {}. Regenerate the stubs (python3 stubify.py ...)",
            solved.join(", ")
        );
    }
    prepare_out(out, force)?;
    let out = std::fs::canonicalize(out)?;
    let out_inside = out.strip_prefix(&root).ok().map(Path::to_path_buf);

    let mut files = kit_files(&root)?;
    let hidden = hidden_fixture_dirs(&root, &files);
    files.retain(|f| {
        !is_excluded(f)
            && !hidden.iter().any(|h| f.starts_with(h))
            && !out_inside.as_ref().is_some_and(|o| f.starts_with(o))
    });
    files.sort();
    let reads = solution_reads(&root, &files);
    if !reads.is_empty() {
        let _ = std::fs::remove_dir_all(&out);
        bail!(
            "these lines read files from solutions/, which a released kit does not have (move what they need next to them):\n  {}",
            reads.join("\n  ")
        );
    }

    // Every file keeps its source's modification time (a rewritten
    // manifest, its source manifest's): two releases of the same kit look
    // the same to cargo, so grading runs that each make a fresh clean copy
    // (one per Gradescope submission) reuse the build of its grader crates.
    let mut released = Released::default();
    for file in &files {
        let from = root.join(file);
        let to = out.join(file);
        if file.file_name().is_some_and(|n| n == "Cargo.toml") {
            let text = std::fs::read_to_string(&from)
                .with_context(|| format!("cannot read {}", from.display()))?;
            let dir = file.parent().unwrap_or(Path::new(""));
            let new =
                strip_solutions(&text, dir).with_context(|| format!("in {}", file.display()))?;
            if let Some(dir) = to.parent() {
                std::fs::create_dir_all(dir)?;
            }
            if new.is_some() {
                released.rewritten.push(file.display().to_string());
            }
            std::fs::write(&to, new.unwrap_or(text))?;
            set_mtime(&to, std::fs::metadata(&from)?.modified()?)?;
        } else {
            copy_file(&from, &to, true)?;
        }
        released.files.push(file.display().to_string());
    }

    let template = root.join(WORKFLOW_TEMPLATE);
    if template.is_file() {
        let to = out.join(".github/workflows/grade.yml");
        std::fs::create_dir_all(to.parent().expect("has a parent"))?;
        std::fs::copy(&template, &to)?;
        released
            .files
            .push(".github/workflows/grade.yml".to_string());
    }

    // Drop the solution crates from Cargo.lock (`cargo update --workspace`
    // touches no registry crate). A failure only leaves cargo to do it at first build.
    if out.join("Cargo.lock").is_file() {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_string());
        let status = Command::new(cargo)
            .current_dir(&out)
            .args(["update", "--workspace", "--offline"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        if !status.is_ok_and(|s| s.success()) {
            released
                .warnings
                .push("could not refresh Cargo.lock offline; the first build will".to_string());
        }
    }

    let released_kit = Kit::load(&out)?;
    if let Err(error) = grade::verify_fixtures(&out.join("fixtures"), released_kit.exercises()) {
        released.warnings.push(format!("fixtures: {error}"));
    }
    Ok(released)
}

pub fn run(args: &ReleaseArgs) -> Result<i32> {
    let kit = Kit::locate(args.kit.as_deref())?;
    let released = release(&kit, &args.out, args.force)?;
    println!(
        "Wrote the student kit to {}: {} files, without solutions/ or hidden fixtures.",
        args.out.display(),
        released.files.len()
    );
    for file in &released.rewritten {
        println!("  rewrote {file} (no path into solutions/)");
    }
    for warning in &released.warnings {
        println!("  warning: {warning}");
    }
    println!(
        "Check it: cd {} && cargo run -p grader   (every exercise should be \"not started\")",
        args.out.display()
    );
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instructor_files_stay_home() {
        for path in [
            "solutions/01-attention/src/lib.rs",
            "fixtures-hidden/manifest.yaml",
            "models/all-MiniLM-L6-v2/model.safetensors",
            "target/debug/grader",
            "grader/tests/status-kit/target/debug/x",
            ".git/HEAD",
            ".ci/run",
            "bench/spine.sh",
            "INSTRUCTORS.md",
            "ci-templates/gradescope/setup.sh",
            "fixtures/export/.venv/bin/python",
        ] {
            assert!(is_excluded(Path::new(path)), "{path}");
        }
        for path in [
            "exercises/01-attention/src/lib.rs",
            "fixtures/01-attention/cases.yaml",
            "grader/checks/01-attention/Cargo.toml",
            "grader/tests/status-kit/Cargo.toml",
            "README.md",
            "Cargo.lock",
        ] {
            assert!(!is_excluded(Path::new(path)), "{path}");
        }
    }

    #[test]
    fn reads_of_solution_files_are_found() {
        for line in [
            r##"#[path = "../../../../solutions/08-bert/src/baselines.rs"]"##,
            r##"    const REF: &str = include_str!("../../../solutions/01-attention/src/lib.rs");"##,
            r##"include!( "../solutions/x.rs");"##,
        ] {
            assert!(reads_solutions(line), "{line}");
        }
        for line in [
            r##"// #[path = "../solutions/x.rs"] in a comment"##,
            r##"let path = format!("solutions/{dir}/src/lib.rs");"##,
            r##"format!("#[path = \"../solutions/x.rs\"]")"##,
            r##"include_str!("../fixtures/01/cases.yaml")"##,
        ] {
            assert!(!reads_solutions(line), "{line}");
        }
    }

    #[test]
    fn a_checks_manifest_loses_its_solution_dependency_and_feature() {
        let text = r#"[package]
name = "check-01-attention"

[features]
default = ["exercise"]
# The solution is graded with --features solution.
exercise = ["dep:exercise"]
solution = ["dep:solution"]
both = ["exercise", "solution"]

[dependencies]
candle-core.workspace = true
exercise = { package = "ex01-attention", path = "../../../exercises/01-attention", optional = true }
solution = { package = "sol01-attention", path = "../../../solutions/01-attention", optional = true }
"#;
        let new = strip_solutions(text, Path::new("grader/checks/01-attention"))
            .unwrap()
            .expect("changed");
        assert!(!new.contains("sol01"), "{new}");
        assert!(!new.contains("solution = "), "{new}");
        assert!(new.contains("both = [\"exercise\"]"), "{new}");
        assert!(new.contains("exercise = [\"dep:exercise\"]"), "{new}");
        assert!(
            new.contains("# The solution is graded"),
            "comments stay: {new}"
        );
    }

    #[test]
    fn the_workspace_loses_its_solution_members() {
        let text = "[workspace]\nmembers = [\n    \"grader\",\n    \"exercises/*\",\n    \"solutions/*\",\n]\n";
        let new = strip_solutions(text, Path::new("")).unwrap().unwrap();
        assert!(!new.contains("solutions"), "{new}");
        assert!(new.contains("\"exercises/*\""), "{new}");
        assert_eq!(
            strip_solutions("[package]\nname = \"x\"\n", Path::new("")).unwrap(),
            None
        );
    }

    #[test]
    fn a_solution_dependency_of_a_solution_crate_does_not_confuse() {
        // An exercise crate depends on exercises, never on solutions.
        let text = "[dependencies]\nattention = { package = \"ex01-attention\", path = \"../01-attention\" }\n";
        assert_eq!(
            strip_solutions(text, Path::new("exercises/03-head")).unwrap(),
            None
        );
        let text = "[dependencies]\nattention = { package = \"sol01-attention\", path = \"../01-attention\" }\n";
        assert!(strip_solutions(text, Path::new("solutions/03-head"))
            .unwrap()
            .is_some());
    }
}
