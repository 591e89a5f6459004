//! Trains YOUR model (exercise 06) and draws the seed notebook's figure:
//!
//! ```text
//! cargo run -p ex06-toy-task --example plot --features plot -- --out out/06
//! ```
//!
//! writes out/06/toy-task.png and out/06/toy-task.svg: the attention heat map
//! with the digits written on it (2s and 4s in red), the values where the
//! attention is above 0.1, and the loss curve. Options: `--seed N`,
//! `--rows N` (sequences shown), `--steps N` (default: the lesson's budget).

mod figure;

use ex06_toy_task as toy;

fn main() -> anyhow::Result<()> {
    figure::run()
}
