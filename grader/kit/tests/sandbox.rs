//! The sandbox (`grader_kit::sandbox`) against the running kernel, through the
//! `sandbox-probe` binary: each test runs the probe unconfined first where that
//! shows the denial is the sandbox's doing, then confined.
//!
//! Where the kernel lacks a protection the tests check that the protections
//! say "not available" instead. Tests of the uid drop need root and are skipped
//! (with a note) otherwise.
#![cfg(target_os = "linux")]

use grader_kit::sandbox::{adapter_process_limit, Policy, Prepared, Protections, NOBODY};
use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tempfile::TempDir;

/// A uid for the fork bomb, so that its processes count against no one else
/// (`RLIMIT_NPROC` is per uid, system-wide).
const FORK_BOMB_UID: u32 = 64_321;

fn is_root() -> bool {
    // SAFETY: geteuid cannot fail.
    unsafe { libc::geteuid() == 0 }
}

/// The kernel's Landlock ABI, asked directly (not through the module).
fn kernel_landlock_abi() -> Option<i64> {
    // SAFETY: the version query reads no memory.
    let v = unsafe {
        libc::syscall(
            libc::SYS_landlock_create_ruleset,
            std::ptr::null::<libc::c_void>(),
            0usize,
            1u32,
        )
    };
    (v > 0).then_some(v)
}

/// The probe, copied into a fresh 0755 folder of its own: the adapter policy's
/// read tree is then just that folder, and `nobody` can run it.
struct Probe {
    dir: TempDir,
    exe: PathBuf,
}

fn probe() -> Probe {
    let dir = tempfile::Builder::new()
        .prefix("sandbox-probe-")
        .tempdir()
        .unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let exe = dir.path().join("sandbox-probe");
    std::fs::copy(env!("CARGO_BIN_EXE_sandbox-probe"), &exe).unwrap();
    std::fs::set_permissions(&exe, std::fs::Permissions::from_mode(0o755)).unwrap();
    Probe { dir, exe }
}

/// An adapter policy without the uid drop and process limit, so that what a
/// test sees is Landlock's and seccomp's doing, not the file permissions'.
fn adapter_as_is(exe: &Path) -> Policy {
    Policy {
        drop_to_uid: None,
        max_processes: None,
        ..Policy::for_adapter(exe)
    }
}

/// Lets `policy` execute the probe (a build policy executes only the
/// toolchain and the system's programs).
fn runs_the_probe(policy: &mut Policy, probe: &Probe) {
    if let Some(exec) = &mut policy.exec {
        exec.push(probe.exe.clone());
    }
}

/// Runs `command` (confined by `sandbox` if given) to the end, or kills it after
/// `limit`.
fn run_command(mut command: Command, sandbox: Option<&Arc<Prepared>>, limit: Duration) -> Output {
    command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(sandbox) = sandbox {
        sandbox.apply_to(&mut command);
    }
    let mut child = grader_kit::confine::spawn_retrying(&mut command).expect("spawn");
    // Read both pipes on threads so a chatty child cannot block on a full pipe.
    let mut out = child.stdout.take().unwrap();
    let mut err = child.stderr.take().unwrap();
    let out = std::thread::spawn(move || {
        let mut v = Vec::new();
        out.read_to_end(&mut v).ok();
        v
    });
    let err = std::thread::spawn(move || {
        let mut v = Vec::new();
        err.read_to_end(&mut v).ok();
        v
    });
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if start.elapsed() > limit {
            child.kill().ok();
            panic!("{command:?} ran longer than {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Output {
        status,
        stdout: out.join().unwrap(),
        stderr: err.join().unwrap(),
    }
}

/// The probe's one line.
fn run(exe: &Path, sandbox: Option<&Arc<Prepared>>, args: &[&str]) -> String {
    let mut command = Command::new(exe);
    command.args(args);
    let output = run_command(command, sandbox, Duration::from_secs(30));
    let stdout = String::from_utf8_lossy(&output.stdout).trim().to_string();
    assert!(
        output.status.success(),
        "probe {args:?} failed: {stdout} {}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

fn prepare(policy: &Policy) -> Arc<Prepared> {
    Arc::new(Prepared::prepare(policy))
}

/// When Landlock is missing, the protections must say so; returns whether the
/// filesystem is confined.
fn confined_or_degraded(p: &Protections) -> bool {
    match kernel_landlock_abi() {
        Some(_) => {
            assert!(p.isolated(), "{}", p.summary());
            true
        }
        None => {
            assert!(!p.isolated());
            assert!(
                p.filesystem.starts_with("not available"),
                "{}",
                p.filesystem
            );
            eprintln!("no Landlock on this kernel: checked the degraded message only");
            false
        }
    }
}

#[test]
fn protections_describe_this_kernel() {
    let probe = probe();
    let p = Prepared::prepare(&Policy::for_adapter(&probe.exe)).protections();
    match kernel_landlock_abi() {
        Some(abi) => {
            let expected = format!("Landlock ABI {}:", abi.min(10));
            assert!(p.filesystem.starts_with(&expected), "{}", p.filesystem);
            assert!(p.filesystem.contains("no writes"), "{}", p.filesystem);
            assert!(p.isolated());
            assert!(p.network.starts_with("denied"), "{}", p.network);
            if abi >= 4 {
                assert!(p.network.contains("TCP bind/connect"), "{}", p.network);
            }
        }
        None => {
            assert!(
                p.filesystem.starts_with("not available"),
                "{}",
                p.filesystem
            );
            assert!(!p.isolated());
        }
    }
    if is_root() {
        assert_eq!(
            p.user,
            "drops to uid 65534, gid 65534, no supplementary groups"
        );
        let limit = format!("at most {} processes", adapter_process_limit());
        assert!(p.processes.starts_with(&limit), "{}", p.processes);
    } else {
        assert!(p.user.starts_with("stays uid"), "{}", p.user);
        assert!(p.processes.starts_with("not limited"), "{}", p.processes);
    }
    let summary = p.summary();
    assert!(!summary.contains('\n'));
    for part in [
        "filesystem: ",
        "network: ",
        "processes: ",
        "user: ",
        "syscalls: ",
    ] {
        assert!(summary.contains(part), "{summary}");
    }
    // It travels in reports.
    let json = serde_json::to_string(&p).unwrap();
    assert_eq!(serde_json::from_str::<Protections>(&json).unwrap(), p);
}

#[test]
fn reads_inside_the_allowed_folders_work_and_outside_are_denied() {
    let probe = probe();
    let inside = probe.dir.path().join("inside.txt");
    std::fs::write(&inside, "inside").unwrap();
    let outside = tempfile::tempdir().unwrap();
    let secret = outside.path().join("secret.txt");
    std::fs::write(&secret, "secret").unwrap();
    let secret = secret.to_str().unwrap();

    assert_eq!(run(&probe.exe, None, &["read", secret]), "OK");
    let sandbox = prepare(&adapter_as_is(&probe.exe));
    if !confined_or_degraded(&sandbox.protections()) {
        assert_eq!(run(&probe.exe, Some(&sandbox), &["read", secret]), "OK");
        return;
    }
    assert_eq!(
        run(
            &probe.exe,
            Some(&sandbox),
            &["read", inside.to_str().unwrap()]
        ),
        "OK"
    );
    assert_eq!(run(&probe.exe, Some(&sandbox), &["read", "/usr/lib"]), "OK");
    assert_eq!(
        run(&probe.exe, Some(&sandbox), &["read", secret]),
        "DENIED:EACCES"
    );
    let folder = outside.path().to_str().unwrap();
    assert_eq!(
        run(&probe.exe, Some(&sandbox), &["read", folder]),
        "DENIED:EACCES"
    );
    assert_eq!(
        run(&probe.exe, Some(&sandbox), &["read", "/etc/passwd"]),
        "DENIED:EACCES"
    );
    // /proc is not in the adapter policy.
    assert_eq!(
        run(&probe.exe, Some(&sandbox), &["read", "/proc/self/status"]),
        "DENIED:EACCES"
    );
}

#[test]
fn writes_are_denied_to_adapters_and_allowed_in_write_trees() {
    let probe = probe();
    let elsewhere = tempfile::tempdir().unwrap();
    let target = elsewhere.path().join("x.txt");
    let beside = probe.dir.path().join("x.txt");
    let sandbox = prepare(&adapter_as_is(&probe.exe));
    if !confined_or_degraded(&sandbox.protections()) {
        return;
    }
    for path in [&target, &beside] {
        let path = path.to_str().unwrap();
        assert_eq!(
            run(&probe.exe, Some(&sandbox), &["write", path]),
            "DENIED:EACCES"
        );
    }
    assert!(!target.exists() && !beside.exists());

    // A write tree, as the sandboxed build has.
    let out = tempfile::tempdir().unwrap();
    let written = out.path().join("nested/x.txt");
    let policy = Policy {
        write: vec![out.path().join("nested")],
        ..adapter_as_is(&probe.exe)
    };
    let sandbox = prepare(&policy);
    assert!(sandbox
        .protections()
        .filesystem
        .contains("writes limited to 1 paths"));
    assert!(
        out.path().join("nested").is_dir(),
        "prepare creates write trees"
    );
    assert_eq!(
        run(
            &probe.exe,
            Some(&sandbox),
            &["write", written.to_str().unwrap()]
        ),
        "OK"
    );
    assert_eq!(
        std::fs::read_to_string(&written).unwrap(),
        "written by sandbox-probe\n"
    );
    let sibling = out.path().join("sibling.txt");
    assert_eq!(
        run(
            &probe.exe,
            Some(&sandbox),
            &["write", sibling.to_str().unwrap()]
        ),
        "DENIED:EACCES"
    );
    assert_eq!(
        run(
            &probe.exe,
            Some(&sandbox),
            &["write", target.to_str().unwrap()]
        ),
        "DENIED:EACCES"
    );

    // The build policy: the target dir is writable, the staged copy is not.
    let staged = tempfile::tempdir().unwrap();
    let build_target = tempfile::tempdir().unwrap();
    let mut policy = Policy::for_build(staged.path(), &build_target.path().join("target"));
    policy.read.push(probe.dir.path().to_path_buf());
    runs_the_probe(&mut policy, &probe);
    let sandbox = prepare(&policy);
    let ok = build_target.path().join("target/debug/out.txt");
    std::fs::create_dir_all(ok.parent().unwrap()).unwrap();
    assert_eq!(
        run(&probe.exe, Some(&sandbox), &["write", ok.to_str().unwrap()]),
        "OK"
    );
    let tmp = build_target.path().join("target/tmp/scratch");
    assert_eq!(
        run(
            &probe.exe,
            Some(&sandbox),
            &["write", tmp.to_str().unwrap()]
        ),
        "OK"
    );
    let src = staged.path().join("build.rs");
    assert_eq!(
        run(
            &probe.exe,
            Some(&sandbox),
            &["write", src.to_str().unwrap()]
        ),
        "DENIED:EACCES"
    );
}

#[test]
fn tcp_connect_is_refused() {
    let probe = probe();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    assert_eq!(run(&probe.exe, None, &["connect", &addr]), "OK");
    let sandbox = prepare(&adapter_as_is(&probe.exe));
    let p = sandbox.protections();
    if p.network.starts_with("not available") {
        eprintln!("no network confinement here: {}", p.network);
        return;
    }
    assert_eq!(
        run(&probe.exe, Some(&sandbox), &["connect", &addr]),
        "DENIED:EACCES"
    );
}

#[test]
fn udp_sockets_cannot_be_created_but_unix_socket_pairs_can() {
    let probe = probe();
    assert_eq!(run(&probe.exe, None, &["udp"]), "OK");
    let sandbox = prepare(&adapter_as_is(&probe.exe));
    let p = sandbox.protections();
    if !p.network.contains("seccomp") {
        eprintln!("no seccomp here: {}", p.network);
        return;
    }
    assert_eq!(run(&probe.exe, Some(&sandbox), &["udp"]), "DENIED:EACCES");
    assert_eq!(run(&probe.exe, Some(&sandbox), &["unix-pair"]), "OK");
}

#[test]
fn privileged_syscalls_are_refused_and_threads_still_start() {
    let probe = probe();
    let sandbox = prepare(&adapter_as_is(&probe.exe));
    let p = sandbox.protections();
    if p.syscalls.starts_with("not available") {
        eprintln!("no seccomp here: {}", p.syscalls);
        return;
    }
    // Unconfined root may create a user namespace; confined it may not.
    if is_root() {
        assert_eq!(run(&probe.exe, None, &["unshare-user"]), "OK");
    }
    assert_eq!(
        run(&probe.exe, Some(&sandbox), &["unshare-user"]),
        "DENIED:EPERM"
    );
    assert_eq!(
        run(&probe.exe, Some(&sandbox), &["io-uring"]),
        "DENIED:EPERM"
    );
    // clone3 answers ENOSYS; glibc must fall back to clone for threads.
    assert_eq!(run(&probe.exe, Some(&sandbox), &["threads", "8"]), "OK");
}

#[test]
fn a_confined_child_cannot_read_its_parents_memory_or_environment() {
    let probe = probe();
    assert_eq!(run(&probe.exe, None, &["read-parent-environ"]), "OK");
    assert_eq!(run(&probe.exe, None, &["signal-parent"]), "OK");
    if is_root() {
        assert_eq!(run(&probe.exe, None, &["read-parent-mem"]), "OK");
    }
    let sandbox = prepare(&adapter_as_is(&probe.exe));
    if !confined_or_degraded(&sandbox.protections()) {
        return;
    }
    // The adapter policy: /proc is not readable at all.
    for what in ["read-parent-mem", "read-parent-environ"] {
        assert_eq!(
            run(&probe.exe, Some(&sandbox), &[what]),
            "DENIED:EACCES",
            "{what}"
        );
    }
    if kernel_landlock_abi().unwrap_or(0) >= 6 {
        assert_eq!(
            run(&probe.exe, Some(&sandbox), &["signal-parent"]),
            "DENIED:EPERM"
        );
    }

    // With /proc readable and the same uid, Landlock's ptrace rule alone still
    // refuses the parent's memory (an attach-mode access). Read-mode files
    // such as environ are not refused by it on every kernel (6.18 allows
    // them), which is why the adapter policy grants no /proc.
    let mut policy = adapter_as_is(&probe.exe);
    policy.read.push("/proc".into());
    let sandbox = prepare(&policy);
    assert_eq!(
        run(&probe.exe, Some(&sandbox), &["read", "/proc/self/status"]),
        "OK"
    );
    assert_eq!(
        run(&probe.exe, Some(&sandbox), &["read-parent-mem"]),
        "DENIED:EACCES"
    );

    // ...and with the uid drop, environ too.
    if is_root() {
        policy.drop_to_uid = Some(NOBODY);
        let sandbox = prepare(&policy);
        for what in ["read-parent-mem", "read-parent-environ"] {
            assert_eq!(
                run(&probe.exe, Some(&sandbox), &[what]),
                "DENIED:EACCES",
                "{what}"
            );
        }
    }
}

#[test]
fn a_fork_bomb_is_stopped_quickly() {
    let probe = probe();
    // Root: a uid of its own, limited to 16. Not root: a limit of 1, which the
    // user's own processes already exceed, so the first fork fails.
    let (limit, drop) = if is_root() {
        (16, Some((FORK_BOMB_UID, FORK_BOMB_UID)))
    } else {
        (1, None)
    };
    let policy = Policy {
        max_processes: Some(limit),
        drop_to_uid: drop,
        ..Policy::for_adapter(&probe.exe)
    };
    let sandbox = prepare(&policy);
    let start = Instant::now();
    let got = run(&probe.exe, Some(&sandbox), &["fork-bomb", "500"]);
    eprintln!(
        "fork bomb under a limit of {limit}: {got} in {:?}",
        start.elapsed()
    );
    assert!(
        start.elapsed() < Duration::from_secs(20),
        "took {:?}",
        start.elapsed()
    );
    let fields: Vec<&str> = got.split(':').collect();
    assert_eq!(fields.len(), 3, "{got}");
    assert_eq!(fields[0], "FORKS");
    let forks: u64 = fields[1].parse().unwrap();
    assert_eq!(fields[2], "EAGAIN", "{got}");
    assert!(forks < limit, "{got}: more than the limit of {limit}");
}

#[test]
fn root_without_a_uid_drop_is_told_the_process_limit_does_not_apply() {
    let probe = probe();
    let policy = Policy {
        max_processes: Some(64),
        drop_to_uid: None,
        ..Policy::for_adapter(&probe.exe)
    };
    let p = Prepared::prepare(&policy).protections();
    if is_root() {
        assert!(p.processes.contains("not enforced"), "{}", p.processes);
        assert_eq!(p.user, "stays root (uid 0): no uid drop");
    } else {
        assert!(
            p.processes.contains("every process and thread of uid"),
            "{}",
            p.processes
        );
    }
}

#[test]
fn the_adapter_runs_as_nobody_with_room_for_its_threads() {
    if !is_root() {
        eprintln!("skipped: the uid drop needs root");
        return;
    }
    let probe = probe();
    let sandbox = prepare(&Policy::for_adapter(&probe.exe));
    let (uid, gid) = NOBODY;
    assert_eq!(
        run(&probe.exe, Some(&sandbox), &["uid"]),
        format!("UID:{uid}:{uid}:{gid}:{gid}:0")
    );
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let threads = (2 * cores + 4).to_string();
    assert_eq!(
        run(&probe.exe, Some(&sandbox), &["threads", &threads]),
        "OK"
    );
}

/// A crate of one file, with a current Cargo.lock (the build's staged copy is
/// read-only, so the sandboxed cargo runs `--locked`).
fn tiny_crate(dir: &Path, main: &str) {
    std::fs::create_dir_all(dir.join("src")).unwrap();
    std::fs::write(
        dir.join("Cargo.toml"),
        "[package]\nname = \"tiny\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n[workspace]\n",
    )
    .unwrap();
    std::fs::write(dir.join("src/main.rs"), main).unwrap();
    let mut command = cargo();
    command
        .args(["generate-lockfile", "--offline"])
        .current_dir(dir);
    let output = run_command(command, None, Duration::from_secs(60));
    assert!(output.status.success(), "{output:?}");
}

fn cargo() -> Command {
    let mut command = Command::new(std::env::var_os("CARGO").unwrap_or("cargo".into()));
    for var in [
        "CARGO_TARGET_DIR",
        "CARGO_BUILD_TARGET_DIR",
        "CARGO_MAKEFLAGS",
        "MAKEFLAGS",
        "MFLAGS",
        "RUSTC_WRAPPER",
        "RUSTC_WORKSPACE_WRAPPER",
    ] {
        command.env_remove(var);
    }
    command
}

fn sandboxed_build(staged: &Path, target: &Path) -> Output {
    let sandbox = prepare(&Policy::for_build(staged, target));
    let mut command = cargo();
    command
        .args(["build", "--offline", "--locked", "--target-dir"])
        .arg(target)
        .current_dir(staged);
    run_command(command, Some(&sandbox), Duration::from_secs(300))
}

#[test]
fn cargo_build_works_in_the_build_sandbox_and_cannot_read_outside() {
    let work = tempfile::tempdir().unwrap();
    let staged = work.path().join("staged");
    tiny_crate(&staged, "fn main() {\n    println!(\"hello\");\n}\n");
    let target = work.path().join("target");
    let output = sandboxed_build(&staged, &target);
    assert!(
        output.status.success(),
        "sandboxed build failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(target.join("debug/tiny").is_file());

    // The same crate embedding a file from elsewhere.
    let elsewhere = tempfile::tempdir().unwrap();
    let secret = elsewhere.path().join("secret.txt");
    std::fs::write(&secret, "the answers").unwrap();
    let nosy = work.path().join("nosy");
    let main = format!(
        "const SECRET: &[u8] = include_bytes!({:?});\nfn main() {{\n    println!(\"{{}}\", SECRET.len());\n}}\n",
        secret.to_str().unwrap()
    );
    tiny_crate(&nosy, &main);
    // Unconfined, it compiles: the failure below is the sandbox's doing.
    let mut command = cargo();
    command
        .args(["check", "--offline", "--locked", "--target-dir"])
        .arg(work.path().join("unconfined-target"))
        .current_dir(&nosy);
    let output = run_command(command, None, Duration::from_secs(300));
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );

    let target = work.path().join("nosy-target");
    let output = sandboxed_build(&nosy, &target);
    let stderr = String::from_utf8_lossy(&output.stderr);
    let p = Prepared::prepare(&Policy::for_build(&nosy, &target)).protections();
    if !confined_or_degraded(&p) {
        assert!(output.status.success(), "{stderr}");
        return;
    }
    assert!(
        !output.status.success(),
        "include_bytes! of {secret:?} compiled"
    );
    assert!(stderr.contains("couldn't read"), "{stderr}");
    assert!(stderr.contains("Permission denied"), "{stderr}");
}

#[test]
fn the_build_cannot_read_files_at_the_top_of_cargo_home() {
    // Where credentials.toml would be; .package-cache is there once cargo ran.
    let cargo_home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")))
        .unwrap();
    let lock = cargo_home.join(".package-cache");
    if !lock.is_file() {
        eprintln!("skipped: no {lock:?}");
        return;
    }
    let probe = probe();
    let work = tempfile::tempdir().unwrap();
    let mut policy = Policy::for_build(work.path(), &work.path().join("target"));
    assert!(policy.read.contains(&cargo_home.join("registry")));
    assert!(!policy.read.contains(&cargo_home));
    policy.read.push(probe.dir.path().to_path_buf());
    runs_the_probe(&mut policy, &probe);
    let lock = lock.to_str().unwrap();
    assert_eq!(run(&probe.exe, None, &["read", lock]), "OK");
    let sandbox = prepare(&policy);
    if !confined_or_degraded(&sandbox.protections()) {
        return;
    }
    assert_eq!(
        run(&probe.exe, Some(&sandbox), &["read", lock]),
        "DENIED:EACCES"
    );
    let registry = cargo_home.join("registry");
    assert_eq!(
        run(
            &probe.exe,
            Some(&sandbox),
            &["read", registry.to_str().unwrap()]
        ),
        "OK"
    );
}

#[test]
fn nothing_new_runs_in_a_build_or_an_adapter() {
    let probe = probe();
    let work = tempfile::tempdir().unwrap();
    let target = work.path().join("target");
    // A program the build wrote (a copy of the probe, as a build script or
    // another student's binary would be) and one the adapter could read.
    let written = target.join("debug/written-probe");
    std::fs::create_dir_all(written.parent().unwrap()).unwrap();
    std::fs::copy(&probe.exe, &written).unwrap();
    assert_eq!(
        run(&probe.exe, None, &["exec", written.to_str().unwrap()]),
        "OK"
    );
    assert_eq!(run(&probe.exe, None, &["memfd"]), "OK");

    let mut policy = Policy::for_build(work.path(), &target);
    policy.read.push(probe.dir.path().to_path_buf());
    runs_the_probe(&mut policy, &probe);
    let sandbox = prepare(&policy);
    if !confined_or_degraded(&sandbox.protections()) {
        return;
    }
    assert!(sandbox
        .protections()
        .filesystem
        .contains("executes only under"));
    let written = written.to_str().unwrap();
    assert_eq!(
        run(&probe.exe, Some(&sandbox), &["exec", written]),
        "DENIED:EACCES"
    );
    assert_eq!(run(&probe.exe, Some(&sandbox), &["memfd"]), "DENIED:EPERM");
    // The system's programs still run.
    assert_eq!(
        run(&probe.exe, Some(&sandbox), &["exec", "/usr/bin/true"]),
        "OK"
    );

    let sandbox = prepare(&Policy {
        read: [Policy::for_adapter(&probe.exe).read, vec![target.clone()]].concat(),
        ..adapter_as_is(&probe.exe)
    });
    assert_eq!(
        run(&probe.exe, Some(&sandbox), &["exec", written]),
        "DENIED:EACCES"
    );
    assert_eq!(run(&probe.exe, Some(&sandbox), &["memfd"]), "DENIED:EPERM");
}
