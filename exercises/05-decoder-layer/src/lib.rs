//! # Exercise 05: a transformer decoder layer
//!
//! The block GPT models stack dozens of times. Each token's vector goes
//! through two sub-layers, each wrapped in a residual ("skip") connection
//! and a LayerNorm:
//!
//! 1. **causal multi-head self-attention** (your exercise 04): every token
//!    gathers information from itself and the tokens to its *left*, never
//!    from the right, so the model can be trained to predict the next token;
//! 2. a **feed-forward network**, applied to every token on its own:
//!    `linear2(activation(linear1(x)))`, widening d_model to dim_feedforward
//!    and back.
//!
//! The residual `x + sublayer(x)` lets each sub-layer learn a *correction*
//! to its input and lets gradients flow straight through deep stacks.
//! Where the LayerNorm sits is a design choice:
//!
//! ```text
//! post-LN (norm_first = false, the original Transformer):
//!     x = norm1(x + self_attn(x))
//!     x = norm2(x + ff(x))
//! pre-LN (norm_first = true, GPT-2 and most models since; trains more stably):
//!     x = x + self_attn(norm1(x))
//!     x = x + ff(norm2(x))
//! ```
//!
//! The reference is PyTorch's `nn.TransformerEncoderLayer(d_model, nhead,
//! dim_feedforward, dropout=0.0, activation, layer_norm_eps,
//! batch_first=True, norm_first)` called with a causal mask and
//! `is_causal=True`. (PyTorch's *Decoder*Layer also has cross-attention to
//! an encoder; a decoder-only model such as GPT has no encoder, so its
//! block is an encoder layer with a causal mask.) The parameters are named
//! as that module's: `self_attn.*` (exercise 04's names), `linear1`,
//! `linear2`, `norm1`, `norm2`; a stack of N layers names them `layers.0.*`
//! … `layers.{N-1}.*`, as `nn.TransformerEncoder`.
//!
//! ## Ask yourself
//!
//! 1. *What should the dimensions of my input be? What do they **need** to
//!    be for the operations to work out?* The input is (B, L, d_model) and
//!    so is the output: the residual `x + sublayer(x)` only adds up if
//!    every sub-layer gives back d_model features per token, and only
//!    because the output has the input's shape can layers be stacked.
//!    d_model must divide by nhead (exercise 04). L is free: no parameter
//!    depends on it.
//! 2. *What parameters might I need? What choices could be made when
//!    designing the feed-forward network? The self-attention?* The
//!    attention's projections, two linear layers (d_model → dim_feedforward
//!    → d_model), and two LayerNorms with a scale and a shift each. The
//!    choices are this module's [`DecoderConfig`]: the width of the
//!    feed-forward network (PyTorch's default 2048, often 4·d_model), its
//!    activation (relu or gelu), the number of heads, where the norms go,
//!    and the LayerNorm's epsilon.
//!
//! ## Shapes
//!
//! | tensor            | shape                  |
//! |-------------------|------------------------|
//! | `x`               | (B, L, d_model)        |
//! | causal mask       | (L, L): allowed on and below the diagonal, blocked above it (see "The causal mask") |
//! | `self_attn(x)`    | (B, L, d_model)        |
//! | `linear1(x)`      | (B, L, dim_feedforward)|
//! | `ff(x)`           | (B, L, d_model)        |
//! | output            | (B, L, d_model)        |
//!
//! ## The causal mask: two conventions
//!
//! Token i may look at tokens j ≤ i: keys on and below the diagonal are
//! allowed, keys above it are blocked. Exercises 02 and 04 write this
//! with opposite booleans:
//!
//! - exercise 02's `masked_attention::causal_mask(l, s, device)` is u8 with
//!   **1 = allowed** (on and below the diagonal), as
//!   `F.scaled_dot_product_attention`;
//! - exercise 04's `MhaMask::Bool` takes u8 with **1 = blocked**, as
//!   `nn.MultiheadAttention`; its `MhaMask::Float` takes 0 for allowed and
//!   −∞ for blocked, which no convention can misread.
//!
//! The reference solution turns 02's mask into that float form with 02's
//! `additive_mask` (0 where 1, −∞ where 0):
//!
//! ```text
//! let allowed = masked_attention::causal_mask(len, len, device)?;   // 1 = allowed
//! MhaMask::Float(masked_attention::additive_mask(&AttnMask::Bool(allowed))?)
//! ```
//!
//! `MhaMask::Bool(allowed.eq(0u8)?)` (1 where blocked) works as well.
//! Careful: `MhaMask::Bool(allowed)`, 02's mask wrapped without inverting
//! it, compiles and runs, but it silently inverts the mask. Every token
//! then sees only the tokens to its right, the future, and the last token
//! sees nothing at all.
//!
//! ## LayerNorm
//!
//! `y = (x − mean(x)) / sqrt(var(x) + eps) · weight + bias`, over the last
//! axis, with the *biased* variance (divide by d_model, not d_model − 1),
//! as PyTorch. Build it from basic tensor operations: candle 0.11.1's fused
//! `candle_nn::LayerNorm` passes no gradient, so a model built on it could
//! not be trained. Every basic operation here passes gradients.
//!
//! ## gelu
//!
//! PyTorch's `activation="gelu"` is the exact `x · Φ(x)` with the error
//! function: candle's `gelu_erf`. Candle's `gelu` is the tanh
//! approximation, off by up to ~5e-4, which a tolerance of 1e-5 notices.
//!
//! ## candle tips
//! - `mean_keepdim(D::Minus1)`, `broadcast_sub`, `broadcast_mul` and
//!   `broadcast_add` for the LayerNorm.
//! - Exercise 02's `causal_mask` and `additive_mask` give an (L, L) mask;
//!   wrap it as a [`MhaMask`] for your exercise-04 module, the right way
//!   round (see "The causal mask").
//! - `vb.pp("layers").pp(i)` names the i-th layer of a stack.
//!
//! Check your work with `cargo run -p grader -- 05`.

use candle_core::{Module, Result, Tensor, D};
use candle_nn::{Linear, VarBuilder};
use masked_attention::AttnMask;
pub use multi_head::{MhaMask, MultiheadAttention};

/// The feed-forward network's nonlinearity.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Activation {
    /// `max(x, 0)`.
    Relu,
    /// The exact gelu `x · Φ(x)`, PyTorch's `F.gelu` (not the tanh approximation).
    Gelu,
}

impl Activation {
    /// Applies the activation element-wise.
    pub fn apply(&self, x: &Tensor) -> Result<Tensor> {
        todo!()
    }
}

/// The choices of one layer, named as `nn.TransformerEncoderLayer`'s
/// arguments.
#[derive(Clone, Debug, PartialEq)]
pub struct DecoderConfig {
    pub d_model: usize,
    pub nhead: usize,
    pub dim_feedforward: usize,
    pub activation: Activation,
    pub layer_norm_eps: f64,
    pub norm_first: bool,
}

impl DecoderConfig {
    /// PyTorch's defaults: dim_feedforward 2048, relu, eps 1e-5, post-LN. (given)
    pub fn new(d_model: usize, nhead: usize) -> Self {
        DecoderConfig {
            d_model,
            nhead,
            dim_feedforward: 2048,
            activation: Activation::Relu,
            layer_norm_eps: 1e-5,
            norm_first: false,
        }
    }
}

/// `nn.LayerNorm(dim, eps)` over the last axis, built from basic operations
/// so that gradients pass through it.
pub struct LayerNorm {
    weight: Tensor,
    bias: Tensor,
    eps: f64,
}

impl LayerNorm {
    /// Loads `weight` (dim,) and `bias` (dim,) from `vb`.
    pub fn new(vb: VarBuilder, dim: usize, eps: f64) -> Result<Self> {
        todo!()
    }
}

impl Module for LayerNorm {
    /// (…, dim) → (…, dim): each row to mean 0 and variance 1, then scaled
    /// by `weight` and shifted by `bias`.
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        todo!()
    }
}

/// The causal mask of a sequence of `len` tokens for exercise 04's module:
/// token i may look at tokens 0..=i only.
pub fn causal_mask(len: usize, device: &candle_core::Device) -> Result<MhaMask> {
    todo!()
}

/// One decoder block: `nn.TransformerEncoderLayer(batch_first=True,
/// dropout=0.0)` run with a causal mask.
pub struct DecoderLayer {
    self_attn: MultiheadAttention,
    linear1: Linear,
    linear2: Linear,
    norm1: LayerNorm,
    norm2: LayerNorm,
    activation: Activation,
    norm_first: bool,
}

impl DecoderLayer {
    /// Loads `self_attn.*` (exercise 04's names), `linear1` (d_model →
    /// dim_feedforward), `linear2` (dim_feedforward → d_model), `norm1` and
    /// `norm2` from `vb`.
    pub fn new(vb: VarBuilder, config: &DecoderConfig) -> Result<Self> {
        todo!()
    }

    /// Causal self-attention of `x` (…, L, d_model), without the residual.
    pub fn self_attention_block(&self, x: &Tensor) -> Result<Tensor> {
        todo!()
    }

    /// The feed-forward network `linear2(activation(linear1(x)))`, without
    /// the residual.
    pub fn feed_forward_block(&self, x: &Tensor) -> Result<Tensor> {
        todo!()
    }
}

impl Module for DecoderLayer {
    /// (B, L, d_model) → (B, L, d_model); (L, d_model) works too. Post-LN or
    /// pre-LN as `norm_first` says.
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        todo!()
    }
}

/// A stack of decoder layers, `nn.TransformerEncoder(layer, num_layers)`:
/// each layer's output is the next one's input.
pub struct Decoder {
    layers: Vec<DecoderLayer>,
}

impl Decoder {
    /// Loads `num_layers` layers named `layers.0.*`, `layers.1.*`, ….
    pub fn new(vb: VarBuilder, config: &DecoderConfig, num_layers: usize) -> Result<Self> {
        todo!()
    }

    /// The number of layers. (given)
    pub fn num_layers(&self) -> usize {
        self.layers.len()
    }
}

impl Module for Decoder {
    /// (B, L, d_model) → (B, L, d_model), through every layer in order.
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        todo!()
    }
}
