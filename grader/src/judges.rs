//! The judges this launcher was built with: one trusted program judges
//! every exercise of the kit it comes from. The launcher runs one as a
//! process of its own, `grader judge NN-name ARGS…` (its own binary,
//! re-executed), so that each exercise keeps its isolation and time limit.
//!
//! A kit whose exercise has no judge here (the grader's own test kits) has
//! its judge built from its `grader/checks/NN-name` crate instead.

use grader_kit::Worker;

/// The checks of the exercise in folder `dir`, when this launcher has them.
pub fn builtin(dir: &str) -> Option<fn(&mut Worker)> {
    Some(match dir {
        "01-attention" => check_01_attention::checks,
        "02-masked-attention" => check_02_masked_attention::checks,
        "03-head" => check_03_head::checks,
        "04-multi-head" => check_04_multi_head::checks,
        "05-decoder-layer" => check_05_decoder_layer::checks,
        "06-toy-task" => check_06_toy_task::checks,
        "07-attention-habit" => check_07_attention_habit::checks,
        "08-bert" => check_08_bert::checks,
        "09-flash-attention" => check_09_flash_attention::checks,
        _ => return None,
    })
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
