//! The judges this launcher was built with: one trusted program judges
//! every exercise of the kit it comes from. The launcher runs one as a
//! process of its own, `grader judge NN-name ARGS…` (its own binary,
//! re-executed), so that each exercise keeps its isolation and time limit.
//!
//! A kit whose exercise has no judge here (the grader's own test kits) has
//! its judge built from its `grader/checks/NN-name` crate instead.

use std::sync::OnceLock;

use grader_kit::Worker;

/// A launcher's table of judges: the checks of the exercise in a folder.
pub type Registry = fn(&str) -> Option<fn(&mut Worker)>;

static REGISTRY: OnceLock<Registry> = OnceLock::new();

/// Installs the judges the binary was built with (`src/main.rs` does, first
/// thing). The library itself links none: the grader's own tests, which
/// call it in-process on test kits, need no candle.
pub fn install(registry: Registry) {
    let _ = REGISTRY.set(registry);
}

/// The checks of the exercise in folder `dir`, when this launcher has them.
pub fn builtin(dir: &str) -> Option<fn(&mut Worker)> {
    REGISTRY.get().and_then(|registry| registry(dir))
}

/// `grader judge DIR ARGS…`: runs the judge of `dir` as a worker (see
/// `grader_kit::harness::run_with`); exits 2 when there is none.
pub fn run(dir: &str, args: Vec<String>) -> i32 {
    match builtin(dir) {
        Some(checks) => {
            grader_kit::harness::run_with(args, checks);
            0
        }
        None => {
            eprintln!("this grader has no judge for {dir:?}");
            2
        }
    }
}
