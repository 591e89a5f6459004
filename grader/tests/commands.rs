//! The subcommands (`list`, `hint`, `watch`, `release`, `grade
//! --submission(s)`) run as a student or an instructor would run them, on
//! copies of the status kit (grader/tests/status-kit).
//!
//! Every copy builds into one shared target dir (shared with statuses.rs).
//! Cargo decides freshness by modification times, and the copies share
//! their relative paths, so the tests take turns (`BUILDS`) and touch a
//! copy's exercises before building it: a build can never take another
//! copy's crate for fresh.

mod common;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::sync::mpsc;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use common::{copy_kit, kits_target, manifest_dir, touch};
use grader::catalog::Kit;

static BUILDS: Mutex<()> = Mutex::new(());

fn take_turn() -> MutexGuard<'static, ()> {
    BUILDS.lock().unwrap_or_else(|e| e.into_inner())
}

fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

/// The grader, building into the shared target dir.
fn grader(_kit: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_grader"));
    command.env("CARGO_TARGET_DIR", kits_target());
    command
}

fn text(output: &Output) -> String {
    format!(
        "{}\n--- stderr ---\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

#[test]
fn no_exercise_is_named_like_a_subcommand() {
    let kit = Kit::load(manifest_dir().parent().unwrap()).unwrap();
    grader::settings::check_names(&kit).unwrap();
    let reserved = grader::settings::reserved_names();
    for name in ["list", "hint", "watch", "release", "grade", "help"] {
        assert!(reserved.contains(&name.to_string()), "{name}: {reserved:?}");
    }
    let mut clash = kit.clone();
    clash.info.exercises[0].name = "list".into();
    let error = grader::settings::check_names(&clash)
        .unwrap_err()
        .to_string();
    assert!(error.contains("subcommand"), "{error}");
}

#[test]
fn list_grades_every_exercise_and_names_the_next() {
    let dir = tempfile::tempdir().unwrap();
    let kit = dir.path().join("kit");
    copy_kit(&kit);
    let output = {
        let _turn = take_turn();
        touch(&kit.join("exercises"));
        grader(&kit)
            .args(["list", "--seed", "3", "--kit"])
            .arg(&kit)
            .output()
            .unwrap()
    };
    let out = text(&output);
    assert_eq!(output.status.code(), Some(0), "{out}");
    for line in [
        "01  passes             ✓ passed              10.00 / 10",
        "02  fails              ✗ failed               5.00 / 10",
        "03  todo               · not started          0.00 / 10",
        "08  no-compile         ✗ does not compile",
        "09  blocked            ⏸ blocked",
        "1 of 12 exercises passed, 40.00 / 120 points (seed 3).",
        "Next: 02 fails, in exercises/02-fails/src/lib.rs.",
    ] {
        assert!(out.contains(line), "{line:?} missing from\n{out}");
    }
    // Not a terminal: no progress bar drawn into the output.
    assert!(!out.contains("[="), "{out}");
}

#[test]
fn hints_come_one_at_a_time_and_are_remembered() {
    let dir = tempfile::tempdir().unwrap();
    let kit = dir.path().join("kit");
    copy_kit(&kit);
    write(
        &kit.join("exercises/02-fails/hints.yaml"),
        "hints:\n  - \"Look at the number.\"\n  - \"It is one too small.\"\n  - \"Return 42.\"\n",
    );
    let hint = |args: &[&str]| {
        let output = grader(&kit)
            .arg("hint")
            .args(args)
            .arg("--kit")
            .arg(&kit)
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(0), "{}", text(&output));
        String::from_utf8_lossy(&output.stdout).into_owned()
    };
    assert!(hint(&["02"]).contains("Hint 1 of 3 for 02 fails:\nLook at the number."));
    assert!(hint(&["fails"]).contains("Hint 2 of 3 for 02 fails:\nIt is one too small."));
    let last = hint(&["02-fails"]);
    assert!(
        last.contains("Hint 3 of 3") && last.contains("last hint"),
        "{last}"
    );
    assert!(hint(&["02"]).contains("Hint 3 of 3"));
    let all = hint(&["02", "--all"]);
    assert!(
        all.contains("Hint 1 of 3") && all.contains("Return 42."),
        "{all}"
    );
    assert!(kit.join("target/grader-state.json").is_file());
    hint(&["02", "--reset"]);
    assert!(hint(&["02"]).contains("Hint 1 of 3"));
    // No hints file: a clear error, exit 2.
    let output = grader(&kit)
        .args(["hint", "01", "--kit"])
        .arg(&kit)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(
        text(&output).contains("01-passes/hints.yaml"),
        "{}",
        text(&output)
    );
}

/// Reads a child's stdout lines into a channel.
fn lines_of(child: &mut std::process::Child) -> mpsc::Receiver<String> {
    let (sender, receiver) = mpsc::channel();
    let stdout = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(|l| l.ok()) {
            if sender.send(line).is_err() {
                return;
            }
        }
    });
    receiver
}

/// Waits for a line containing `needle`; returns everything read.
fn wait_for(lines: &mpsc::Receiver<String>, needle: &str, seen: &mut String) -> bool {
    let deadline = Instant::now() + Duration::from_secs(240);
    while Instant::now() < deadline {
        match lines.recv_timeout(Duration::from_millis(200)) {
            Ok(line) => {
                seen.push_str(&line);
                seen.push('\n');
                if line.contains(needle) {
                    return true;
                }
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => return false,
        }
    }
    false
}

#[test]
fn watch_regrades_the_saved_exercise_and_names_the_next() {
    let dir = tempfile::tempdir().unwrap();
    let kit = dir.path().join("kit");
    copy_kit(&kit);
    let _turn = take_turn();
    touch(&kit.join("exercises"));
    let mut child = grader(&kit)
        .args(["watch", "02", "--seed", "1", "--kit"])
        .arg(&kit)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let lines = lines_of(&mut child);
    let mut seen = String::new();
    let ok = wait_for(&lines, "Watching", &mut seen);
    assert!(ok && seen.contains("✗ failed"), "{seen}");
    // Two saves in a row: the second, made while the first may be grading,
    // must not be lost; the last verdict is the one of the last save.
    let file = kit.join("exercises/02-fails/src/lib.rs");
    std::fs::write(&file, "pub fn answer() -> u32 {\n    40\n}\n").unwrap();
    std::thread::sleep(Duration::from_millis(300));
    std::fs::write(&file, "pub fn answer() -> u32 {\n    42\n}\n").unwrap();
    let ok = wait_for(&lines, "02 fails passes. Next: 03 todo", &mut seen);
    let _ = child.kill();
    let _ = child.wait();
    assert!(ok, "{seen}");
    assert!(seen.contains("in exercises/03-todo/src/lib.rs"), "{seen}");
    // Every exercise was graded at the start, before any save.
    let start = &seen[..seen.find("Watching").unwrap()];
    assert!(start.contains("grading every exercise"), "{seen}");
    assert!(start.contains("12  todo-in-prerequisite"), "{seen}");
    // 02's pass re-graded what builds on it and was started (09, blocked
    // until then), not the untouched 11.
    assert!(
        seen.contains("re-grading what builds on it: 09 blocked ────"),
        "{seen}"
    );
    // Saving hints or an unknown file grades nothing.
    assert!(!seen.contains("grading 01"), "{seen}");
}

#[test]
fn a_case_is_graded_even_when_what_it_builds_on_fails() {
    let dir = tempfile::tempdir().unwrap();
    let kit = dir.path().join("kit");
    copy_kit(&kit);
    // 09 builds on 02, which fails: a full run blocks 09, one case does not.
    let run = |format: &str| {
        let _turn = take_turn();
        touch(&kit.join("exercises"));
        let output = grader(&kit)
            .args([
                "09",
                "--case",
                "answer-is-42",
                "--seed",
                "3",
                "--timeout",
                "20",
            ])
            .args(["--format", format, "--kit"])
            .arg(&kit)
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(0), "{}", text(&output));
        String::from_utf8_lossy(&output.stdout).into_owned()
    };
    let human = run("human");
    assert!(human.contains("09  blocked            ✓ passed"), "{human}");
    assert!(
        human.contains("note: --case grades this case alone, not what it builds on (02 fails"),
        "{human}"
    );
    let json: serde_json::Value = serde_json::from_str(&run("json")).unwrap();
    let exercise = &json["exercises"][0];
    assert_eq!(exercise["status"], "passed");
    assert_eq!(
        exercise["rerun"],
        "cargo run -p grader -- 09 --case answer-is-42 --seed 3 --timeout 20"
    );
}

/// A status-kit copy shaped like the real kit: a solution crate for 01
/// that its checks can link with `--features solution`, a hidden fixture
/// set, a model folder and build output.
fn instructor_kit(root: &Path) {
    copy_kit(root);
    let manifest = root.join("Cargo.toml");
    let text = std::fs::read_to_string(&manifest).unwrap().replace(
        "members = [\"exercises/*\", \"grader/checks/*\"]",
        "members = [\"exercises/*\", \"grader/checks/*\", \"solutions/*\"]",
    );
    std::fs::write(&manifest, text).unwrap();
    write(
        &root.join("solutions/01-passes/Cargo.toml"),
        "[package]\nname = \"sol01-passes\"\nversion = \"0.1.0\"\nedition = \"2021\"\npublish = false\n",
    );
    write(
        &root.join("solutions/01-passes/src/lib.rs"),
        "/// The reference.\npub fn answer() -> u32 {\n    42\n}\n",
    );
    write(
        &root.join("grader/checks/01-passes/Cargo.toml"),
        r#"[package]
name = "check-01-passes"
version = "0.1.0"
edition = "2021"
publish = false

[features]
default = ["exercise"]
exercise = ["dep:exercise"]
# The reference, graded with --no-default-features --features solution.
solution = ["dep:solution"]

[dependencies]
grader-kit.workspace = true
exercise = { package = "ex01-passes", path = "../../../exercises/01-passes", optional = true }
solution = { package = "sol01-passes", path = "../../../solutions/01-passes", optional = true }
"#,
    );
    let main = root.join("grader/checks/01-passes/src/main.rs");
    let text = std::fs::read_to_string(&main).unwrap();
    write(
        &main,
        &format!(
            "#[cfg(feature = \"exercise\")]\nuse exercise as ex;\n#[cfg(feature = \"solution\")]\nuse solution as ex;\n{}",
            text.replace("exercise::", "ex::")
        ),
    );
    write(
        &root.join("fixtures-hidden/manifest.yaml"),
        "format: 1\ngenerator: x\ncommand: x\nseed: 9\nhidden: true\nfiles: {}\n",
    );
    write(&root.join("models/tiny/model.safetensors"), "weights");
    write(&root.join("target/debug/junk"), "junk");
    write(&root.join("INSTRUCTORS.md"), "# For instructors\n");
}

#[test]
fn release_writes_a_kit_without_solutions_that_builds_and_grades() {
    let dir = tempfile::tempdir().unwrap();
    let kit = dir.path().join("kit");
    instructor_kit(&kit);
    let out = dir.path().join("student-kit");
    let _turn = take_turn();
    touch(&kit.join("exercises"));
    touch(&kit.join("solutions"));
    // The instructor's kit grades its solution.
    let output = grader(&kit)
        .args(["01", "--solutions", "--seed", "1", "--kit"])
        .arg(&kit)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));

    let output = grader(&kit)
        .args(["release", "--kit"])
        .arg(&kit)
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    for gone in [
        "solutions",
        "fixtures-hidden",
        "models",
        "target",
        "INSTRUCTORS.md",
    ] {
        assert!(!out.join(gone).exists(), "{gone} was released");
    }
    for kept in [
        "exercises/info.yaml",
        "exercises/03-todo/src/lib.rs",
        "fixtures/manifest.yaml",
        "grader/checks/01-passes/src/main.rs",
    ] {
        assert!(out.join(kept).is_file(), "{kept} is missing");
    }
    let root_manifest = std::fs::read_to_string(out.join("Cargo.toml")).unwrap();
    assert!(!root_manifest.contains("solutions"), "{root_manifest}");
    let checks = std::fs::read_to_string(out.join("grader/checks/01-passes/Cargo.toml")).unwrap();
    assert!(
        !checks.contains("sol01") && !checks.contains("dep:solution"),
        "{checks}"
    );

    // The released kit builds and grades; it has no solutions to grade.
    touch(&out.join("exercises"));
    let output = grader(&out)
        .args(["01", "03", "--seed", "1", "--kit"])
        .arg(&out)
        .output()
        .unwrap();
    let report = text(&output);
    assert_eq!(output.status.code(), Some(1), "{report}");
    assert!(
        report.contains("✓ passed") && report.contains("· not started"),
        "{report}"
    );
    let output = grader(&out)
        .args(["--solutions", "--kit"])
        .arg(&out)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(text(&output).contains("no solutions/"), "{}", text(&output));

    // A second release into the same folder needs --force.
    let output = grader(&kit)
        .args(["release", "--kit"])
        .arg(&kit)
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2), "{}", text(&output));
}

#[test]
fn release_refuses_a_kit_that_would_hand_out_answers_or_need_solutions() {
    let dir = tempfile::tempdir().unwrap();
    let kit = dir.path().join("kit");
    instructor_kit(&kit);
    let release = |out: &str| {
        grader(&kit)
            .args(["release", "--kit"])
            .arg(&kit)
            .arg("--out")
            .arg(dir.path().join(out))
            .output()
            .unwrap()
    };
    // An exercise that is its solution.
    std::fs::copy(
        kit.join("solutions/01-passes/src/lib.rs"),
        kit.join("exercises/01-passes/src/lib.rs"),
    )
    .unwrap();
    let output = release("a");
    assert_eq!(output.status.code(), Some(2));
    assert!(
        text(&output).contains("same as their solutions"),
        "{}",
        text(&output)
    );
    std::fs::write(
        kit.join("exercises/01-passes/src/lib.rs"),
        "pub fn answer() -> u32 {\n    todo!()\n}\n",
    )
    .unwrap();
    // A worker that reads a file of solutions/.
    let main = kit.join("grader/checks/02-fails/src/main.rs");
    let text_before = std::fs::read_to_string(&main).unwrap();
    std::fs::write(
        &main,
        format!("#[path = \"../../../../solutions/01-passes/src/lib.rs\"]\nmod reference;\n{text_before}"),
    )
    .unwrap();
    let output = release("b");
    assert_eq!(output.status.code(), Some(2));
    assert!(
        text(&output).contains("read files from solutions/"),
        "{}",
        text(&output)
    );
    assert!(!dir.path().join("b").join("exercises").exists());
}

/// The submissions of a class: an honest fix, and one cheat each.
fn class(root: &Path) {
    let submission = |name: &str| {
        let dir = root.join(name);
        copy_kit(&dir);
        dir
    };
    // Fixed 02 honestly.
    let honest = submission("honest");
    write(
        &honest.join("exercises/02-fails/src/lib.rs"),
        "pub fn answer() -> u32 {\n    42\n}\n",
    );
    // Made the check of 02 accept anything.
    let grader_edit = submission("edits-grader");
    let main = grader_edit.join("grader/checks/02-fails/src/main.rs");
    let text = std::fs::read_to_string(&main)
        .unwrap()
        .replace("got == 42", "true");
    write(&main, &text);
    // Rewrote the fixtures of 02 (and their manifest, so they verify).
    let fixtures = submission("edits-fixtures");
    write(&fixtures.join("fixtures/02-fails/cases.yaml"), "forged\n");
    let manifest = fixtures.join("fixtures/manifest.yaml");
    let text = std::fs::read_to_string(&manifest).unwrap().replace(
        "4f937a6839ce588cede46f18f12e5bd92374cbbec4fe39898b19f3e8af04b64c",
        "0000000000000000000000000000000000000000000000000000000000000000",
    );
    write(&manifest, &text);
    // Added a dependency that answers for it: exercise 01's crate, which
    // is in every copy of the kit, so the cheat would work if honored.
    let dependency = submission("adds-dependency");
    let manifest = dependency.join("exercises/02-fails/Cargo.toml");
    let text = std::fs::read_to_string(&manifest).unwrap()
        + "\n[dependencies]\npasses = { package = \"ex01-passes\", path = \"../01-passes\" }\n";
    write(&manifest, &text);
    write(
        &dependency.join("exercises/02-fails/src/lib.rs"),
        "pub fn answer() -> u32 {\n    passes::answer()\n}\n",
    );
    // Added a build script that switches the answer on.
    let build = submission("adds-build-script");
    write(
        &build.join("exercises/02-fails/build.rs"),
        "fn main() {\n    println!(\"cargo::rustc-check-cfg=cfg(cheat)\");\n    println!(\"cargo::rustc-cfg=cheat\");\n}\n",
    );
    write(
        &build.join("exercises/02-fails/src/lib.rs"),
        "pub fn answer() -> u32 {\n    if cfg!(cheat) { 42 } else { 41 }\n}\n",
    );
}

#[test]
fn a_class_is_graded_and_no_cheat_changes_a_grade() {
    let dir = tempfile::tempdir().unwrap();
    let kit = dir.path().join("kit");
    copy_kit(&kit);
    let submissions = dir.path().join("submissions");
    class(&submissions);
    let out = dir.path().join("graded");
    let _turn = take_turn();

    // Without the protection the build-script cheat would pass: graded as
    // its own kit, its 02 passes.
    let cheat = submissions.join("adds-build-script");
    touch(&cheat.join("exercises"));
    let output = grader(&cheat)
        .args(["02", "--seed", "1", "--kit"])
        .arg(&cheat)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));

    let output = grader(&kit)
        .args(["grade", "01", "02", "--seed", "1", "--jobs", "2", "--kit"])
        .arg(&kit)
        .arg("--submissions")
        .arg(&submissions)
        .arg("--out")
        .arg(&out)
        .arg("--work")
        .arg(dir.path().join("work"))
        .arg("--cargo-target")
        .arg(kits_target())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    let gradebook = std::fs::read_to_string(out.join("gradebook.csv")).unwrap();
    let rows: Vec<Vec<&str>> = gradebook.lines().map(|l| l.split(',').collect()).collect();
    assert_eq!(
        rows[0][..7],
        [
            "student",
            "score",
            "max_score",
            "01-passes",
            "02-fails",
            "01-passes status",
            "02-fails status"
        ]
    );
    let row = |student: &str| {
        rows.iter()
            .find(|r| r[0] == student)
            .unwrap_or_else(|| panic!("{student} missing from\n{gradebook}"))
            .clone()
    };
    assert_eq!(
        row("honest")[1..7],
        ["20.00", "20", "10.00", "10.00", "passed", "passed"]
    );
    for cheat in ["edits-grader", "edits-fixtures", "adds-build-script"] {
        assert_eq!(
            row(cheat)[4..7],
            ["5.00", "passed", "failed"],
            "{cheat}\n{gradebook}"
        );
    }
    assert_eq!(
        row("adds-dependency")[4..7],
        ["0.00", "passed", "does not compile"],
        "{gradebook}"
    );
    // Every student gets every report.
    for student in [
        "honest",
        "edits-grader",
        "edits-fixtures",
        "adds-dependency",
        "adds-build-script",
    ] {
        for file in [
            "results.json",
            "report.json",
            "junit.xml",
            "report.txt",
            "staging.txt",
        ] {
            assert!(out.join(student).join(file).is_file(), "{student}/{file}");
        }
    }
    let results: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("honest/results.json")).unwrap())
            .unwrap();
    assert_eq!(results["score"], 20.0);
    let staging = std::fs::read_to_string(out.join("adds-build-script/staging.txt")).unwrap();
    assert!(
        staging.contains("  exercises/02-fails/src/lib.rs\n"),
        "{staging}"
    );
    assert!(
        staging.contains("  exercises/02-fails/build.rs\n"),
        "{staging}"
    );
    let compile = std::fs::read_to_string(out.join("adds-dependency/report.txt")).unwrap();
    assert!(
        compile.contains("exercises/02-fails/src/lib.rs"),
        "{compile}"
    );
}

#[test]
fn one_submission_gets_every_report() {
    let dir = tempfile::tempdir().unwrap();
    let kit = dir.path().join("kit");
    copy_kit(&kit);
    // An unpacked archive: the checkout is one folder down.
    let submission = dir.path().join("upload");
    copy_kit(&submission.join("attention-kit-main"));
    write(
        &submission.join("attention-kit-main/exercises/03-todo/src/lib.rs"),
        "pub fn answer() -> u32 {\n    42\n}\n",
    );
    let out = dir.path().join("results");
    let _turn = take_turn();
    let output = grader(&kit)
        .args(["grade", "03", "--seed", "1", "--kit"])
        .arg(&kit)
        .arg("--submission")
        .arg(&submission)
        .arg("--out")
        .arg(&out)
        .arg("--work")
        .arg(dir.path().join("work"))
        .arg("--cargo-target")
        .arg(kits_target())
        .output()
        .unwrap();
    let report = text(&output);
    assert_eq!(output.status.code(), Some(0), "{report}");
    let results: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("results.json")).unwrap()).unwrap();
    assert_eq!(results["score"], 10.0, "{results}");
    assert_eq!(results["tests"][0]["status"], "passed", "{results}");
    let junit = std::fs::read_to_string(out.join("junit.xml")).unwrap();
    assert!(junit.contains("<testsuite name=\"03 todo\""), "{junit}");
    // The kit's own target dir is refused as the shared cache.
    let output = grader(&kit)
        .args(["grade", "03", "--kit"])
        .arg(&kit)
        .arg("--submission")
        .arg(&submission)
        .arg("--cargo-target")
        .arg(kit.join("target"))
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2), "{}", text(&output));
}

/// Every long flag that the CI templates and the bench scripts pass to the
/// grader is one the grader has: they cannot drift from the command line.
#[test]
fn the_templates_pass_flags_the_grader_has() {
    use clap::CommandFactory;
    let cli = grader::cli::Cli::command();
    let mut flags: Vec<String> = cli
        .get_arguments()
        .filter_map(|a| a.get_long().map(str::to_string))
        .collect();
    for sub in cli.get_subcommands() {
        flags.extend(
            sub.get_arguments()
                .filter_map(|a| a.get_long().map(str::to_string)),
        );
    }
    let root = manifest_dir().parent().unwrap().to_path_buf();
    let mut checked = 0;
    // A released kit has the workflow but not the instructor's templates.
    let instructor = root.join("ci-templates").is_dir();
    for file in [
        ".github/workflows/grade.yml",
        "ci-templates/github-actions/grade.yml",
        "ci-templates/gradescope/setup.sh",
        "ci-templates/gradescope/run_autograder",
        "ci-templates/gradescope/make-autograder.sh",
        "bench/batch-grading.sh",
        "bench/watch-latency.sh",
    ] {
        let Ok(text) = std::fs::read_to_string(root.join(file)) else {
            continue;
        };
        let text = text.replace("\\\n", " ");
        for line in text.lines().filter(|l| !l.trim_start().starts_with('#')) {
            let lower = line.to_lowercase();
            let Some(at) = lower.find("grader").or_else(|| lower.find("grade --")) else {
                continue;
            };
            for token in line[at..].split_whitespace() {
                let Some(name) = token.strip_prefix("--") else {
                    continue;
                };
                let name = name.split('=').next().unwrap();
                if name.is_empty() {
                    continue;
                }
                assert!(
                    flags.iter().any(|f| f == name),
                    "{file}: --{name} is not a grader flag:\n{line}"
                );
                checked += 1;
            }
        }
    }
    let enough = if instructor { 20 } else { 2 };
    assert!(
        checked >= enough,
        "only {checked} flags found: is the search broken?"
    );
}

/// The copies share relative paths and one target dir, and cargo judges
/// freshness by file times: a student who did not submit exercise 02 must
/// get the stub's build, not the previous student's passing one.
#[test]
fn a_student_never_gets_another_students_build() {
    let dir = tempfile::tempdir().unwrap();
    let kit = dir.path().join("kit");
    copy_kit(&kit);
    let submissions = dir.path().join("submissions");
    write(
        &submissions.join("a-fixes-02/exercises/02-fails/src/lib.rs"),
        "pub fn answer() -> u32 {\n    42\n}\n",
    );
    write(
        &submissions.join("b-submits-01-only/exercises/01-passes/src/lib.rs"),
        "pub fn answer() -> u32 {\n    42\n}\n",
    );
    let out = dir.path().join("graded");
    let _turn = take_turn();
    let output = grader(&kit)
        .args(["grade", "01", "02", "--seed", "1", "--jobs", "1", "--kit"])
        .arg(&kit)
        .arg("--submissions")
        .arg(&submissions)
        .arg("--out")
        .arg(&out)
        .arg("--work")
        .arg(dir.path().join("work"))
        .arg("--cargo-target")
        .arg(kits_target())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    let gradebook = std::fs::read_to_string(out.join("gradebook.csv")).unwrap();
    assert!(
        gradebook.contains("\na-fixes-02,20.00,20,10.00,10.00,passed,passed,"),
        "{gradebook}"
    );
    assert!(
        gradebook.contains("\nb-submits-01-only,15.00,20,10.00,5.00,passed,failed,"),
        "{gradebook}"
    );
}

/// Two checkouts of the kit sharing one cargo target dir: cargo decides
/// freshness by modification times, so after B builds, A's unchanged files
/// look fresh and A would run B's worker. The launcher checks where each
/// worker was built from (cargo's dep-info) and rebuilds A's.
#[test]
fn two_checkouts_sharing_a_target_never_run_each_others_workers() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    copy_kit(&a);
    copy_kit(&b);
    write(
        &b.join("exercises/01-passes/src/lib.rs"),
        "pub fn answer() -> u32 {\n    41\n}\n",
    );
    let _turn = take_turn();
    let score = |kit: &Path| {
        let report = dir.path().join("report.json");
        let output = grader(kit)
            .args(["01", "--seed", "1", "--format", "json", "--kit"])
            .arg(kit)
            .arg("--output")
            .arg(&report)
            .output()
            .unwrap();
        let json: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&report).unwrap_or_default())
                .unwrap_or_else(|_| panic!("no report: {}", text(&output)));
        json["exercises"][0]["status"].as_str().unwrap().to_string()
    };
    assert_eq!(score(&a), "passed");
    assert_eq!(score(&b), "failed");
    // A's files are older than B's build: without the check, A runs B's worker.
    assert_eq!(score(&a), "passed");
    assert_eq!(score(&b), "failed");
}
