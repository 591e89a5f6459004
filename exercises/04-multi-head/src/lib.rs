//! # Exercise 04: multi-head attention, as `nn.MultiheadAttention`
//!
//! One head (exercise 03) computes one set of attention weights: each token
//! can look at the others in one way only. Multi-head attention runs H
//! heads side by side, each with its own smaller queries, keys and values,
//! so one head can follow syntax while another follows, say, coreference.
//! Their outputs are concatenated and mixed by one more linear layer.
//!
//! ```text
//! q = query · W_qᵀ + b_q      k = key · W_kᵀ + b_k      v = value · W_vᵀ + b_v
//! split each into H heads of size D = E / H
//! head_h = softmax(q_h · k_hᵀ / sqrt(D) + mask) · v_h
//! out    = concat(head_1 … head_H) · W_oᵀ + b_o
//! ```
//!
//! You build exactly PyTorch's `nn.MultiheadAttention(E, H, batch_first=True)`:
//! same parameters, same names, same masks, same outputs, so a PyTorch
//! `state_dict` loads into your module with no renaming.
//!
//! ## Ask yourself
//!
//! 1. *What should the dimensions of my input be? What do they **need** to
//!    be for the operations to work out?* E must divide by H. The query
//!    and the key may have different lengths L and S (cross-attention: a
//!    decoder reading an encoder), and even different widths (kdim, vdim),
//!    because the projections bring them all to E.
//! 2. *What parameters might I need?* One projection each for q, k and v,
//!    and one for the output. Splitting into heads adds **no** parameters:
//!    H heads of size E/H cost as much as one head of size E.
//!
//! ## Shapes (batch_first)
//!
//! | tensor             | shape          | why                                          |
//! |--------------------|----------------|----------------------------------------------|
//! | `query`            | (B, L, E)      | the tokens that ask                          |
//! | `key`              | (B, S, kdim)   | the tokens looked at (kdim = E by default)   |
//! | `value`            | (B, S, vdim)   | one value per key (vdim = E by default)      |
//! | q after projection | (B, L, E)      | E = H · D                                    |
//! | q after split      | (B, H, L, D)   | heads become a batch dimension: one matmul does them all |
//! | weights            | (B, H, L, S)   | one attention matrix per head                |
//! | heads' output      | (B, H, L, D)   |                                              |
//! | combined           | (B, L, E)      | the heads side by side again                 |
//! | output             | (B, L, E)      | after `out_proj`                             |
//!
//! Why split as (B, L, H, D) and then swap to (B, H, L, D)? The projection
//! gives each token one vector of E = H·D numbers; head h owns the slice
//! `h·D .. (h+1)·D`. Reshaping the last axis to (H, D) keeps those slices
//! together; reshaping to (D, H) would interleave the heads. Moving H in
//! front of L makes (L, D) the last two axes, the matrix each head attends
//! with. `combine_heads` undoes both steps.
//!
//! ## The parameters, by their PyTorch names
//!
//! | name              | shape     | when                                  |
//! |-------------------|-----------|---------------------------------------|
//! | `in_proj_weight`  | (3E, E)   | kdim = vdim = E: W_q, W_k, W_v stacked in that order |
//! | `q_proj_weight`   | (E, E)    | instead of in_proj_weight when kdim or vdim ≠ E |
//! | `k_proj_weight`   | (E, kdim) | 〃                                     |
//! | `v_proj_weight`   | (E, vdim) | 〃                                     |
//! | `in_proj_bias`    | (3E,)     | always: b_q, b_k, b_v stacked         |
//! | `out_proj.weight` | (E, E)    |                                       |
//! | `out_proj.bias`   | (E,)      |                                       |
//!
//! ## Masks: mind the convention
//!
//! `nn.MultiheadAttention` takes two optional masks, and its boolean masks
//! mean the **opposite** of `F.scaled_dot_product_attention`'s (exercise
//! 02): here 1 (true) means "NOT allowed". Float masks are added to the
//! scores, as in exercise 02.
//!
//! - `key_padding_mask` (B, S): which keys are padding, per sequence.
//! - `attn_mask` (L, S), the same for every sequence and head, or
//!   (B·H, L, S), one per sequence and head (sequence-major: index b·H + h).
//!
//! Both may be given; their additive forms add up. Turn a boolean mask into
//! an additive one (0 where allowed, −∞ where not) and the rest is your
//! exercise-02 attention.
//!
//! A query row whose keys are all masked has no defined softmax. PyTorch
//! answers in two ways. With `need_weights=True` its weights and its output
//! row are NaN. With `need_weights=False` (it then calls
//! `F.scaled_dot_product_attention`) the weights are 0, so the heads'
//! output is 0 and the output row is `out_proj`'s bias b_o. The fixtures
//! never mask a whole row, so the grader never checks this case. Your
//! exercise-02 attention already gives such a row weights of 0, and the
//! reference solution keeps them: weights of 0 (when returned) and an
//! output row equal to b_o, with or without `need_weights`.
//!
//! ## Unbatched inputs: a batch of one
//!
//! Unbatched inputs (see [`MultiheadAttention::forward`]) are a batch of
//! one. `unsqueeze(0)` the query (L, E) to (1, L, E), likewise the key and
//! the value, and the key_padding_mask (S) to (1, S). Then run the batched
//! code, and `squeeze(0)` the output and the weights. The attn_mask needs
//! nothing: (L, S) is already the form shared by every sequence, and
//! (H, L, S) is exactly (B·H, L, S) with B = 1.
//!
//! ## The weights it returns
//!
//! With `need_weights`, the attention weights come back too: per head
//! (B, H, L, S), or averaged over the heads (B, L, S) when
//! `average_attn_weights` (PyTorch's default). Averaging is for looking at
//! them; the output always uses each head's own weights.
//!
//! Not covered (PyTorch features the exercises never use): dropout,
//! `add_bias_kv`, `add_zero_attn`, `bias=False`.
//!
//! ## candle tips
//! - `vb.get(shape, name)` reads one named tensor and checks its shape:
//!   `vb.get((3 * e, e), "in_proj_weight")?`, `vb.get(3 * e, "in_proj_bias")?`.
//! - `narrow(0, start, len)` cuts W_q, W_k, W_v out of `in_proj_weight`
//!   (and b_q, b_k, b_v out of `in_proj_bias`).
//! - `candle_nn::Linear::new(weight, Some(bias))` makes a layer of tensors
//!   you already hold, such as those slices;
//!   `candle_nn::linear(e, e, vb.pp("out_proj"))` loads `out_proj.weight`
//!   and `out_proj.bias`.
//! - `candle_core::bail!("embed_dim {e} is not divisible by {h} heads")`
//!   returns an error with that message from the function; use it, not a
//!   panic, for sizes that do not fit.
//! - `let (b, l, e) = x.dims3()?;` unpacks a shape and fails unless x has
//!   rank 3; `dims4()` is the same for rank 4.
//! - `weights.mean(1)?` averages over axis 1 and drops it: the heads of
//!   (B, H, L, S) give (B, L, S).
//! - `unsqueeze(0)` adds a leading axis of size 1, `squeeze(0)` drops it:
//!   the way in and out of a batch of one.
//! - candle's `reshape` works on any layout: unlike PyTorch's `view`, it
//!   copies a non-contiguous input. `split_heads` still ends with
//!   `.contiguous()`, as its doc promises: candle's `matmul` can reject the
//!   (B, H) batch dimensions as `transpose(1, 2)` leaves them.
//! - `where_cond` picks between two tensors by a u8 mask;
//!   `Tensor::full(f32::NEG_INFINITY, shape, device)` makes the −∞s.
//! - `broadcast_add` lines a (B, 1, 1, S) mask up with (1, 1, L, S).
//!
//! Check your work with `cargo run -p grader -- 04`.

use candle_core::{DType, Module, Result, Tensor};
use candle_nn::{Linear, VarBuilder};

/// A mask in `nn.MultiheadAttention`'s conventions.
#[derive(Debug, Clone)]
pub enum MhaMask {
    /// u8, 1 = this key is NOT allowed (true in PyTorch's bool mask).
    Bool(Tensor),
    /// Added to the scores before the softmax (−∞ forbids).
    Float(Tensor),
}

impl MhaMask {
    /// The additive form of the mask, as f32: a `Float` mask as it is, a
    /// `Bool` mask as 0 where allowed (0) and −∞ where not (1).
    pub fn additive(&self) -> Result<Tensor> {
        todo!()
    }
}

/// Splits the last axis into heads: (B, L, H·D) → (B, H, L, D). Head h gets
/// the features `h·D .. (h+1)·D` of every token. The result is contiguous.
pub fn split_heads(x: &Tensor, num_heads: usize) -> Result<Tensor> {
    todo!()
}

/// Puts the heads side by side again: (B, H, L, D) → (B, L, H·D), the
/// inverse of [`split_heads`].
pub fn combine_heads(x: &Tensor) -> Result<Tensor> {
    todo!()
}

/// `nn.MultiheadAttention(embed_dim, num_heads, kdim=kdim, vdim=vdim,
/// batch_first=True)`, without dropout.
pub struct MultiheadAttention {
    q_proj: Linear,
    k_proj: Linear,
    v_proj: Linear,
    out_proj: Linear,
    embed_dim: usize,
    num_heads: usize,
}

impl MultiheadAttention {
    /// Loads the weights named exactly as `nn.MultiheadAttention`'s
    /// state_dict: `in_proj_weight` (3E, E) in q, k, v order, `in_proj_bias`
    /// (3E,), `out_proj.weight` (E, E) and `out_proj.bias` (E,); and
    /// `q_proj_weight` (E, E), `k_proj_weight` (E, kdim), `v_proj_weight`
    /// (E, vdim) instead of `in_proj_weight` when kdim or vdim ≠ embed_dim.
    /// `kdim`/`vdim`: `None` means embed_dim. Fails unless num_heads divides
    /// embed_dim.
    pub fn new(
        vb: VarBuilder,
        embed_dim: usize,
        num_heads: usize,
        kdim: Option<usize>,
        vdim: Option<usize>,
    ) -> Result<Self> {
        todo!()
    }

    /// E, the width of the queries and of the output. (given)
    pub fn embed_dim(&self) -> usize {
        self.embed_dim
    }

    /// H, the number of heads. (given)
    pub fn num_heads(&self) -> usize {
        self.num_heads
    }

    /// `mha(query, key, value, key_padding_mask, need_weights, attn_mask,
    /// average_attn_weights)` with batch_first layout:
    ///
    /// - `query` (B, L, E), `key` (B, S, kdim), `value` (B, S, vdim);
    /// - `key_padding_mask` (B, S) and `attn_mask` (L, S) or (B·H, L, S), in
    ///   `nn.MultiheadAttention`'s conventions (see [`MhaMask`]).
    ///
    /// Returns the output (B, L, E) and, when `need_weights`, the attention
    /// weights: (B, L, S) averaged over the heads when
    /// `average_attn_weights`, else (B, H, L, S) per head; `None` when not
    /// `need_weights`.
    ///
    /// Unbatched inputs work too, as in PyTorch: query (L, E), key
    /// (S, kdim), value (S, vdim), key_padding_mask (S), attn_mask (L, S) or
    /// (H, L, S); the output is (L, E) and the weights (L, S) or (H, L, S).
    #[allow(clippy::too_many_arguments)]
    pub fn forward(
        &self,
        query: &Tensor,
        key: &Tensor,
        value: &Tensor,
        key_padding_mask: Option<&MhaMask>,
        attn_mask: Option<&MhaMask>,
        need_weights: bool,
        average_attn_weights: bool,
    ) -> Result<(Tensor, Option<Tensor>)> {
        todo!()
    }
}
