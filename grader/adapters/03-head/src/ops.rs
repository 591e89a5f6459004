//! Exercise 03's ops, declared once: the judge's typed calls and this
//! adapter's dispatch both come from here (see `grader_kit::ops`).

use grader_kit::ops::{Tensor, Weights};

grader_kit::ops! {
    /// The seed's `SelfAttentionHead` with these weights on `x`; `mask`:
    /// exercise 02's, u8 (1 = may attend) or f32 (additive).
    fn head(params: Weights, model_dim: usize, qk_dim: usize, x: Tensor, mask: Option<Tensor>)
        -> (out: Tensor);
    /// The same, as the fixture cases with a mask name it.
    fn head_masked(params: Weights, model_dim: usize, qk_dim: usize, x: Tensor, mask: Option<Tensor>)
        -> (out: Tensor);
}
