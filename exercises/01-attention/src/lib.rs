//! # Exercise 01: scaled dot-product attention
//!
//! Attention is a weighted average. Each *query* asks "what am I looking
//! for?", each *key* says "what is here", and each *value* is the
//! information we pass on. A query's weight on key j is how well they
//! match, their dot product, turned into probabilities by a softmax over the
//! keys:
//!
//! ```text
//! weights = softmax(q · kᵀ · scale)        scale = 1 / sqrt(E) by default
//! output  = weights · v
//! ```
//!
//! ## Shapes
//!
//! | tensor    | shape        | meaning                                   |
//! |-----------|--------------|-------------------------------------------|
//! | `q`       | (…, L, E)    | L queries of size E                       |
//! | `k`       | (…, S, E)    | S keys, the same size E as the queries    |
//! | `v`       | (…, S, Ev)   | one value per key, of any size Ev         |
//! | `weights` | (…, L, S)    | row i: how much query i takes from each key |
//! | `output`  | (…, L, Ev)   | one weighted average of values per query  |
//!
//! `…` is any number of leading batch dimensions, none included: plain 2-D
//! inputs (L, E) work, as in the seed notebook's tests, and so do
//! (batch, heads, L, E). Why must q and k share E? Because `q · kᵀ` is a
//! dot product between them. Why may v differ? Because the weights only mix
//! the values; they never look inside them.
//!
//! Why divide by sqrt(E)? Take two random vectors whose E entries are
//! independent, with mean 0 and variance 1 (unit-variance entries). Their
//! dot product has variance E, so it grows like sqrt(E). Without the scale,
//! large E pushes the softmax into a near one-hot regime where gradients
//! vanish.
//!
//! ## candle for PyTorch users
//!
//! - **`?` after every op.** Shapes are checked at run time, so almost every
//!   tensor operation returns `Result<Tensor>`: `x.exp()?`,
//!   `a.matmul(&b)?`, `(&a + &b)?`. The last expression of a function that
//!   returns `Result<Tensor>` needs no `?`.
//! - **A scalar is an `f64`**: `(t * scale)?`, `(t / 2.0)?`, `(t - 1.0)?`
//!   (an `f32` or an integer does not compile: write `x as f64`). The
//!   PyTorch reflex `matmul(q, &kt) * scale` does not compile either:
//!   "cannot multiply `Result<candle_core::Tensor, candle_core::Error>` by
//!   `f64`". `matmul` returned a `Result`, not a tensor: add the `?` to it
//!   first, `(matmul(q, &kt)? * scale)?`.
//! - **Operators between tensors want equal shapes.** `&a + &b`, `&a * &b`
//!   (`&` keeps `a` and `b` usable afterwards) never broadcast. Where the
//!   shapes differ, use `a.broadcast_add(&b)?`, `broadcast_sub`,
//!   `broadcast_mul` or `broadcast_div`. They line shapes up from the right,
//!   as PyTorch does.
//! - **Comparisons give u8 masks of 1 and 0** (candle has no bool tensors).
//!   With a scalar: `t.ge(0.5)?`, `t.eq(0.0)?`, `t.ne(0.0)?` (also `gt`,
//!   `lt`, `le`). Between tensors of different shapes: `a.broadcast_le(&b)?`
//!   and its siblings. `mask.where_cond(&on_true, &on_false)?` is
//!   `torch.where`, but all three must have the same shape.
//! - **A compile error that points into candle's macros.** For an operator
//!   that does not fit, Rust adds a `help:` listing the types candle does
//!   implement it for, lines of candle's `tensor.rs` and a note that "this
//!   error originates in the macro `bin_trait`". Skip all of that. Read the
//!   `error[E0277]: …` line and the first `-->` under it, which names *your*
//!   file and line: that is where the mistake is.
//!
//! ## candle tips
//! - `Tensor::t()` swaps the last two dimensions without copying: the result
//!   is a strided view. The given [`matmul`] below makes both operands
//!   contiguous itself, so `matmul(q, &k.t()?)` needs no `.contiguous()`.
//!   Only before candle's own `Tensor::matmul` is `.contiguous()` worth a
//!   thought: it can reject batch dimensions that are not laid out one
//!   after the other, as after a `transpose(1, 2)`.
//! - candle's `Tensor::matmul` also wants equal batch dimensions, and on
//!   the CPU no more than two of them; use the given [`matmul`] below,
//!   which broadcasts and flattens any number of batch dimensions.
//! - `D::Minus1` names the last dimension; `max_keepdim`, `sum_keepdim`,
//!   `broadcast_sub` and `broadcast_div` keep shapes lined up.
//!
//! Check your work with `cargo run -p grader -- 01`.

use candle_core::{Result, Tensor, D};

/// Batched matrix product with broadcast batch dimensions:
/// (…, M, K) · (…, K, N) → (…, M, N), like `torch.matmul` (given: read it
/// in `given/matmul.rs`).
#[path = "../given/matmul.rs"]
mod given;
pub use given::matmul;

/// Softmax over the last dimension: `exp(x) / sum(exp(x))`, row by row.
///
/// Make it numerically stable: `exp(1000.0)` overflows f32 to infinity and
/// the result becomes NaN. Softmax does not change when the same number is
/// subtracted from a whole row, so subtract the row's maximum first; then
/// every exponent is ≤ 0 and the largest is exactly 1.
///
/// Build it from basic tensor operations (not `candle_nn::ops`): exercise 06
/// trains through it, and every operation you use here passes gradients.
///
/// Shape: (…, N) → (…, N); each row sums to 1.
pub fn softmax(x: &Tensor) -> Result<Tensor> {
    todo!()
}

/// The attention weights `softmax(q · kᵀ · scale)`.
///
/// - `q`: (…, L, E), `k`: (…, S, E); their batch dimensions broadcast.
/// - `scale`: `None` means `1 / sqrt(E)`, as in PyTorch.
///
/// Returns (…, L, S); row i is a probability distribution over the S keys.
pub fn attention_weights(q: &Tensor, k: &Tensor, scale: Option<f64>) -> Result<Tensor> {
    todo!()
}

/// Scaled dot-product attention, PyTorch's
/// `F.scaled_dot_product_attention(q, k, v, scale=scale)`.
///
/// - `q`: (…, L, E), `k`: (…, S, E), `v`: (…, S, Ev).
///
/// Returns (…, L, Ev): row i is the average of the values weighted by row i
/// of [`attention_weights`].
pub fn scaled_dot_product_attention(
    q: &Tensor,
    k: &Tensor,
    v: &Tensor,
    scale: Option<f64>,
) -> Result<Tensor> {
    todo!()
}
