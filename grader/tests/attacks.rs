//! Attacks as tests (issue 10, part 4): a class of dishonest submissions of
//! exercise 01, graded in one `grade --submissions` run of the real grader
//! on this kit, next to honest students. Each attack must earn exactly what
//! its honest code earns, with a clear status and message; the grader must
//! not crash, and the honest students of the batch keep their grades.
//!
//! The submissions' sources are grader/tests/attacks/common.rs followed by
//! one attack file of that folder, with absolute paths filled in.
//!
//! Builds go to a persistent target dir, `attack-target` beside the test's
//! own target dir (`CARGO_TARGET_DIR` when set, else the kit's `target/`):
//! only the first run compiles candle.
//!
//! Where this machine cannot confine the student (no Landlock: an old
//! kernel; not root: no uid drop), the rows that depend on it assert the
//! report's isolation warning or the protection it names instead.
//!
//! `ATTACKS_KEEP=1` keeps the temp dir (submissions, reports, staged copies).
//!
//! Its first run compiles candle into that target dir (minutes on two
//! cores), so `cargo test --workspace` leaves it out (`#[ignore]`) to keep
//! the README's loop quick; `.ci/run` runs it on every change:
//! `cargo test -p grader --test attacks -- --ignored`.

use std::fs;
use std::net::TcpListener;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

mod common;
use common::copy_dir;

/// Seed of the property checks (any would do).
const SEED: &str = "4242";
/// The time limit of every run: the fork bomb ends there.
const TIMEOUT_SECS: u64 = 20;
/// The longest the whole `grade` may take: a cold build of candle on two
/// busy cores took 11 minutes.
const GRADE_DEADLINE: Duration = Duration::from_secs(40 * 60);
/// The honest student whose reports and staged copy writes-out goes after.
const VICTIM: &str = "honest-full";
const WARNING: &str = "WARNING: isolation was not available";

fn kit() -> PathBuf {
    let grader = Path::new(env!("CARGO_MANIFEST_DIR"));
    fs::canonicalize(grader.parent().expect("grader/ is in the kit")).unwrap()
}

/// `<target>/attack-target`, `<target>` being the dir this test was built
/// in (so `CARGO_TARGET_DIR`-aware): never the kit's own target dir, which
/// the grader refuses.
fn attack_target() -> PathBuf {
    let tmp = Path::new(env!("CARGO_TARGET_TMPDIR"));
    tmp.parent()
        .expect("CARGO_TARGET_TMPDIR is <target>/tmp")
        .join("attack-target")
}

fn attack_source(file: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/attacks")
        .join(file);
    fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// What a submission should get.
#[derive(Clone, Copy, Debug)]
enum Score {
    Exactly(f64),
    /// What honest-partial (a correct softmax, todo!() elsewhere) gets.
    AsHonestPartial,
}

/// Where the sandbox's refusal must show: as the error it caused, in the
/// student's own words (rustc's, or their code's). No status is read from
/// that text: the report only passes it on.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Blocked {
    /// The exercise's summary (a compile error) names the refusal.
    Summary,
    /// Some check's message names the refusal.
    Checks,
    No,
}

/// How Rust's io::Error and rustc print the sandbox's refusals (EACCES from
/// Landlock or seccomp, EPERM from seccomp).
fn names_a_refusal(text: &str) -> bool {
    text.contains("Permission denied (os error 13)")
        || text.contains("Operation not permitted (os error 1)")
}

/// What the row relies on being confined here.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Needs {
    Nothing,
    /// Landlock on the student's build.
    BuildLandlock,
    /// Landlock on the adapter.
    AdapterLandlock,
    /// The drop to a uid of its own, hence RLIMIT_NPROC.
    UidDrop,
    /// No network for the adapter.
    NoNetwork,
}

struct Student {
    name: &'static str,
    /// The attack file in tests/attacks/.
    file: &'static str,
    /// `@STOLEN@` for the shared compile-time template.
    stolen: Option<PathBuf>,
    statuses: &'static [&'static str],
    score: Score,
    blocked: Blocked,
    needs: Needs,
}

fn students(fixtures_file: &Path, hidden_file: &Path) -> Vec<Student> {
    let student = |name, file, statuses, score, blocked, needs| Student {
        name,
        file,
        stolen: None,
        statuses,
        score,
        blocked,
        needs,
    };
    use Blocked as B;
    use Needs as N;
    use Score::*;
    let compile_error: &[&str] = &["compile_error"];
    let failed: &[&str] = &["failed"];
    vec![
        student(
            VICTIM,
            "honest-full.rs",
            &["passed"],
            Exactly(10.0),
            B::No,
            N::Nothing,
        ),
        student(
            "honest-partial",
            "honest-partial.rs",
            failed,
            AsHonestPartial,
            B::No,
            N::Nothing,
        ),
        Student {
            stolen: Some(fixtures_file.to_path_buf()),
            ..student(
                "ct-fixtures",
                "ct-tensors.rs",
                compile_error,
                Exactly(0.0),
                B::Summary,
                N::BuildLandlock,
            )
        },
        Student {
            stolen: Some(hidden_file.to_path_buf()),
            ..student(
                "ct-hidden",
                "ct-tensors.rs",
                compile_error,
                Exactly(0.0),
                B::Summary,
                N::BuildLandlock,
            )
        },
        student(
            "ct-solution",
            "ct-solution.rs",
            compile_error,
            Exactly(0.0),
            B::Summary,
            N::BuildLandlock,
        ),
        student(
            "rt-fixtures",
            "rt-fixtures.rs",
            failed,
            Exactly(0.0),
            B::Checks,
            N::AdapterLandlock,
        ),
        student(
            "rt-hidden",
            "rt-hidden.rs",
            failed,
            AsHonestPartial,
            B::Checks,
            N::AdapterLandlock,
        ),
        student(
            "rt-solution",
            "rt-solution.rs",
            failed,
            Exactly(0.0),
            B::Checks,
            N::AdapterLandlock,
        ),
        student(
            "proc-mem",
            "proc-mem.rs",
            failed,
            Exactly(0.0),
            B::Checks,
            N::AdapterLandlock,
        ),
        // Forged lines on the reply pipe garble a reply: a failed check.
        student(
            "forges",
            "forges.rs",
            &["not_started", "failed"],
            Exactly(0.0),
            B::No,
            N::Nothing,
        ),
        // Forged reply frames ("skipped: ...") ahead of the genuine replies.
        student(
            "skips",
            "skips.rs",
            failed,
            AsHonestPartial,
            B::No,
            N::Nothing,
        ),
        student(
            "writes-out",
            "writes-out.rs",
            failed,
            AsHonestPartial,
            B::Checks,
            N::AdapterLandlock,
        ),
        student(
            "exits-early",
            "exits-early.rs",
            &["crashed"],
            AsHonestPartial,
            B::No,
            N::Nothing,
        ),
        student(
            "hangs-early",
            "hangs-early.rs",
            &["timed_out"],
            AsHonestPartial,
            B::No,
            N::Nothing,
        ),
        student(
            "fork-bomb",
            "fork-bomb.rs",
            &["timed_out"],
            Exactly(0.0),
            B::No,
            N::UidDrop,
        ),
        student(
            "network",
            "network.rs",
            failed,
            Exactly(0.0),
            B::Checks,
            N::NoNetwork,
        ),
        // Issue 13: a process that leaves its group, 1 GiB of stderr, the
        // caller's environment and descriptors, a build that never ends,
        // an earlier student's adapter embedded and run from memory, and a
        // submission that is a link to another student's.
        student(
            "escapes",
            "escapes.rs",
            failed,
            AsHonestPartial,
            B::No,
            N::Nothing,
        ),
        student(
            "floods",
            "floods.rs",
            failed,
            AsHonestPartial,
            B::No,
            N::Nothing,
        ),
        student(
            "leaks",
            "leaks.rs",
            failed,
            AsHonestPartial,
            B::No,
            N::Nothing,
        ),
        student(
            "slow-build",
            "slow-build.rs",
            compile_error,
            Exactly(0.0),
            B::No,
            N::Nothing,
        ),
        // Named to sort after most of the class: earlier builds are done.
        student(
            "steals-build",
            "ct-adapter.rs",
            &["compile_error", "failed"],
            Exactly(0.0),
            B::No,
            N::BuildLandlock,
        ),
        student(
            LINKED,
            "honest-full.rs",
            &["refused"],
            Exactly(0.0),
            B::No,
            N::Nothing,
        ),
    ]
}

/// A submission whose folder holds only a symbolic link to the victim's.
const LINKED: &str = "linked";
/// The build limit of the batch: slow-build ends there.
const BUILD_TIMEOUT_SECS: u64 = 60;
/// A secret in the caller's environment and one on an inherited descriptor:
/// neither may reach a report.
const SECRET_VAR: &str = "ATTACK_SECRET_TOKEN";
const SECRET_VALUE: &str = "env-secret-6f1d2c9a";
const SECRET_ON_FD: &str = "fd-secret-0b7e44d1";
/// The descriptor the secret file is left open on, in the grader.
const SECRET_FD: i32 = 9;
/// The most the launcher's resident memory may reach (floods writes 1 GiB).
const MAX_LAUNCHER_RSS_KIB: u64 = 512 << 10;

/// Replaces every `@NAME@` of `text`; fails on one left over.
fn fill(text: &str, vars: &[(&str, String)]) -> String {
    let mut text = text.to_string();
    for (name, value) in vars {
        text = text.replace(&format!("@{name}@"), value);
    }
    let pieces: Vec<&str> = text.split('@').collect();
    let left = pieces[1..pieces.len().saturating_sub(1).max(1)]
        .iter()
        .find(|w| !w.is_empty() && w.chars().all(|c| c.is_ascii_uppercase() || c == '_'));
    assert!(left.is_none(), "placeholder @{}@ left", left.unwrap());
    text
}

/// Kills (by pid) every process whose executable lies under `root`: the
/// judges and adapters of this run, a fork bomb's children included.
/// Returns how many there were.
fn kill_leftovers(root: &Path) -> usize {
    let mine = |pid: u32| {
        // A deleted binary reads "<path> (deleted)": still under `root`.
        fs::read_link(format!("/proc/{pid}/exe")).is_ok_and(|exe| exe.starts_with(root))
    };
    let list = || -> Vec<u32> {
        fs::read_dir("/proc")
            .map(|dir| {
                dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
                    .filter(|&pid| mine(pid))
                    .collect()
            })
            .unwrap_or_default()
    };
    let first = list();
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut left = first.clone();
    while !left.is_empty() && Instant::now() < deadline {
        for pid in &left {
            // SAFETY: kill(2) of a process this test started (its binary is
            // in this test's temp dir).
            unsafe {
                libc::kill(*pid as i32, libc::SIGKILL);
            }
        }
        std::thread::sleep(Duration::from_millis(100));
        left = list();
    }
    first.len()
}

/// Kills what the run left behind, even when the test panics.
struct Cleanup(PathBuf);

impl Drop for Cleanup {
    fn drop(&mut self) {
        kill_leftovers(&self.0);
    }
}

/// Every file under `dir` whose name contains `needle`.
fn files_named(dir: &Path, needle: &str, found: &mut Vec<PathBuf>) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if entry.file_name().to_string_lossy().contains(needle) {
            found.push(path.clone());
        }
        if entry.file_type().is_ok_and(|t| t.is_dir()) {
            files_named(&path, needle, found);
        }
    }
}

fn starts(value: &Value, prefix: &str) -> bool {
    value.as_str().is_some_and(|s| s.starts_with(prefix))
}

#[test]
#[ignore = "compiles candle into its own target dir: .ci/run runs it with --ignored"]
fn dishonest_submissions_earn_what_their_honest_code_earns() {
    let started = Instant::now();
    let kit = kit();
    let target = attack_target();
    let cold = !target.join("debug").exists() && !target.join("release").exists();
    // ATTACKS_KEEP=1 keeps the submissions, reports and staged copies.
    let dir = tempfile::Builder::new()
        .prefix("attacks-")
        .disable_cleanup(std::env::var_os("ATTACKS_KEEP").is_some())
        .tempdir()
        .unwrap();
    println!("working in {}", dir.path().display());
    // The adapters run as another uid when we are root, and only when that
    // uid can reach their binaries, under here.
    fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755)).unwrap();
    let root = fs::canonicalize(dir.path()).unwrap();
    let _cleanup = Cleanup(root.clone());
    let submissions = root.join("submissions");
    let hidden = root.join("hidden");
    let out = root.join("graded");
    let work = root.join("work");
    copy_dir(&kit.join("fixtures"), &hidden);

    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let fixtures_file = kit.join("fixtures/01-attention/tensors.safetensors");
    let hidden_file = hidden.join("01-attention/tensors.safetensors");
    let solution_file = kit.join("solutions/01-attention/src/lib.rs");
    let path = |p: &Path| p.display().to_string();
    let vars = vec![
        ("FIXTURES_FILE", path(&fixtures_file)),
        ("HIDDEN_FILE", path(&hidden_file)),
        ("SOLUTION_FILE", path(&solution_file)),
        ("OUT", path(&out)),
        ("WORK", path(&work)),
        ("CARGO_TARGET", path(&target)),
        ("VICTIM", VICTIM.to_string()),
        ("PORT", listener.local_addr().unwrap().port().to_string()),
        ("LIFETIME", (TIMEOUT_SECS * 30).to_string()),
        ("SECRET_VAR", SECRET_VAR.to_string()),
    ];
    let class = students(&fixtures_file, &hidden_file);
    let common = attack_source("common.rs");
    for student in &class {
        let checkout = submissions.join(student.name);
        if student.name == LINKED {
            fs::create_dir_all(&checkout).unwrap();
            std::os::unix::fs::symlink(Path::new("..").join(VICTIM), checkout.join("repo"))
                .unwrap();
            continue;
        }
        copy_dir(&kit.join("exercises"), &checkout.join("exercises"));
        let mut vars = vars.clone();
        if let Some(stolen) = &student.stolen {
            vars.push(("STOLEN", path(stolen)));
        }
        let source = fill(&(common.clone() + &attack_source(student.file)), &vars);
        fs::write(checkout.join("exercises/01-attention/src/lib.rs"), source).unwrap();
    }

    // One batch for the whole class, as an instructor grades it.
    let log = root.join("grade.log");
    let secret_file = root.join("secret-on-a-descriptor");
    fs::write(&secret_file, SECRET_ON_FD).unwrap();
    let secret = std::os::fd::IntoRawFd::into_raw_fd(fs::File::open(&secret_file).unwrap());
    let mut command = Command::new(env!("CARGO_BIN_EXE_grader"));
    // SAFETY: dup2(2) in the child, between fork and exec: the grader
    // starts with the secret open on SECRET_FD, not close-on-exec.
    unsafe {
        command.pre_exec(move || {
            if libc::dup2(secret, SECRET_FD) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let mut child = command
        .env(SECRET_VAR, SECRET_VALUE)
        .args(["grade", "01", "--seed", SEED, "--jobs", "2", "--timeout"])
        .arg(TIMEOUT_SECS.to_string())
        .arg("--build-timeout")
        .arg(BUILD_TIMEOUT_SECS.to_string())
        .arg("--kit")
        .arg(&kit)
        .arg("--submissions")
        .arg(&submissions)
        .arg("--fixtures")
        .arg(&hidden)
        .arg("--out")
        .arg(&out)
        .arg("--work")
        .arg(&work)
        .arg("--cargo-target")
        .arg(&target)
        .stdin(Stdio::null())
        .stdout(fs::File::create(&log).unwrap())
        .stderr(fs::File::create(root.join("grade.stderr")).unwrap())
        .process_group(0)
        .spawn()
        .unwrap();
    // SAFETY: close(2) of our copy of the secret's descriptor.
    unsafe {
        libc::close(secret);
    }
    let grade_start = Instant::now();
    let mut launcher_rss_kib = 0u64;
    let status = loop {
        // The launcher's own high-water mark, while it lives.
        if let Some(hwm) = fs::read_to_string(format!("/proc/{}/status", child.id()))
            .ok()
            .and_then(|s| {
                s.lines()
                    .find_map(|l| l.strip_prefix("VmHWM:"))
                    .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            })
        {
            launcher_rss_kib = launcher_rss_kib.max(hwm);
        }
        if let Some(status) = child.try_wait().unwrap() {
            break Some(status);
        }
        if grade_start.elapsed() > GRADE_DEADLINE {
            // SAFETY: kill(2) of the grader's own process group.
            unsafe {
                libc::kill(-(child.id() as i32), libc::SIGKILL);
            }
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    let grade_seconds = grade_start.elapsed().as_secs_f64();
    let output = format!(
        "{}\n--- stderr ---\n{}",
        fs::read_to_string(&log).unwrap_or_default(),
        fs::read_to_string(root.join("grade.stderr")).unwrap_or_default()
    );
    println!("{output}");
    // Whatever the grader left running (a fork bomb's children): killed
    // here, and a fault of the grader.
    let leftovers = kill_leftovers(&root);
    let status = status.unwrap_or_else(|| panic!("grade took over {GRADE_DEADLINE:?}\n{output}"));
    let mut problems: Vec<String> = vec![];
    if status.code() != Some(0) {
        problems.push(format!(
            "the grader ended with {status} (1: a submission could not be graded)"
        ));
    }

    let gradebook = fs::read_to_string(out.join("gradebook.csv"))
        .unwrap_or_else(|e| panic!("no gradebook ({e}):\n{output}"));
    let rows: Vec<Vec<&str>> = gradebook.lines().map(|l| l.split(',').collect()).collect();
    assert_eq!(
        rows[0],
        [
            "student",
            "score",
            "max_score",
            "01-attention",
            "01-attention status",
            "seconds",
            "error"
        ],
        "{gradebook}"
    );
    let row =
        |student: &str| -> Option<Vec<&str>> { rows.iter().find(|r| r[0] == student).cloned() };
    let report_of = |student: &str| -> Option<Value> {
        let text = fs::read_to_string(out.join(student).join("report.json")).ok()?;
        serde_json::from_str(&text).ok()
    };

    let mut table = String::new();
    let partial = row("honest-partial")
        .and_then(|r| r[1].parse::<f64>().ok())
        .filter(|&p| p > 0.0 && p < 10.0)
        .unwrap_or_else(|| {
            problems.push("honest-partial should earn part of the points".to_string());
            f64::NAN
        });
    for student in &class {
        let name = student.name;
        let Some(row) = row(name) else {
            problems.push(format!("{name}: missing from the gradebook"));
            continue;
        };
        if !row[6].is_empty() {
            problems.push(format!("{name}: not graded: {}", row[6..].join(",")));
            table.push_str(&format!("{name:15} not graded\n"));
            continue;
        }
        let Some(report) = report_of(name) else {
            problems.push(format!("{name}: no readable report.json"));
            continue;
        };
        let text = fs::read_to_string(out.join(name).join("report.txt")).unwrap_or_default();
        for file in ["results.json", "junit.xml", "report.txt", "staging.txt"] {
            if !out.join(name).join(file).is_file() {
                problems.push(format!("{name}: no {file}"));
            }
        }
        let exercise = &report["exercises"][0];
        let status = exercise["status"].as_str().unwrap_or("?").to_string();
        let summary = exercise["summary"].as_str().unwrap_or("").to_string();
        let checks = exercise["checks"].as_array().cloned().unwrap_or_default();
        let blocked_check = checks
            .iter()
            .find(|c| c["message"].as_str().is_some_and(names_a_refusal))
            .map(|c| format!("{}: {}", c["check"], c["message"].as_str().unwrap_or("")));
        let score: f64 = row[1].parse().unwrap_or(f64::NAN);
        table.push_str(&format!(
            "{name:15} {status:14} {score:5.2}  {summary}\n{:36}{}\n",
            "",
            blocked_check.as_deref().unwrap_or("-")
        ));
        if row[3] != row[1] {
            problems.push(format!("{name}: total {} but 01 {}", row[1], row[3]));
        }

        if status == "refused" {
            // Nothing ran: no isolation to report; staging.txt says why.
            let staging =
                fs::read_to_string(out.join(name).join("staging.txt")).unwrap_or_default();
            if !staging.contains("symbolic link") || !summary.contains("symbolic link") {
                problems.push(format!(
                    "{name}: the refusal does not name the link: {summary}\n{staging}"
                ));
            }
        }
        // Is what this row relies on in force here?
        let isolation = &report["isolation"];
        let (build, adapter) = (&isolation["build"], &isolation["adapter"]);
        let in_force = match student.needs {
            Needs::Nothing => true,
            Needs::BuildLandlock => starts(&build["filesystem"], "Landlock ABI"),
            Needs::AdapterLandlock => starts(&adapter["filesystem"], "Landlock ABI"),
            Needs::UidDrop => starts(&adapter["user"], "drops to uid"),
            Needs::NoNetwork => starts(&adapter["network"], "denied"),
        };
        // A submission that does not compile has no adapter.
        let isolated = [build, adapter]
            .iter()
            .all(|p| p.is_null() || starts(&p["filesystem"], "Landlock ABI"));
        if isolation.is_null() && status != "refused" {
            problems.push(format!("{name}: report.json has no isolation"));
        }
        if isolated == text.contains(WARNING) {
            problems.push(format!(
                "{name}: isolated = {isolated}, but the report's warning says otherwise:\n{text}"
            ));
        }
        if !in_force {
            // The outcome depends on the platform: the report must say so.
            let said = match student.needs {
                Needs::BuildLandlock | Needs::AdapterLandlock => text.contains(WARNING),
                Needs::UidDrop => {
                    starts(&adapter["user"], "stays") && status != "passed" && score == 0.0
                }
                _ => starts(&adapter["network"], "not available"),
            };
            println!(
                "{name}: {:?} not in force here; the report says so: {said}",
                student.needs
            );
            if !said {
                problems.push(format!(
                    "{name}: {:?} is not in force and the report does not say so:\n{text}",
                    student.needs
                ));
            }
            continue;
        }

        if !student.statuses.contains(&status.as_str()) {
            problems.push(format!(
                "{name}: status {status}, expected one of {:?} ({summary})",
                student.statuses
            ));
        }
        let expected = match student.score {
            Score::Exactly(points) => points,
            Score::AsHonestPartial => partial,
        };
        if (score - expected).abs() > 1e-9 {
            problems.push(format!(
                "{name}: earned {score}, its honest code earns {expected} ({status}: {summary})"
            ));
        }
        let blocked_ok = match student.blocked {
            Blocked::Summary => names_a_refusal(&summary),
            Blocked::Checks => blocked_check.is_some(),
            Blocked::No => true,
        };
        if !blocked_ok {
            problems.push(format!(
                "{name}: the report does not say the sandbox blocked it ({:?}): {summary}",
                student.blocked
            ));
        }
    }

    // forges: no forged record was taken.
    if let Some(forges) = report_of("forges") {
        let forged: Vec<String> = forges["exercises"][0]["checks"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|c| c["status"] == "passed" || starts(&c["check"], "forged"))
            .map(|c| c.to_string())
            .collect();
        if !forged.is_empty() {
            problems.push(format!("forges: records taken: {forged:?}"));
        }
    }
    // exits-early: said to have exited early.
    if let Some(exits) = report_of("exits-early") {
        let summary = exits["exercises"][0]["summary"].to_string();
        if !summary.contains("exited with code 0 before its last check") {
            problems.push(format!("exits-early: summary {summary}"));
        }
    }
    // writes-out: nothing written outside its sandbox.
    let mut marks = vec![];
    files_named(&root, "PWNED", &mut marks);
    files_named(&target, "PWNED", &mut marks);
    for file in [
        out.join("gradebook.csv"),
        work.join("students")
            .join(VICTIM)
            .join("kit/exercises/01-attention/src/lib.rs"),
    ] {
        if fs::read_to_string(&file).is_ok_and(|t| t.contains("PWNED")) {
            marks.push(file);
        }
    }
    if !marks.is_empty() {
        problems.push(format!("writes-out wrote {marks:?}"));
    }
    // network: the listener saw nothing.
    match listener.accept() {
        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
        other => problems.push(format!("network: the listener got {other:?}")),
    }
    // slow-build: said to have hit the build limit, and the batch went on.
    if let Some(slow) = report_of("slow-build") {
        let summary = slow["exercises"][0]["summary"].to_string();
        if !summary.contains(&format!("did not finish in {BUILD_TIMEOUT_SECS} s")) {
            problems.push(format!("slow-build: summary {summary}"));
        }
    }
    // floods: the launcher's memory did not follow it, the report is small
    // and says what it cut.
    if launcher_rss_kib > MAX_LAUNCHER_RSS_KIB {
        problems.push(format!(
            "the launcher's resident memory reached {launcher_rss_kib} KiB (floods wrote 1 GiB on stderr)"
        ));
    }
    if let Some(floods) = report_of("floods") {
        let output = floods["exercises"][0]["student_output"]
            .as_str()
            .unwrap_or("");
        if !output.contains("characters of long lines cut") || output.len() > 64 << 10 {
            problems.push(format!(
                "floods: the student's output is not cut ({} bytes kept)",
                output.len()
            ));
        }
    }
    // leaks: no secret of the caller reached any report.
    let mut reports = vec![];
    files_named(&out, "", &mut reports);
    for file in reports.iter().filter(|f| f.is_file()) {
        let text = fs::read_to_string(file).unwrap_or_default();
        for secret in [SECRET_VALUE, SECRET_ON_FD] {
            if text.contains(secret) {
                problems.push(format!(
                    "{} holds the caller's secret {secret}",
                    file.display()
                ));
            }
        }
        if fs::metadata(file).map_or(0, |m| m.len()) > 4 << 20 {
            problems.push(format!("{} is over 4 MiB", file.display()));
        }
    }
    // fork-bomb, escapes: nothing left running.
    if leftovers > 0 {
        problems.push(format!(
            "{leftovers} processes of this run were still alive after the grader exited (killed now)"
        ));
    }

    println!(
        "seed {SEED}, build cache {}: grade took {grade_seconds:.1} s, the test {:.1} s\n{table}",
        if cold { "cold" } else { "warm" },
        started.elapsed().as_secs_f64()
    );
    assert!(
        problems.is_empty(),
        "{} problems:\n- {}\n\n{table}\n{gradebook}",
        problems.len(),
        problems.join("\n- ")
    );
}
