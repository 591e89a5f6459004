//! Exercise 04's ops, declared once: the judge's typed calls and this
//! adapter's dispatch both come from here (see `grader_kit::ops`).
//!
//! The `mha_*` ops are one computation, `nn.MultiheadAttention(batch_first=True)`
//! built from `params` and run once, under the names the fixture cases
//! group it by. A mask travels as one tensor: u8 is a bool mask (1 = may
//! NOT attend, PyTorch's convention), any other dtype an additive one.

use grader_kit::ops::{Tensor, Weights};

grader_kit::ops! {
    fn split_heads(x: Tensor, num_heads: usize) -> (out: Tensor);
    fn combine_heads(x: Tensor) -> (out: Tensor);
    fn mha_self(params: Weights, sizes: MhaSizes, query: Tensor, key: Tensor, value: Tensor,
        key_padding_mask: Option<Tensor>, attn_mask: Option<Tensor>, need_weights: bool,
        average_attn_weights: bool) -> (out: Tensor, weights: Option<Tensor>);
    fn mha_cross(params: Weights, sizes: MhaSizes, query: Tensor, key: Tensor, value: Tensor,
        key_padding_mask: Option<Tensor>, attn_mask: Option<Tensor>, need_weights: bool,
        average_attn_weights: bool) -> (out: Tensor, weights: Option<Tensor>);
    fn mha_masked(params: Weights, sizes: MhaSizes, query: Tensor, key: Tensor, value: Tensor,
        key_padding_mask: Option<Tensor>, attn_mask: Option<Tensor>, need_weights: bool,
        average_attn_weights: bool) -> (out: Tensor, weights: Option<Tensor>);
    fn mha_weights(params: Weights, sizes: MhaSizes, query: Tensor, key: Tensor, value: Tensor,
        key_padding_mask: Option<Tensor>, attn_mask: Option<Tensor>, need_weights: bool,
        average_attn_weights: bool) -> (out: Tensor, weights: Option<Tensor>);
    /// Exercise 03's op: the student's own head (`mask` 1 = may attend), for
    /// "one head equals exercise 03".
    fn head_masked(params: Weights, model_dim: usize, qk_dim: usize, x: Tensor, mask: Option<Tensor>)
        -> (out: Tensor);
}

grader_kit::params! {
    /// `nn.MultiheadAttention`'s sizes: the params `embed_dim`, `num_heads`,
    /// `kdim` and `vdim` (absent or null: embed_dim), as the fixture cases
    /// name them.
    pub struct MhaSizes {
        pub embed_dim: usize,
        pub num_heads: usize,
        pub kdim: Option<usize>,
        pub vdim: Option<usize>,
    }
}
