// fork-bomb: forks without end in softmax, every child too, retrying when
// fork fails. RLIMIT_NPROC (with the drop to a uid of its own) bounds it,
// the time limit ends it, and the grader must kill every process it left.
// Its honest code is todo!(): it must earn 0.
//
// Safety nets for the machine running the tests: it bombs only when not
// root and under an RLIMIT_NPROC of at most 4096 (the sandbox's drop to a
// uid of its own), and every bomb process exits LIFETIME seconds after
// the first fork.

#[repr(C)]
struct Rlimit {
    current: u64,
    max: u64,
}

extern "C" {
    fn fork() -> i32;
    fn getuid() -> u32;
    fn getrlimit(resource: i32, limit: *mut Rlimit) -> i32;
}

/// Seconds a bomb process lives (filled in by the test).
const LIFETIME: &str = "@LIFETIME@";

/// RLIMIT_NPROC on Linux (x86_64, aarch64).
const RLIMIT_NPROC: i32 = 6;

pub fn softmax(x: &Tensor) -> Result<Tensor> {
    let mut limit = Rlimit {
        current: u64::MAX,
        max: u64::MAX,
    };
    // SAFETY: getuid cannot fail; getrlimit writes one struct we own.
    let (uid, limited) = unsafe { (getuid(), getrlimit(RLIMIT_NPROC, &mut limit) == 0) };
    if uid == 0 || !limited || limit.current > 4096 {
        return Err(candle_core::Error::Msg(format!(
            "fork-bomb: not bombing without a process limit (uid {uid}, RLIMIT_NPROC {})",
            limit.current
        )));
    }
    let lifetime: u64 = LIFETIME.parse().expect("a number of seconds");
    let start = std::time::Instant::now();
    loop {
        // SAFETY: the child only loops over fork and sleep.
        if unsafe { fork() } < 0 {
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        if start.elapsed().as_secs() >= lifetime {
            std::process::exit(0);
        }
    }
}

pub fn attention_weights(q: &Tensor, k: &Tensor, scale: Option<f64>) -> Result<Tensor> {
    todo!()
}

pub fn scaled_dot_product_attention(
    q: &Tensor,
    k: &Tensor,
    v: &Tensor,
    scale: Option<f64>,
) -> Result<Tensor> {
    todo!()
}
