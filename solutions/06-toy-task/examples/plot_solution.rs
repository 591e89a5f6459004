//! The plot command of exercise 06 on the reference solution:
//!
//! ```text
//! cargo run -p sol06-toy-task --example plot_solution --features plot -- --out out/06-solution
//! ```
//!
//! The command itself lives beside the exercise (one copy for both). Its
//! own name keeps its binary apart from the exercise's `plot`.

#[path = "../../../exercises/06-toy-task/examples/plot/figure.rs"]
mod figure;

use sol06_toy_task as toy;

fn main() -> anyhow::Result<()> {
    figure::run()
}
