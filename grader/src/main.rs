//! The grader's binary: the launcher, and the one trusted program that
//! judges every exercise (`grader judge NN-name`, see `grader::judges`).

use grader_kit::Worker;

/// The judges this binary is built with, by exercise folder.
fn judges(dir: &str) -> Option<fn(&mut Worker)> {
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
        "10-gpt" => check_10_gpt::checks,
        _ => return None,
    })
}

fn main() {
    // Whatever a worker, an adapter or a build leaves behind (a process that
    // left its group) is re-parented to the launcher, which ends it after
    // each run (grader_kit::process::sweep).
    grader_kit::process::become_subreaper();
    grader::judges::install(judges);
    std::process::exit(grader::cli::main());
}
