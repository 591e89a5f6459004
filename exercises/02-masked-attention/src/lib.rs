//! # Exercise 02: masked and causal attention
//!
//! In exercise 01 every query looked at every key. Often some keys must be
//! off limits:
//!
//! - **padding**: a batch of sentences of different lengths is padded to one
//!   length, and no query should take anything from the padding tokens;
//! - **causal language models** (GPT): token i is trained to predict token
//!   i + 1, so it must not see tokens i + 1, i + 2, …; if it could, it would
//!   copy the answer instead of learning to predict it.
//!
//! A *mask* says, for every query i and key j, whether key j takes part in
//! query i's average. We apply it to the scores *before* the softmax, so the
//! allowed keys' weights still sum to 1 and the output keeps the size of the
//! values (zeroing weights *after* the softmax would leave rows summing to
//! less than 1 and shrink the output):
//!
//! ```text
//! scores  = q · kᵀ · scale + additive_mask      (…, L, S)
//! weights = softmax(scores)                     row i: 0 on every masked key
//! output  = weights · v
//! ```
//!
//! ## Two mask conventions (PyTorch's `F.scaled_dot_product_attention`)
//!
//! - a **boolean** mask: `true` means *this key takes part*, `false` means
//!   masked out. We store it as u8 (1 / 0): candle has no bool tensors.
//!   Careful: `nn.MultiheadAttention`'s bool masks mean the opposite
//!   (`true` = masked out). Always check which convention an API uses.
//! - a **float** mask: a number added to each score. 0 leaves a score alone,
//!   -inf masks the key out, and anything in between nudges the weight (a
//!   position bias such as ALiBi's is a float mask).
//!
//! [`AttnMask`] holds either; [`additive_mask`] turns both into the float
//! form that is added to the scores.
//!
//! ## Causal masks
//!
//! Query i may look at keys j ≤ i: the mask is lower triangular.
//!
//! ```text
//!            keys j → 0 1 2 3
//! query i = 0         1 0 0 0
//!           1         1 1 0 0
//!           2         1 1 1 0
//!           3         1 1 1 1
//! ```
//!
//! When L ≠ S (fewer queries than keys, or more), PyTorch's `is_causal=True`
//! keeps the triangle anchored at the **top-left** corner: it is still
//! "key j ≤ query i", counting both from 0.
//!
//! ```text
//! L = 2, S = 4 (top-left):    L = 4, S = 2 (top-left):
//!    keys → 0 1 2 3              keys → 0 1
//! query 0   1 0 0 0           query 0   1 0
//! query 1   1 1 0 0           query 1   1 1
//!                             query 2   1 1
//!                             query 3   1 1
//! ```
//!
//! (The other choice, bottom-right, aligns the *last* query with the *last*
//! key; it is what generation with a cache of past keys needs, and torch
//! offers it as `torch.nn.attention.bias.causal_lower_right`. It is not
//! `is_causal`.)
//!
//! ## Fully masked rows
//!
//! If every key of query i is masked, its scores are all -inf and the
//! softmax computes 0 / 0 = NaN. Recent PyTorch (the 2.15 our fixtures come
//! from) returns weights of 0 and an output row of 0 for such a query
//! instead, and so do we: a NaN would spread to everything it touches,
//! gradients included.
//!
//! ## Shapes
//!
//! | tensor      | shape        | meaning                                        |
//! |-------------|--------------|------------------------------------------------|
//! | `q`         | (…, L, E)    | L queries                                      |
//! | `k`         | (…, S, E)    | S keys                                         |
//! | `v`         | (…, S, Ev)   | one value per key                              |
//! | mask        | broadcasts to (…, L, S) | row i: which keys query i may use  |
//! | `weights`   | (…, L, S)    | 0 on masked keys; rows sum to 1 (or are all 0) |
//! | `output`    | (…, L, Ev)   |                                                |
//!
//! A mask may leave out dimensions that are the same for every entry: an
//! (L, S) mask serves every batch and head; a key-padding mask of shape
//! (B, 1, 1, S) serves every head and query of (B, H, L, S) scores.
//!
//! ## candle tips
//! - Comparisons (`eq`, `ne`, `broadcast_le`, …) return u8 tensors of 1/0.
//! - `Tensor::arange(0u32, n as u32, device)` counts 0..n; `unsqueeze` and
//!   `broadcast_le` compare every pair (i, j) at once.
//! - `cond.where_cond(&on_true, &on_false)` is `masked_fill`: it picks
//!   elementwise, but wants all three of the same shape (`broadcast_as`
//!   first). `Tensor::full(f32::NEG_INFINITY, shape, device)` makes the
//!   fill. torch's `logical_not(m)` of a u8 mask is `m.eq(0u8)`.
//! - NaN × 0 is NaN: multiplying by a mask cannot clean a NaN; choosing
//!   with `where_cond` can. Better still, never compute one.
//! - Reuse exercise 01: your `attention::softmax`, and the given
//!   `attention::matmul`, which broadcasts any number of batch dimensions.
//!
//! Check your work with `cargo run -p grader -- 02`.

use candle_core::{DType, Device, Result, Tensor, D};

/// A mask in PyTorch SDPA's conventions, broadcastable to (…, L, S).
#[derive(Debug, Clone)]
pub enum AttnMask {
    /// u8, 1 = this key takes part, 0 = masked out (SDPA's bool: `true`
    /// takes part).
    Bool(Tensor),
    /// f32, added to the scores before the softmax (-inf masks out).
    Float(Tensor),
}

/// The causal mask of `l` queries and `s` keys: a u8 (L, S) tensor with 1
/// where key j ≤ query i and 0 elsewhere, anchored at the top-left corner as
/// torch's `is_causal=True` (see the pictures above).
pub fn causal_mask(l: usize, s: usize, device: &Device) -> Result<Tensor> {
    todo!()
}

/// The float mask to add to the scores, with the shape of the given mask.
///
/// - `Bool`: 0.0 where the key takes part (1), -inf where it is masked (0);
/// - `Float`: the mask itself.
///
/// **What value should you set the masked values to be in order to have
/// them be at or near 0 post-softmax?** (the seed notebook's question)
///
/// The softmax gives key j the weight `exp(s_j) / Σ exp(s_m)`. For that to be
/// 0 we need `exp(s_j) = 0`, which only `s_j = -inf` gives exactly. Adding
/// -inf to a finite score makes it -inf whatever it was, the masked keys drop
/// out of the sum, and the allowed keys share all of the probability among
/// themselves. (Multiplying the scores by 0 cannot do this: exp(0) = 1 is a
/// full-size weight.)
///
/// Would a large finite number, -1e9, do? Almost: next to an allowed key it
/// underflows to a weight of exactly 0 in f32. But when *every* key of a row
/// is masked, -1e9 everywhere is a row of equal scores, and the softmax
/// spreads the weight evenly over keys that should be ignored; with -inf the
/// row is recognisably empty and becomes zeros. And -1e4, a favourite in
/// fp16 code, stops masking once a masked key's score is itself in the
/// thousands. So: -inf, as PyTorch's
/// `masked_fill(mask.logical_not(), float("-inf"))`.
pub fn additive_mask(mask: &AttnMask) -> Result<Tensor> {
    todo!()
}

/// The masked attention weights `softmax(q · kᵀ · scale + mask)`.
///
/// - `q`: (…, L, E), `k`: (…, S, E).
/// - `attn_mask`: optional, broadcastable to (…, L, S).
/// - `is_causal`: also apply [`causal_mask`]`(L, S)`. PyTorch refuses a mask
///   together with `is_causal=True`; we allow it and apply both (a key takes
///   part only if both let it).
/// - `scale`: `None` means `1 / sqrt(E)`. The mask is added *after* scaling.
///
/// Returns (…, L, S). Row i is a distribution over the keys query i may use,
/// 0 on the others; a row whose keys are all masked is all zeros (not NaN).
pub fn masked_attention_weights(
    q: &Tensor,
    k: &Tensor,
    attn_mask: Option<&AttnMask>,
    is_causal: bool,
    scale: Option<f64>,
) -> Result<Tensor> {
    todo!()
}

/// Masked scaled dot-product attention, PyTorch's
/// `F.scaled_dot_product_attention(q, k, v, attn_mask, is_causal=is_causal, scale=scale)`.
///
/// - `q`: (…, L, E), `k`: (…, S, E), `v`: (…, S, Ev);
/// - `attn_mask`, `is_causal`, `scale`: as in [`masked_attention_weights`].
///
/// Returns (…, L, Ev); the output row of a query whose keys are all masked
/// is zeros.
pub fn scaled_dot_product_attention(
    q: &Tensor,
    k: &Tensor,
    v: &Tensor,
    attn_mask: Option<&AttnMask>,
    is_causal: bool,
    scale: Option<f64>,
) -> Result<Tensor> {
    todo!()
}
