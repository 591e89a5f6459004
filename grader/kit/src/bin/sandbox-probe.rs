//! A probe for the sandbox's tests (`tests/sandbox.rs`): does one thing that a
//! sandbox should allow or deny and prints one line, `OK` or `DENIED:<errno>`
//! (or the command's own result line).
//!
//! ```text
//! sandbox-probe read PATH            read a file (or list a folder)
//! sandbox-probe write PATH           create and write a file
//! sandbox-probe connect ADDR         TCP connect, e.g. 127.0.0.1:8080
//! sandbox-probe udp                  create a UDP socket
//! sandbox-probe unix-pair            create a pair of unix sockets
//! sandbox-probe threads N            start N threads at once
//! sandbox-probe fork-bomb MAX        fork until it fails (at most MAX): FORKS:<n>:<errno>
//! sandbox-probe read-parent-mem      open /proc/<parent>/mem
//! sandbox-probe read-parent-environ  read /proc/<parent>/environ
//! sandbox-probe signal-parent        kill(parent, 0)
//! sandbox-probe unshare-user         unshare(CLONE_NEWUSER)
//! sandbox-probe io-uring             io_uring_setup
//! sandbox-probe uid                  UID:<uid>:<euid>:<gid>:<egid>:<supplementary groups>
//! ```

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    println!("{}", probe(&args));
}

#[cfg(not(target_os = "linux"))]
fn probe(_args: &[&str]) -> String {
    "UNSUPPORTED".to_string()
}

#[cfg(target_os = "linux")]
fn probe(args: &[&str]) -> String {
    use std::io::Read;
    let result = |r: std::io::Result<()>| match r {
        Ok(()) => "OK".to_string(),
        Err(e) => format!("DENIED:{}", name(e.raw_os_error().unwrap_or(0))),
    };
    // SAFETY: getppid cannot fail.
    let parent = unsafe { libc::getppid() };
    match args {
        ["read", path] => result((|| {
            let path = std::path::Path::new(path);
            if path.is_dir() {
                std::fs::read_dir(path)?.next().transpose()?;
            } else {
                let mut buf = [0u8; 16];
                let _ = std::fs::File::open(path)?.read(&mut buf)?;
            }
            Ok(())
        })()),
        ["write", path] => result(std::fs::write(path, b"written by sandbox-probe\n")),
        ["connect", addr] => result((|| {
            let addr: std::net::SocketAddr = addr.parse().map_err(std::io::Error::other)?;
            std::net::TcpStream::connect_timeout(&addr, std::time::Duration::from_secs(5))?;
            Ok(())
        })()),
        ["udp"] => result(std::net::UdpSocket::bind("127.0.0.1:0").map(drop)),
        // Runs `path uid`: OK when it ran (exit status 0), else the errno.
        ["exec", path] => result((|| {
            let status = std::process::Command::new(path).arg("uid").output()?.status;
            if status.success() {
                Ok(())
            } else {
                Err(std::io::Error::other(format!("{status}")))
            }
        })()),
        // An in-memory file, as a program is loaded that is not on disk.
        ["memfd"] => result((|| {
            // SAFETY: memfd_create(2) of a static name.
            let fd = unsafe { libc::syscall(libc::SYS_memfd_create, c"probe".as_ptr(), 0u32) };
            cvt(fd)?;
            // SAFETY: fd was just returned to us.
            unsafe { libc::close(fd as libc::c_int) };
            Ok(())
        })()),
        ["unix-pair"] => result(std::os::unix::net::UnixStream::pair().map(drop)),
        ["threads", n] => result((|| {
            let n: usize = n.parse().map_err(std::io::Error::other)?;
            let barrier = std::sync::Arc::new(std::sync::Barrier::new(n + 1));
            let mut handles = Vec::new();
            for _ in 0..n {
                let barrier = barrier.clone();
                let spawned = std::thread::Builder::new().spawn(move || {
                    barrier.wait();
                });
                match spawned {
                    Ok(h) => handles.push(h),
                    Err(e) => {
                        // Release the ones already waiting: exit without joining.
                        println!("DENIED:{}", name(e.raw_os_error().unwrap_or(0)));
                        std::process::exit(0);
                    }
                }
            }
            barrier.wait();
            for h in handles {
                h.join()
                    .map_err(|_| std::io::Error::other("thread panicked"))?;
            }
            Ok(())
        })()),
        ["fork-bomb", max] => fork_bomb(max.parse().unwrap_or(1000)),
        ["read-parent-mem"] => result(std::fs::File::open(format!("/proc/{parent}/mem")).map(drop)),
        ["read-parent-environ"] => {
            result(std::fs::read(format!("/proc/{parent}/environ")).map(drop))
        }
        // SAFETY: signal 0 only checks permission.
        ["signal-parent"] => result(cvt(unsafe { libc::kill(parent, 0) } as libc::c_long)),
        // SAFETY: a plain syscall; the probe is single-threaded here.
        ["unshare-user"] => result(cvt(
            unsafe { libc::unshare(libc::CLONE_NEWUSER) } as libc::c_long
        )),
        ["io-uring"] => {
            // struct io_uring_params is 120 bytes; zeroed asks for defaults.
            let mut params = [0u8; 120];
            // SAFETY: params is large enough for the kernel to write into.
            let fd = unsafe { libc::syscall(libc::SYS_io_uring_setup, 1u32, params.as_mut_ptr()) };
            if fd >= 0 {
                // SAFETY: fd was just returned to us.
                unsafe { libc::close(fd as libc::c_int) };
            }
            result(cvt(fd))
        }
        ["uid"] => {
            // SAFETY: these cannot fail; getgroups(0, NULL) only counts.
            unsafe {
                format!(
                    "UID:{}:{}:{}:{}:{}",
                    libc::getuid(),
                    libc::geteuid(),
                    libc::getgid(),
                    libc::getegid(),
                    libc::getgroups(0, std::ptr::null_mut())
                )
            }
        }
        _ => format!("USAGE: unknown command {args:?}"),
    }
}

#[cfg(target_os = "linux")]
fn cvt(r: libc::c_long) -> std::io::Result<()> {
    if r < 0 {
        Err(std::io::Error::last_os_error())
    } else {
        Ok(())
    }
}

/// Forks paused children until fork fails or `max` succeeded, kills and reaps
/// them, and prints `FORKS:<n>:<errno>` (`NONE` when nothing stopped it).
#[cfg(target_os = "linux")]
fn fork_bomb(max: usize) -> String {
    let mut children: Vec<libc::pid_t> = Vec::with_capacity(max);
    let mut error = "NONE".to_string();
    // SAFETY: getpid cannot fail.
    let me = unsafe { libc::getpid() };
    for _ in 0..max {
        // SAFETY: the child only makes async-signal-safe calls, then waits to
        // be killed: by us, by its parent's death, or by its own alarm.
        match unsafe { libc::fork() } {
            0 => unsafe {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                if libc::getppid() != me {
                    libc::_exit(0);
                }
                libc::alarm(30);
                loop {
                    libc::pause();
                }
            },
            -1 => {
                error = name(std::io::Error::last_os_error().raw_os_error().unwrap_or(0));
                break;
            }
            pid => children.push(pid),
        }
    }
    for &pid in &children {
        // SAFETY: pid is our own child, not yet reaped.
        unsafe { libc::kill(pid, libc::SIGKILL) };
    }
    for &pid in &children {
        // SAFETY: as above.
        unsafe { libc::waitpid(pid, std::ptr::null_mut(), 0) };
    }
    format!("FORKS:{}:{error}", children.len())
}

#[cfg(target_os = "linux")]
fn name(errno: i32) -> String {
    match errno {
        libc::EACCES => "EACCES".into(),
        libc::EPERM => "EPERM".into(),
        libc::EAGAIN => "EAGAIN".into(),
        libc::ENOENT => "ENOENT".into(),
        libc::ENOSYS => "ENOSYS".into(),
        libc::EINVAL => "EINVAL".into(),
        libc::ECONNREFUSED => "ECONNREFUSED".into(),
        libc::EROFS => "EROFS".into(),
        0 => "UNKNOWN".into(),
        n => format!("E{n}"),
    }
}
