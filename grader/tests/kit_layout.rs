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
fn no_exercise_crate_builds_a_test_binary() {
    // Each of these crates links candle and has no tests of its own (the
    // lessons' code blocks are text): `cargo test --workspace` must neither
    // build and link a test harness of it nor run rustdoc on it.
    let kit = kit();
    for exercise in kit.exercises() {
        let dir = &exercise.dir;
        let mut crates = vec![format!("exercises/{dir}"), format!("grader/checks/{dir}")];
        if kit.has_solutions() {
            crates.push(format!("solutions/{dir}"));
        }
        if kit.has_adapter(exercise) {
            crates.push(format!("grader/adapters/{dir}"));
        }
        for folder in crates {
            let manifest = format!("{folder}/Cargo.toml");
            let text = std::fs::read_to_string(root().join(&manifest)).unwrap();
            let doc: toml_edit::DocumentMut = text.parse().unwrap();
            let flag =
                |table: &toml_edit::Item, key: &str| table.get(key).and_then(|v| v.as_bool());
            match doc.get("lib") {
                Some(lib) => {
                    for key in ["test", "doctest"] {
                        assert_eq!(
                            flag(lib, key),
                            Some(false),
                            "{manifest}: [lib] needs {key} = false"
                        );
                    }
                }
                None => assert!(
                    !root().join(&folder).join("src/lib.rs").exists(),
                    "{manifest}: its src/lib.rs needs a [lib] with test = false and doctest = false"
                ),
            }
            let bins = doc.get("bin").and_then(|b| b.as_array_of_tables());
            for bin in bins.into_iter().flat_map(|b| b.iter()) {
                let name = bin.get("name").and_then(|n| n.as_str()).unwrap_or("?");
                assert_eq!(
                    bin.get("test").and_then(|v| v.as_bool()),
                    Some(false),
                    "{manifest}: [[bin]] {name} needs test = false"
                );
            }
            if bins.is_none() {
                assert!(
                    !root().join(&folder).join("src/main.rs").exists(),
                    "{manifest}: its src/main.rs needs a [[bin]] with test = false"
                );
            }
        }
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

/// The module a file of `src` is (`instructor::batch`, `report` for
/// `report/mod.rs`); `None` for the crate root and the bins.
fn module_of(src: &Path, file: &Path) -> Option<String> {
    let relative = file.strip_prefix(src).ok()?.with_extension("");
    let mut parts: Vec<String> = relative
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if parts.last().is_some_and(|p| p == "mod") {
        parts.pop();
    }
    match parts.first().map(String::as_str) {
        None | Some("lib" | "main" | "bin") => None,
        _ => Some(parts.join("::")),
    }
}

/// The paths a source names through `crate::` or `super::` (`super::` as
/// seen from `module`), outside comments, with `crate::{a, b::c}` split.
fn named_paths(text: &str, module: &str) -> Vec<String> {
    let parent = module.rsplit_once("::").map_or("", |(p, _)| p);
    let code: String = text
        .lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .map(|l| format!("{l}\n"))
        .collect();
    let path_at = |rest: &str| -> String {
        rest.chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == ':')
            .collect::<String>()
            .trim_end_matches(':')
            .to_string()
    };
    let mut paths = vec![];
    for (prefix, base) in [("crate::", ""), ("super::", parent)] {
        for (at, _) in code.match_indices(prefix) {
            let before = code[..at].chars().last();
            if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':') {
                continue;
            }
            let rest = &code[at + prefix.len()..];
            let items = match rest.strip_prefix('{') {
                // `{a::{x, y}, b}`: the first path of each top-level item.
                Some(group) => {
                    let (mut depth, mut items, mut item) = (0, vec![], String::new());
                    for c in group.chars() {
                        match c {
                            '{' => depth += 1,
                            '}' if depth == 0 => break,
                            '}' => depth -= 1,
                            ',' if depth == 0 => items.push(std::mem::take(&mut item)),
                            _ => {}
                        }
                        item.push(c);
                    }
                    items.push(item);
                    items
                        .iter()
                        .map(|i| path_at(i.trim_start_matches([',', ' ', '\n'])))
                        .collect()
                }
                None => vec![path_at(rest)],
            };
            for item in items.into_iter().filter(|i| !i.is_empty()) {
                paths.push(if base.is_empty() {
                    item
                } else {
                    format!("{base}::{item}")
                });
            }
        }
    }
    paths
}

/// The first import circle among the modules of `src`, if any: module A
/// names B (through `crate::` or `super::`), B names … A. A module's own
/// children (declared in its `mod.rs`) do not count as its imports.
fn import_circle(src: &Path) -> Option<Vec<String>> {
    use std::collections::{BTreeMap, BTreeSet};
    let mut files: BTreeMap<String, String> = BTreeMap::new();
    for file in walk(src) {
        if let Some(module) = module_of(src, &file) {
            let text = std::fs::read_to_string(&file).unwrap();
            files.entry(module).or_default().push_str(&text);
        }
    }
    let modules: BTreeSet<String> = files.keys().cloned().collect();
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (module, text) in &files {
        for path in named_paths(text, module) {
            // The longest module the path starts with.
            let segments: Vec<&str> = path.split("::").collect();
            let target = (1..=segments.len())
                .rev()
                .map(|n| segments[..n].join("::"))
                .find(|m| modules.contains(m));
            if let Some(target) = target {
                let child = target.starts_with(&format!("{module}::"));
                if target != *module && !child {
                    edges.entry(module.clone()).or_default().insert(target);
                }
            }
        }
    }
    fn visit(
        node: &str,
        edges: &BTreeMap<String, BTreeSet<String>>,
        done: &mut BTreeSet<String>,
        stack: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        if let Some(at) = stack.iter().position(|n| n == node) {
            let mut circle = stack[at..].to_vec();
            circle.push(node.to_string());
            return Some(circle);
        }
        if done.contains(node) {
            return None;
        }
        stack.push(node.to_string());
        for next in edges.get(node).into_iter().flatten() {
            if let Some(circle) = visit(next, edges, done, stack) {
                return Some(circle);
            }
        }
        stack.pop();
        done.insert(node.to_string());
        None
    }
    let mut done = BTreeSet::new();
    modules
        .iter()
        .find_map(|m| visit(m, &edges, &mut done, &mut vec![]))
}

#[test]
fn the_launcher_and_the_kit_have_no_import_circles() {
    for src in ["grader/src", "grader/kit/src"] {
        if let Some(circle) = import_circle(&root().join(src)) {
            panic!(
                "{src} has an import circle: {}; move what both need into a module below them",
                circle.join(" -> ")
            );
        }
    }
}

#[test]
fn an_import_circle_is_found() {
    let dir = std::env::temp_dir().join(format!("kit-layout-circle-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("outer")).unwrap();
    let files = [
        ("lib.rs", "mod a;\nmod outer;\n"),
        ("a.rs", "use crate::{outer::b, x};\n"),
        ("outer/mod.rs", "mod b;\nmod c;\n"),
        (
            "outer/b.rs",
            "// crate::a in a comment is no import\nuse super::c::f;\n",
        ),
        ("outer/c.rs", "pub fn f() { crate::a::g() }\n"),
    ];
    for (name, text) in files {
        std::fs::write(dir.join(name), text).unwrap();
    }
    let circle = import_circle(&dir);
    std::fs::write(dir.join("outer/c.rs"), "pub fn f() {}\n").unwrap();
    let none = import_circle(&dir);
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(
        circle,
        Some(vec![
            "a".to_string(),
            "outer::b".to_string(),
            "outer::c".to_string(),
            "a".to_string()
        ])
    );
    assert_eq!(none, None);
}
