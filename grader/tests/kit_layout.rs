//! The kit's own files agree with each other: every exercise in
//! info.yaml has its crates and hints, each exercise file mirrors its
//! solution outside function bodies, and the README's table matches info.yaml.

use std::path::{Path, PathBuf};

use grader::catalog::Kit;

fn kit() -> Kit {
    Kit::load(&root()).unwrap()
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// The file with every fn body replaced by `{ .. }`, so that an exercise
/// and its solution compare equal when they differ only inside bodies.
/// `#[path]` lines are left out: a solution names the exercise's given
/// file from its own folder.
fn without_bodies(source: &str) -> String {
    let lines: Vec<&str> = source
        .lines()
        .filter(|l| !l.starts_with("#[path = "))
        .collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let trimmed = lines[i].trim_start();
        let is_fn = [
            "fn ",
            "pub fn ",
            "pub(crate) fn ",
            "pub const fn ",
            "const fn ",
        ]
        .iter()
        .any(|p| trimmed.starts_with(p));
        if is_fn && !trimmed.trim_end().ends_with(';') {
            let mut depth = 0i32;
            let mut signature = String::new();
            let mut seen_open = false;
            while i < lines.len() {
                let line = lines[i];
                if !seen_open {
                    signature.push_str(line.split('{').next().unwrap_or(line));
                    signature.push('\n');
                }
                depth += line.matches('{').count() as i32 - line.matches('}').count() as i32;
                seen_open |= line.contains('{');
                i += 1;
                if seen_open && depth <= 0 {
                    break;
                }
            }
            out.push(format!("{}{{ .. }}", signature.trim_end()));
            continue;
        }
        out.push(lines[i].to_string());
        i += 1;
    }
    out.join("\n")
}

#[test]
fn every_exercise_has_its_crates_and_hints() {
    let kit = kit();
    for exercise in kit.exercises() {
        let dir = &exercise.dir;
        for path in [
            format!("exercises/{dir}/src/lib.rs"),
            format!("exercises/{dir}/Cargo.toml"),
            format!("grader/checks/{dir}/Cargo.toml"),
        ] {
            assert!(root().join(&path).is_file(), "{path} is missing");
        }
        if kit.has_solutions() {
            let path = format!("solutions/{dir}/src/lib.rs");
            assert!(root().join(&path).is_file(), "{path} is missing");
        }
        let hints = root().join(format!("exercises/{dir}/hints.yaml"));
        let text = std::fs::read_to_string(&hints)
            .unwrap_or_else(|_| panic!("{} is missing", hints.display()));
        let parsed: serde_yaml::Value = serde_yaml::from_str(&text).unwrap();
        let count = parsed["hints"].as_sequence().map_or(0, |h| h.len());
        assert!(
            count >= 2,
            "{} should hold at least two hints",
            hints.display()
        );
    }
}

#[test]
fn exercises_differ_from_solutions_only_inside_function_bodies() {
    let kit = kit();
    if !kit.has_solutions() {
        return; // a released student kit
    }
    for exercise in kit.exercises() {
        let src = |side: &str| root().join(side).join(&exercise.dir).join("src");
        for entry in walk(&src("solutions")) {
            let relative = entry.strip_prefix(src("solutions")).unwrap();
            let stub = src("exercises").join(relative);
            let solution = std::fs::read_to_string(&entry).unwrap();
            let exercise_text = std::fs::read_to_string(&stub).unwrap_or_else(|_| {
                panic!(
                    "{} has no exercise twin {}",
                    entry.display(),
                    stub.display()
                )
            });
            let (a, b) = (without_bodies(&solution), without_bodies(&exercise_text));
            if a != b {
                let line = a
                    .lines()
                    .zip(b.lines())
                    .position(|(x, y)| x != y)
                    .unwrap_or(a.lines().count().min(b.lines().count()));
                panic!(
                    "{} and {} differ outside function bodies, near this line of the solution (bodies elided):\n{}",
                    entry.display(),
                    stub.display(),
                    a.lines().nth(line).unwrap_or("<end of file>")
                );
            }
        }
    }
}

#[test]
fn given_code_exists_once() {
    // Code an exercise gives is written once: the solution (and, for 08's
    // baselines, the judge) compile the exercise's file through `#[path]`.
    // 01's matmul, 08's baselines and 10's loading live outside `src/`, where a
    // submission's copy is never taken, since the judge or every later
    // exercise relies on them.
    for (given, users) in [
        (
            "exercises/01-attention/given/matmul.rs",
            &[
                "exercises/01-attention/src/lib.rs",
                "solutions/01-attention/src/lib.rs",
            ][..],
        ),
        (
            "exercises/08-bert/given/baselines.rs",
            &[
                "exercises/08-bert/src/lib.rs",
                "solutions/08-bert/src/lib.rs",
                "grader/checks/08-bert/src/lib.rs",
            ][..],
        ),
        (
            "exercises/09-flash-attention/src/kernels.rs",
            &["solutions/09-flash-attention/src/lib.rs"][..],
        ),
        (
            "exercises/10-gpt/given/loading.rs",
            &["exercises/10-gpt/src/lib.rs", "solutions/10-gpt/src/lib.rs"][..],
        ),
    ] {
        assert!(root().join(given).is_file(), "{given} is missing");
        let name = Path::new(given).file_name().unwrap().to_str().unwrap();
        // A released student kit has no solutions/.
        let has_solutions = kit().has_solutions();
        for user in users
            .iter()
            .filter(|u| has_solutions || !u.starts_with("solutions/"))
        {
            let text = std::fs::read_to_string(root().join(user)).unwrap();
            let path_line = text
                .lines()
                .find(|l| l.starts_with("#[path = ") && l.contains(name))
                .unwrap_or_else(|| panic!("{user} should compile {given} through #[path]"));
            let relative = path_line
                .trim_start_matches("#[path = \"")
                .trim_end_matches("\"]");
            let resolved = root().join(user).parent().unwrap().join(relative);
            assert_eq!(
                std::fs::canonicalize(&resolved).ok(),
                std::fs::canonicalize(root().join(given)).ok(),
                "{user}: {path_line} should name {given}"
            );
        }
    }
    for copy in [
        "solutions/08-bert/src/baselines.rs",
        "grader/checks/08-bert/src/baselines.rs",
        "solutions/09-flash-attention/src/kernels.rs",
    ] {
        assert!(
            !root().join(copy).exists(),
            "{copy} is a second copy of given code"
        );
    }
}

#[test]
fn the_body_stripper_sees_only_bodies() {
    let solution = "/// doc\npub fn f(x: u32) -> u32 {\n    x + 1\n}\nconst A: u32 = 1;\n";
    let stub = "/// doc\npub fn f(x: u32) -> u32 {\n    todo!()\n}\nconst A: u32 = 1;\n";
    assert_eq!(without_bodies(solution), without_bodies(stub));
    let changed_doc =
        "/// other doc\npub fn f(x: u32) -> u32 {\n    todo!()\n}\nconst A: u32 = 1;\n";
    assert_ne!(without_bodies(solution), without_bodies(changed_doc));
    let changed_signature =
        "/// doc\npub fn f(x: u64) -> u32 {\n    todo!()\n}\nconst A: u32 = 1;\n";
    assert_ne!(without_bodies(solution), without_bodies(changed_signature));
}

#[test]
fn the_readme_table_matches_info_yaml() {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    for exercise in kit().exercises() {
        let builds_on = exercise.builds_on.join(", ");
        let row = format!(
            "| {} | {} | {} | {} |",
            exercise.id, exercise.title, builds_on, exercise.points
        )
        .replace("|  |", "| |");
        assert!(
            readme.contains(&row),
            "README.md's exercise table should have the row\n{row}\n(keep it in step with exercises/info.yaml)"
        );
    }
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut files = vec![];
    if let Ok(entries) = std::fs::read_dir(dir) {
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                files.extend(walk(&path));
            } else if path.extension().is_some_and(|e| e == "rs") {
                files.push(path);
            }
        }
    }
    files
}
