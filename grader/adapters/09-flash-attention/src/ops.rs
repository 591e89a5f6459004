//! Exercise 09's ops, declared once: the judge's typed calls and this
//! adapter's dispatch both come from here (see `grader_kit::ops`).
//!
//! Besides the four ops of the fixture cases, two measure: `memory` (the
//! peak heap bytes of the student's forward and backward, outputs
//! included) and `speed` (the seconds of the student's forward and backward
//! and of a naive candle path on the same inputs). The judge decides what
//! the numbers mean.
//!
//! `tiles`: the tile sizes (Bq, Bk), `[Bq, Bk]` on the wire; `None` (null)
//! for the default.

use grader_kit::ops::Tensor;

grader_kit::ops! {
    fn online_softmax(x: Tensor) -> (out: Tensor);
    fn flash_forward(q: Tensor, k: Tensor, v: Tensor, is_causal: bool, scale: Option<f64>,
        tiles: Option<(usize, usize)>) -> (out: Tensor, lse: Tensor);
    fn flash_backward(q: Tensor, k: Tensor, v: Tensor, out: Tensor, lse: Tensor, d_out: Tensor,
        is_causal: bool, scale: Option<f64>, tiles: Option<(usize, usize)>)
        -> (dq: Tensor, dk: Tensor, dv: Tensor);
    /// The `FlashAttention` op through candle's autograd: out =
    /// apply_op3(q, k, v), loss = sum(out · d_out), then the gradients of q,
    /// k and v (a gradient that does not reach its input is left out, for
    /// the judge to report).
    fn flash_attention(q: Tensor, k: Tensor, v: Tensor, d_out: Tensor, is_causal: bool,
        scale: Option<f64>, tiles: Option<(usize, usize)>)
        -> (out: Tensor, dq: Option<Tensor>, dk: Option<Tensor>, dv: Option<Tensor>);
    /// The peak bytes allocated during the student's forward and backward
    /// (default tiles and scale; outputs included), with `threads` threads
    /// asked for, and how many threads allocated (the most of the two).
    fn memory(q: Tensor, k: Tensor, v: Tensor, d_out: Tensor, is_causal: bool, threads: usize)
        -> (forward_peak: f64, backward_peak: f64, threads_used: f64);
    /// Seconds: the median of `reps` runs of the student's forward and
    /// backward, and of `naive_reps` runs of the naive path's.
    fn speed(q: Tensor, k: Tensor, v: Tensor, d_out: Tensor, is_causal: bool, reps: usize,
        naive_reps: usize) -> (flash_forward: f64, flash_backward: f64, naive_forward: f64,
        naive_backward: f64);
}
