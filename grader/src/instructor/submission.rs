//! `grade --submission DIR`: grades a student's checkout without trusting it.
//!
//! Only `exercises/<dir>/src/**/*.rs` of the exercises in `info.yaml` is
//! taken from DIR and laid over a clean copy of the released kit (no
//! solutions in it for the student's code to `include!`). The student's
//! manifests, build scripts, `grader/` and `fixtures/` are ignored, so a
//! submission cannot add a dependency, run code at build time, or change the
//! checks or their expected values. The fixtures graded against are the
//! instructor's (or a hidden set given with `--fixtures`), outside the copy.
//!
//! Builds share one cargo target dir, so that after the first submission
//! only the student's own crates compile. Cargo decides freshness by
//! modification times and the copies share relative paths, so the exercise
//! files of each copy are touched, and built, under a lock: a build can
//! never take another student's crate for fresh. The workers are then
//! copied out of the shared dir and run outside the lock.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use anyhow::{bail, Context, Result};
use clap::Args;

use super::{copy_file, copy_tree, release, touch_tree};
use crate::catalog::{Exercise, Kit};
use crate::compile::{self, Target};
use crate::files::Snapshot;
use crate::grade::{self, Isolation, Options, RunReport};
use crate::report::{self, Format};
use crate::settings::{check_names, RunArgs};
use grader_kit::confine;
use grader_kit::sandbox::{Policy, Prepared};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

/// The uids submissions' adapters run as when the grader is root: the first
/// and how many (they need no account; nothing else should use them).
const SANDBOX_UIDS: (u32, u32) = (61000, 1000);

/// Files bigger than this are not taken from a submission.
const MAX_SOURCE_BYTES: u64 = 1 << 20;

#[derive(Debug, Clone, Args)]
pub struct GradeSubmissionArgs {
    /// A student's checkout (a folder holding exercises/) to grade.
    #[arg(
        long,
        value_name = "DIR",
        required_unless_present = "submissions",
        conflicts_with = "submissions"
    )]
    pub submission: Option<PathBuf>,
    /// A folder with one checkout per student: grades them all into
    /// OUT/gradebook.csv and OUT/<student>/.
    #[arg(long, value_name = "DIR")]
    pub submissions: Option<PathBuf>,
    /// Exercises to grade; all when none.
    pub exercises: Vec<String>,
    /// Where the reports go: results.json (Gradescope), report.json,
    /// junit.xml, report.txt and staging.txt.
    #[arg(long, value_name = "DIR", default_value = "graded")]
    pub out: PathBuf,
    /// Scratch folder for the clean copies [default: <kit>/target/grading].
    #[arg(long, value_name = "DIR")]
    pub work: Option<PathBuf>,
    /// The cargo target dir shared by every submission's build
    /// [default: <work>/cargo-target]. Never your own kit's target dir.
    #[arg(long, value_name = "DIR")]
    pub cargo_target: Option<PathBuf>,
    /// Submissions graded at once (builds take turns; runs overlap).
    #[arg(long, short = 'j', default_value_t = 2)]
    pub jobs: usize,
    /// The longest a student's build may take, in seconds: past it the
    /// build is killed, the next student's starts, and the exercises it was
    /// to build score 0 ("the build did not finish").
    #[arg(long, value_name = "SECS", default_value_t = 300)]
    pub build_timeout: u64,
    /// The address space each process of a student's build may take, in MiB.
    #[arg(long, value_name = "MIB", default_value_t = 8192)]
    pub build_memory_mib: u64,
    #[command(flatten)]
    pub run: RunArgs,
}

/// What was taken from a submission, and what was not.
#[derive(Debug, Default, Clone)]
pub struct Staging {
    pub taken: Vec<String>,
    pub ignored: Vec<String>,
    /// Why the whole submission was refused (nothing taken), if it was.
    pub refused: Option<Refusal>,
}

/// A submission that holds what a grader must not follow or open: symbolic
/// links (another student's folder, a file of the grader's) and files that
/// are not regular ones (FIFOs that block a reader, sockets, devices).
#[derive(Debug, Clone, PartialEq)]
pub struct Refusal {
    /// `path (what it is)`, relative to the submission; the first few.
    pub found: Vec<String>,
    /// How many there were in all.
    pub count: usize,
}

impl Refusal {
    /// How many offending paths a refusal names.
    const SHOWN: usize = 10;

    /// One sentence for the report: the cause and the way out.
    pub fn summary(&self) -> String {
        let more = if self.count > self.found.len() {
            format!(" and {} more", self.count - self.found.len())
        } else {
            String::new()
        };
        format!(
            "submission refused, nothing graded: it holds {} that is not a regular file or folder ({}{more}); submit plain files only (no symbolic links), then grade again",
            if self.count == 1 { "an entry" } else { "entries" },
            self.found.join(", ")
        )
    }
}

/// Walks the submission `dir` without following anything: the folder
/// itself and every entry below it (`.git` and `target` included) must be a
/// regular file or a folder.
pub fn refusal(dir: &Path) -> Result<Option<Refusal>> {
    let mut refusal = Refusal {
        found: vec![],
        count: 0,
    };
    let mut note = |relative: &Path, what: String| {
        refusal.count += 1;
        if refusal.found.len() < Refusal::SHOWN {
            let shown = if relative.as_os_str().is_empty() {
                "the submission folder itself".to_string()
            } else {
                relative.display().to_string()
            };
            refusal.found.push(format!("{shown} ({what})"));
        }
    };
    let mut stack = vec![PathBuf::new()];
    while let Some(relative) = stack.pop() {
        // Not `dir.join("")`: its trailing slash would follow a link.
        let path = if relative.as_os_str().is_empty() {
            dir.to_path_buf()
        } else {
            dir.join(&relative)
        };
        let meta = std::fs::symlink_metadata(&path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        let kind = meta.file_type();
        if kind.is_symlink() {
            let to = std::fs::read_link(&path)
                .map(|t| format!("a symbolic link to {}", t.display()))
                .unwrap_or_else(|_| "a symbolic link".to_string());
            note(&relative, to);
        } else if kind.is_dir() {
            for entry in std::fs::read_dir(&path)
                .with_context(|| format!("cannot read {}", path.display()))?
            {
                stack.push(relative.join(entry?.file_name()));
            }
        } else if !kind.is_file() {
            note(&relative, special_kind(&kind).to_string());
        }
    }
    refusal.found.sort();
    Ok((refusal.count > 0).then_some(refusal))
}

fn special_kind(kind: &std::fs::FileType) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    if kind.is_fifo() {
        "a FIFO"
    } else if kind.is_socket() {
        "a socket"
    } else if kind.is_block_device() || kind.is_char_device() {
        "a device"
    } else {
        "not a regular file"
    }
}

impl Staging {
    pub fn render(&self) -> String {
        if let Some(refusal) = &self.refused {
            let mut out = format!(
                "{}\nNothing was taken from the submission:\n",
                refusal.summary()
            );
            for found in &refusal.found {
                out.push_str(&format!("  {found}\n"));
            }
            return out;
        }
        let mut out =
            String::from("Taken from the submission (laid over a clean copy of the kit):\n");
        for file in &self.taken {
            out.push_str(&format!("  {file}\n"));
        }
        out.push_str("Ignored (the kit's own files are used):\n");
        for file in &self.ignored {
            out.push_str(&format!("  {file}\n"));
        }
        out
    }
}

/// One graded submission.
#[derive(Debug)]
pub struct Graded {
    pub report: RunReport,
    pub staging: Staging,
}

/// A grading session: the instructor's kit, a clean released copy of it,
/// the options, and the lock builds take turns on.
#[derive(Debug)]
pub struct Session {
    pub instructor: Kit,
    pub base: PathBuf,
    pub work: PathBuf,
    pub ids: Vec<String>,
    pub options: Options,
    /// The shared build cache was empty: the first build compiles candle.
    pub cold: bool,
    /// The cargo target dir every submission builds in.
    pub cargo_target: PathBuf,
    /// Limits of each student's build.
    pub build_timeout: std::time::Duration,
    pub build_memory_bytes: u64,
    build_lock: Mutex<()>,
}

impl Session {
    /// What to say about the first build's wait.
    pub fn wait_note(&self) -> &'static str {
        if self.cold {
            " (the build cache is empty: the first build compiles candle, two to three minutes)"
        } else {
            ""
        }
    }
}

impl Session {
    pub fn new(
        instructor: Kit,
        work: &Path,
        cargo_target: &Path,
        args: &GradeSubmissionArgs,
    ) -> Result<Session> {
        let (selectors, run) = (&args.exercises, &args.run);
        check_names(&instructor)?;
        let selected = instructor.select(selectors)?;
        run.verify(&instructor, &selected)?;
        std::fs::create_dir_all(work)
            .with_context(|| format!("cannot create {}", work.display()))?;
        let work = std::fs::canonicalize(work)?;
        refuse_readable_secrets(&[
            ("the kit", instructor.root.clone()),
            ("the work folder", work.clone()),
            ("the fixtures", run.fixtures_dir(&instructor)),
            ("the reports' folder (--out)", args.out.clone()),
        ])?;
        let cold = !cargo_target.join("debug").exists() && !cargo_target.join("release").exists();
        std::fs::create_dir_all(cargo_target)?;
        let cargo_target = std::fs::canonicalize(cargo_target)?;
        let own_target = std::fs::canonicalize(instructor.root.join("target")).ok();
        if own_target.as_deref() == Some(cargo_target.as_path()) {
            bail!("--cargo-target must not be the kit's own target dir: cargo would take the students' crates for your own");
        }
        // The reference adapters are built once, from the instructor's own
        // kit and in its own target dir, before any student's build.
        let references = reference_adapters(&instructor, &selected, &work)?;
        // Every cargo this process starts builds there.
        std::env::set_var("CARGO_TARGET_DIR", &cargo_target);
        let base = work.join("base");
        release::release(&instructor, &base, true).context("making the clean copy")?;
        fetch_dependencies(&base);
        build_dependencies(&base, &selected)?;
        let mut options = run.options(&instructor, run.seed_or_fresh());
        options.references = references;
        // One worker at a time per submission: `--jobs` grades submissions
        // side by side already.
        options.parallel = 1;
        Ok(Session {
            ids: selected.iter().map(|e| e.id.clone()).collect(),
            instructor,
            base,
            work,
            options,
            cold,
            cargo_target,
            build_timeout: std::time::Duration::from_secs(args.build_timeout.max(1)),
            build_memory_bytes: args.build_memory_mib.max(256) << 20,
            build_lock: Mutex::new(()),
        })
    }

    /// Grades the checkout `submission` under the name `name` (a folder
    /// name: letters, digits, `-`, `_`, `.`).
    pub fn grade(&self, name: &str, submission: &Path, echo: bool) -> Result<Graded> {
        // Before anything reads it: a link could lead into another
        // student's folder, a FIFO could block the copy forever.
        if let Some(refusal) = refusal(submission)? {
            let selected = self.instructor.select(&self.ids)?;
            return Ok(Graded {
                report: grade::refused(&selected, &self.options, &refusal.summary()),
                staging: Staging {
                    refused: Some(refusal),
                    ..Staging::default()
                },
            });
        }
        let root = find_root(submission)?;
        let staging_dir = self.work.join("students").join(name);
        let workers_dir = staging_dir.join("workers");
        let (kit, selected, built, staging, build_protections) = {
            let _turn = self.build_lock.lock().unwrap_or_else(|e| e.into_inner());
            if staging_dir.exists() {
                std::fs::remove_dir_all(&staging_dir)
                    .with_context(|| format!("cannot clear {}", staging_dir.display()))?;
            }
            let kit_dir = staging_dir.join("kit");
            copy_tree(&self.base, &kit_dir)?;
            let staging = overlay(&self.instructor, &root, &kit_dir)?;
            // Newer than any build of another copy: see the module doc.
            touch_tree(&kit_dir.join("exercises"))?;
            let kit = Kit::load(&kit_dir)?;
            let selected = kit.select(&self.ids)?;
            let all = kit.with_prerequisites(&selected);
            let mut build_policy = Policy::for_build(&kit_dir, &self.cargo_target);
            build_policy.read.extend(grader_kit_sources());
            let confined = compile::Confined {
                sandbox: Arc::new(Prepared::prepare(&build_policy)),
                timeout: self.build_timeout,
                memory_bytes: self.build_memory_bytes,
            };
            let build_protections = Some(confined.sandbox.protections());
            // What this build writes into the shared target dir (the
            // student's crates, their adapters) is removed once copied out:
            // the next student's build, which may read that dir, never finds
            // it (an `include_bytes!` of another student's adapter).
            let before = Snapshot::take(&self.cargo_target);
            let built =
                compile::build_verified(&kit, &all, Target::Exercises, echo, Some(&confined));
            let copied = built.and_then(|mut built| {
                let builtin = built.builtin.clone();
                let built_here = built
                    .workers
                    .iter_mut()
                    .filter(|(id, _)| !builtin.contains(*id))
                    .map(|(_, exe)| exe);
                for exe in built_here.chain(built.adapters.values_mut()) {
                    let copy = workers_dir.join(exe.file_name().context("a worker has a name")?);
                    copy_file(exe, &copy, false)?;
                    *exe = copy;
                }
                Ok(built)
            });
            before
                .remove_what_is_new(&self.cargo_target)
                .context("removing this student's build from the shared target dir")?;
            (kit, selected, copied?, staging, build_protections)
        };
        // Each submission's adapters run as a uid of their own (when we are
        // root), so that one's fork bomb cannot starve another's threads.
        static NEXT_UID: AtomicU32 = AtomicU32::new(0);
        let mut options = self.options.clone();
        // Offset by our pid, so that two grading runs at once rarely share one.
        let slot = std::process::id()
            .wrapping_mul(7)
            .wrapping_add(NEXT_UID.fetch_add(1, Ordering::Relaxed));
        options.sandbox_uid = Some(SANDBOX_UIDS.0 + slot % SANDBOX_UIDS.1);
        let uid = options.sandbox_uid.expect("set above");
        // As root, the adapters run as `uid`, which nothing else uses: every
        // process of it is this submission's, and none outlives its grading.
        grader_kit::process::kill_uid(uid);
        let mut report = grade::grade_built(&kit, &selected, &built, &options, &mut |_| {});
        grader_kit::process::kill_uid(uid);
        report.isolation = Some(Isolation {
            build: build_protections,
            adapter: built
                .adapters
                .values()
                .next()
                .map(|exe| confine::protections(exe, &[], options.sandbox_uid)),
            reference: !options.references.is_empty(),
        });
        let _ = std::fs::remove_dir_all(&workers_dir);
        Ok(Graded { report, staging })
    }
}

/// The grader-kit sources this grader was built with, and their workspace's
/// manifest: a kit whose manifests point at them by path (the grader's own
/// test kits do) reads them while it builds. They hold no expected value.
fn grader_kit_sources() -> Vec<PathBuf> {
    let grader = Path::new(env!("CARGO_MANIFEST_DIR"));
    // Cargo looks for the workspace root of grader-kit upward from it.
    let mut paths = vec![grader.join("kit"), grader.join("Cargo.toml")];
    if let Some(root) = grader.parent() {
        paths.push(root.join("Cargo.toml"));
    }
    paths
}

/// Refuses to grade when a folder that holds what no student may read
/// (solutions, fixtures, other students' work, reports) lies below a path
/// the sandbox lets every build and adapter read (`/usr`, the toolchain:
/// see `grader_kit::sandbox::always_readable`).
fn refuse_readable_secrets(folders: &[(&str, PathBuf)]) -> Result<()> {
    for (what, path) in folders {
        let absolute = std::path::absolute(path).unwrap_or_else(|_| path.clone());
        if let Some(allowed) = grader_kit::sandbox::under_always_readable(&absolute) {
            bail!(
                "{what} ({}) lies below {}, which the sandbox lets every student's build and code read (the system's files and the toolchain); move it elsewhere (e.g. /srv/grading or your home folder) and grade again",
                absolute.display(),
                allowed.display()
            );
        }
    }
    Ok(())
}

/// Builds the clean copy's workers once, outside any sandbox, into the
/// shared target dir: every dependency is then built, build scripts run,
/// before the first student's build, which may execute nothing it writes
/// (see `Policy::for_build`). Quick when the target dir is warm.
fn build_dependencies(base: &Path, selected: &[Exercise]) -> Result<()> {
    let kit = Kit::load(base)?;
    let ids: Vec<String> = selected.iter().map(|e| e.id.clone()).collect();
    let all = kit.with_prerequisites(&kit.select(&ids)?);
    eprintln!("Building the clean kit (the dependencies every submission shares)...");
    let built = compile::build_workers(&kit, &all, Target::Exercises, false)?;
    if let Some(error) = built.errors.values().next() {
        bail!(
            "the clean copy of the kit does not compile ({}: {}); fix the kit before grading",
            error.package,
            error.message
        );
    }
    Ok(())
}

/// Downloads every dependency of the clean copy, outside the sandbox: the
/// students' builds run offline (their sandbox has no network). Nothing to
/// do, and no network needed, when the cache has them all.
fn fetch_dependencies(base: &Path) {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_string());
    let mut command = std::process::Command::new(cargo);
    command.current_dir(base).args(["fetch", "--quiet"]);
    let fetched = grader_kit::process::spawn(&mut command).and_then(|mut child| {
        let status = child.wait();
        grader_kit::process::forget(child.id());
        status
    });
    if !fetched.is_ok_and(|s| s.success()) {
        eprintln!("warning: `cargo fetch` in the clean copy failed; the sandboxed builds run offline and need every dependency downloaded");
    }
}

/// The reference solution's adapters, when the kit has `solutions/`:
/// judges send the random inputs of their checks to both the student's
/// adapter and these, and compare (see `grader_kit::client`). Copied into
/// `work/reference/` so that no later build can replace them.
fn reference_adapters(
    kit: &Kit,
    selected: &[Exercise],
    work: &Path,
) -> Result<std::collections::BTreeMap<String, PathBuf>> {
    let mut references = std::collections::BTreeMap::new();
    if !kit.has_solutions() {
        return Ok(references);
    }
    let all: Vec<Exercise> = kit
        .with_prerequisites(selected)
        .into_iter()
        .filter(|e| kit.has_adapter(e))
        .collect();
    if all.is_empty() {
        return Ok(references);
    }
    eprintln!("Building the reference solutions' adapters...");
    let built = compile::build_workers(kit, &all, Target::Solutions, false)?;
    if let Some(error) = built.errors.values().next() {
        bail!(
            "the reference solutions do not compile ({}: {}); fix them or grade without solutions/",
            error.package,
            error.message
        );
    }
    let dir = work.join("reference");
    for (id, exe) in built.adapters {
        let copy = dir.join(exe.file_name().context("an adapter has a name")?);
        copy_file(&exe, &copy, false)?;
        references.insert(id, copy);
    }
    Ok(references)
}

/// The folder of a checkout that holds `exercises/`: DIR itself or its one
/// subfolder (an unpacked archive).
pub fn find_root(submission: &Path) -> Result<PathBuf> {
    if submission.join("exercises").is_dir() {
        return Ok(submission.to_path_buf());
    }
    let candidates: Vec<PathBuf> = std::fs::read_dir(submission)
        .with_context(|| format!("cannot read {}", submission.display()))?
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.join("exercises").is_dir())
        .collect();
    match candidates.as_slice() {
        [one] => Ok(one.clone()),
        _ => bail!(
            "{} holds no exercises/ folder (nor does exactly one of its subfolders)",
            submission.display()
        ),
    }
}

/// Whether `relative` (in a submission) is a source file of one of the
/// exercises: `exercises/<dir>/src/**/*.rs`.
pub fn is_taken(kit: &Kit, relative: &Path) -> bool {
    let parts: Vec<String> = relative
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    match parts.as_slice() {
        [exercises, dir, src, .., file] => {
            exercises == "exercises"
                && src == "src"
                && kit.exercises().iter().any(|e: &Exercise| &e.dir == dir)
                && file.ends_with(".rs")
                && parts.iter().all(|p| p != ".." && p != "." && !p.is_empty())
        }
        _ => false,
    }
}

/// Lays the submission's exercise sources over the copy `kit_dir`.
pub fn overlay(kit: &Kit, root: &Path, kit_dir: &Path) -> Result<Staging> {
    let mut staging = Staging::default();
    let mut stack = vec![PathBuf::new()];
    while let Some(relative) = stack.pop() {
        let dir = root.join(&relative);
        let mut entries: Vec<_> = std::fs::read_dir(&dir)
            .with_context(|| format!("cannot read {}", dir.display()))?
            .collect::<std::io::Result<_>>()?;
        entries.sort_by_key(|e| e.file_name());
        for entry in entries {
            let path = relative.join(entry.file_name());
            let name = entry.file_name();
            let kind = entry.file_type()?;
            if kind.is_dir() {
                if name == ".git" || name == "target" {
                    continue;
                }
                stack.push(path);
            } else if kind.is_file() && is_taken(kit, &path) {
                if entry.metadata()?.len() > MAX_SOURCE_BYTES {
                    staging.ignored.push(format!(
                        "{} (over {} bytes)",
                        path.display(),
                        MAX_SOURCE_BYTES
                    ));
                    continue;
                }
                copy_file(&entry.path(), &kit_dir.join(&path), false)?;
                staging.taken.push(path.display().to_string());
            } else {
                staging.ignored.push(path.display().to_string());
            }
        }
    }
    staging.taken.sort();
    staging.ignored.sort();
    Ok(staging)
}

/// Writes every report of one submission into `out`.
pub fn write_reports(out: &Path, graded: &Graded) -> Result<()> {
    std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
    let report = &graded.report;
    for (file, format) in [
        ("results.json", Format::Gradescope),
        ("report.json", Format::Json),
        ("junit.xml", Format::Junit),
        ("report.txt", Format::Human),
    ] {
        let path = out.join(file);
        std::fs::write(&path, report::render(report, format, false))
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    std::fs::write(out.join("staging.txt"), graded.staging.render())?;
    Ok(())
}

/// The work folder and the shared cargo target dir, defaults filled in.
pub fn dirs(kit: &Kit, args: &GradeSubmissionArgs) -> (PathBuf, PathBuf) {
    let work = args
        .work
        .clone()
        .unwrap_or_else(|| kit.root.join("target").join("grading"));
    let cargo_target = args
        .cargo_target
        .clone()
        .unwrap_or_else(|| work.join("cargo-target"));
    (work, cargo_target)
}

/// One student's checkout (`--submission`).
pub fn run(kit: Kit, args: &GradeSubmissionArgs, submission: &Path) -> Result<i32> {
    let (work, cargo_target) = dirs(&kit, args);
    let session = Session::new(kit, &work, &cargo_target, args)?;
    eprintln!("Grading {}{}...", submission.display(), session.wait_note());
    let graded = session.grade("submission", submission, true)?;
    write_reports(&args.out, &graded)?;
    print!("{}", report::render(&graded.report, Format::Human, false));
    println!(
        "\nWrote results.json (Gradescope), report.json, junit.xml, report.txt and staging.txt to {}.",
        args.out.display()
    );
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::Info;

    fn kit() -> Kit {
        let info: Info = serde_yaml::from_str(
            "format: 1\nexercises:\n  - {id: \"01\", name: attention, dir: 01-attention, title: A, points: 10, timeout_secs: 5}\n",
        )
        .unwrap();
        Kit {
            root: PathBuf::from("/k"),
            info,
        }
    }

    #[test]
    fn links_and_special_files_refuse_a_submission() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("student");
        std::fs::create_dir_all(root.join("exercises/01-attention/src")).unwrap();
        std::fs::write(root.join("exercises/01-attention/src/lib.rs"), "").unwrap();
        assert_eq!(refusal(&root).unwrap(), None);

        std::os::unix::fs::symlink("/etc", root.join("exercises/01-attention/src/x")).unwrap();
        let fifo = std::ffi::CString::new(root.join(".git").to_str().unwrap()).unwrap();
        // SAFETY: mkfifo(3) of a path in this test's temp dir.
        assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o600) }, 0);
        let found = refusal(&root).unwrap().expect("refused");
        assert_eq!(found.count, 2);
        assert_eq!(
            found.found,
            [
                ".git (a FIFO)",
                "exercises/01-attention/src/x (a symbolic link to /etc)"
            ]
        );
        assert!(found.summary().contains("no symbolic links"));

        // The submission folder itself, a link to another student's.
        let link = dir.path().join("mallory");
        std::os::unix::fs::symlink(&root, &link).unwrap();
        let found = refusal(&link).unwrap().expect("refused");
        assert!(found.found[0].starts_with("the submission folder itself (a symbolic link to "));
    }

    #[test]
    fn only_exercise_sources_are_taken() {
        let kit = kit();
        for path in [
            "exercises/01-attention/src/lib.rs",
            "exercises/01-attention/src/inner/mod.rs",
        ] {
            assert!(is_taken(&kit, Path::new(path)), "{path}");
        }
        for path in [
            "exercises/01-attention/Cargo.toml",
            "exercises/01-attention/build.rs",
            "exercises/01-attention/src/data.bin",
            "exercises/02-other/src/lib.rs",
            "exercises/info.yaml",
            "grader/checks/01-attention/src/main.rs",
            "fixtures/01-attention/cases.yaml",
            "Cargo.toml",
            "src/lib.rs",
        ] {
            assert!(!is_taken(&kit, Path::new(path)), "{path}");
        }
    }
}
