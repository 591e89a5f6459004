//! # Exercise 03: a self-attention head
//!
//! Exercises 01 and 02 took queries, keys and values as given. In a network
//! they are *learned*: every token's vector `x` is turned into a query, a
//! key and a value by three linear layers, and the network learns what to
//! ask for (Q), what to advertise (K) and what to pass on (V).
//!
//! ```text
//! q = x · W_Qᵀ + b_Q        (what am I looking for?)
//! k = x · W_Kᵀ + b_K        (what is here?)
//! v = x · W_Vᵀ + b_V        (what do I pass on?)
//! out = softmax(q · kᵀ / sqrt(qk_dim) + mask) · v
//! ```
//!
//! It is *self*-attention because q, k and v all come from the same `x`:
//! every token looks at every token of its own sequence.
//!
//! This is the seed notebook's module, in candle:
//!
//! ```python
//! class SelfAttentionHead(nn.Module):
//!     def __init__(self, model_dim, qk_dim=None):
//!         if qk_dim == None: qk_dim = model_dim
//!         self.Q = nn.Linear(model_dim, qk_dim)
//!         self.K = nn.Linear(model_dim, qk_dim)
//!         self.V = nn.Linear(model_dim, model_dim)
//!     def forward(self, input, mask):
//!         return F.scaled_dot_product_attention(
//!             self.Q(input), self.K(input), self.V(input), attn_mask=mask)
//! ```
//!
//! Seed 003 writes the same head as its `SelfAttention` class (abridged):
//!
//! ```text
//! class SelfAttention(nn.Module):
//!     def __init__(self, input_dim):
//!         self.input_dim = input_dim
//!         self.query = nn.Linear(input_dim, input_dim)
//!         self.key = nn.Linear(input_dim, input_dim)
//!         self.value = nn.Linear(input_dim, input_dim)
//!         self.softmax = nn.Softmax(dim=2)
//!     def forward(self, x):
//!         queries, keys, values = self.query(x), self.key(x), self.value(x)
//!         scores = torch.bmm(queries, keys.transpose(1, 2)) / (self.input_dim ** 0.5)
//!         attention = self.softmax(scores)
//!         return torch.bmm(attention, values)
//! ```
//!
//! It is `SelfAttentionHead(input_dim)` with qk_dim = model_dim and no mask,
//! its layers named `query`, `key`, `value` instead of `Q`, `K`, `V`. Its
//! `torch.bmm` wants a batch, x of shape (B, L, input_dim); your head also
//! takes (L, model_dim). Its scale 1/sqrt(input_dim) is 1/sqrt(qk_dim) only
//! because the two sizes are equal there: when they differ, the scale
//! follows qk_dim, the size of the vectors in the dot product.
//!
//! ## Ask yourself
//!
//! 1. *What should the dimensions of my input be? What do they **need** to
//!    be for the operations to work out?*
//! 2. *What parameters might I need?*
//!
//! ## Shapes
//!
//! | tensor | shape              | why                                              |
//! |--------|--------------------|--------------------------------------------------|
//! | `x`    | (B, L, model_dim)  | B sequences of L tokens, one model_dim vector each (or (L, model_dim)) |
//! | `W_Q`  | (qk_dim, model_dim)| nn.Linear stores (out, in)                       |
//! | `W_K`  | (qk_dim, model_dim)| q and k must have the **same** size: they meet in a dot product |
//! | `W_V`  | (model_dim, model_dim) | v may have any size; here it keeps model_dim so the output can replace `x` |
//! | `q`,`k`| (B, L, qk_dim)     |                                                  |
//! | `v`    | (B, L, model_dim)  |                                                  |
//! | scores | (B, L, L)          | one score per (query token, key token) pair      |
//! | `out`  | (B, L, model_dim)  | the same shape as `x`, so heads and layers stack |
//!
//! The only dimension the input **needs** is the last one, model_dim: the
//! linear layers act on it and treat everything before it as a batch. The
//! parameters are the three weight matrices and their biases, 2·(qk_dim ·
//! model_dim + qk_dim) + model_dim² + model_dim numbers, and none of them
//! depends on L: the same head reads sequences of any length.
//!
//! ## Loading weights by name
//!
//! A candle `VarBuilder` hands out tensors by name. Name your layers as the
//! PyTorch module names its attributes, and a PyTorch `state_dict`
//! (`Q.weight`, `Q.bias`, `K.weight`, …) loads without any renaming:
//! `candle_nn::linear(in, out, vb.pp("Q"))` reads `Q.weight` and `Q.bias`.
//!
//! ## candle tips
//! - `candle_nn::Linear` implements `Module`; call it with `.forward(&x)` or
//!   `x.apply(&layer)`. It accepts (L, in) and (B, L, in).
//! - Use your own exercise-02 attention (`masked_attention::...`); it
//!   already knows masks and the default scale 1/sqrt(qk_dim).
//!
//! Check your work with `cargo run -p grader -- 03`.

use candle_core::{Module, Result, Tensor};
use candle_nn::{Linear, VarBuilder};

/// The mask type of exercise 02: `Bool` (1 = this key takes part, as in
/// `F.scaled_dot_product_attention`) or `Float` (added to the scores).
pub use masked_attention::AttnMask;

/// One self-attention head, the seed notebook's `SelfAttentionHead`.
pub struct SelfAttentionHead {
    q: Linear,
    k: Linear,
    v: Linear,
    model_dim: usize,
    qk_dim: usize,
}

impl SelfAttentionHead {
    /// Loads the three linear layers `Q`, `K` (model_dim → qk_dim) and `V`
    /// (model_dim → model_dim), weights and biases, from `vb`, named as the
    /// PyTorch module's state dict: `Q.weight`, `Q.bias`, `K.weight`, ….
    /// `qk_dim: None` means `model_dim`, as in the seed.
    pub fn new(vb: VarBuilder, model_dim: usize, qk_dim: Option<usize>) -> Result<Self> {
        let qk_dim = qk_dim.unwrap_or(model_dim);
        Ok(SelfAttentionHead {
            q: candle_nn::linear(model_dim, qk_dim, vb.pp("Q"))?,
            k: candle_nn::linear(model_dim, qk_dim, vb.pp("K"))?,
            v: candle_nn::linear(model_dim, model_dim, vb.pp("V"))?,
            model_dim,
            qk_dim,
        })
    }

    /// The size of each token's vector, in and out. (given)
    pub fn model_dim(&self) -> usize {
        self.model_dim
    }

    /// The size of queries and keys. (given)
    pub fn qk_dim(&self) -> usize {
        self.qk_dim
    }

    /// Self-attention over `x`: (B, L, model_dim) or (L, model_dim) in, the
    /// same shape out.
    ///
    /// `mask` is exercise 02's mask over (query, key) pairs, shape (L, L) or
    /// anything that broadcasts to the scores (B, L, L); `None` lets every
    /// token see every token. The scale is the default 1/sqrt(qk_dim).
    pub fn forward(&self, x: &Tensor, mask: Option<&AttnMask>) -> Result<Tensor> {
        let q = self.q.forward(x)?;
        let k = self.k.forward(x)?;
        let v = self.v.forward(x)?;
        masked_attention::scaled_dot_product_attention(&q, &k, &v, mask, false, None)
    }
}
