//! Exercise 07's ops, declared once: the judge's typed calls and this
//! adapter's dispatch both come from here (see `grader_kit::ops`).

use grader_kit::ops::{Tensor, Weights};

grader_kit::ops! {
    fn scaled_dot_product(query: Tensor, key: Tensor) -> (weights: Tensor);
    fn cosine_similarity(query: Tensor, key: Tensor) -> (sim: Tensor);
    fn multihead_attention(query: Tensor, key: Tensor, value: Tensor, heads: usize) -> (out: Tensor);
    fn multihead_attention_with_projections(params: Weights, embed_dim: usize, kdim: usize,
        vdim: usize, query: Tensor, key: Tensor, value: Tensor, heads: usize) -> (out: Tensor);
    /// `AttentionHabit::forward(init, input)` of the layer with these
    /// weights and sizes.
    fn attention_habit(params: Weights, parent_size: usize, child_size: usize,
        attention_heads: usize, attention_dim: usize, init: Tensor, input: Tensor) -> (out: Tensor);
    /// The same layer's `on_node(init)` in a `candle_nn::seq()`, run on `input`.
    fn attention_habit_on_node(params: Weights, parent_size: usize, child_size: usize,
        attention_heads: usize, attention_dim: usize, init: Tensor, input: Tensor) -> (out: Tensor);
}
