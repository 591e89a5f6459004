//! # Exercise 10 (bonus): your decoder becomes a GPT
//!
//! Seed 004 ends its decoder section with a stack of layers and "a logistic
//! regression" on top. That is a language model: the stack reads tokens 0..t
//! and the logistic regression turns the last vector into a score for
//! every token of the vocabulary, the model's guess of token t + 1. Your
//! exercise 05 built the stack. Here it becomes GPT-2 (Radford et al.,
//! 2019) exactly as Hugging Face's `GPT2LMHeadModel`: you load its
//! checkpoint, match its logits within 1e-4, and make it write. Writing
//! needs the one attention technique that every user of a decoder meets,
//! the **KV cache**, and a decoding loop that picks each next token: greedy
//! (it must equal `model.generate(do_sample=False)` token for token), or
//! sampled after temperature, top-k and top-p.
//!
//! The loop you write is, on your own attention, the loop that serves
//! every chat model. At the end (part 4) the same model, untrained, learns
//! a small language from scratch with your training loop, and writes it.
//!
//! ## The model, top to bottom
//!
//! ```text
//! ids (B, n) at positions p (B, n)
//!   ──> x = wte[ids] + wpe[p]                                        (B, n, E)
//!   ──> n_layer × Block (pre-LN, as your exercise 05 with norm_first):
//!         x = x + attn(ln_1(x))      causal self-attention, H heads   (B, n, E)
//!         x = x + mlp(ln_2(x))       c_proj(gelu_new(c_fc(x))), E → 4E → E
//!   ──> ln_f(x)                                                      (B, n, E)
//!   ──> logits = ln_f(x) · wteᵀ      the LM head: the "logistic
//!                                    regression", tied to wte         (B, n, V)
//! ```
//!
//! `logits[b, t]` scores every token of the vocabulary as the next token
//! after position t. Training pushes up the score of the token that really
//! came next; generating picks one and feeds it back in.
//!
//! The LM head has no weights of its own: it multiplies by the token
//! embedding table `wte` (V, E), transposed. A token's vector is both what
//! the model reads for it and what it compares its guess with (Press and
//! Wolf, 2017). The checkpoint therefore has no `lm_head.weight`.
//!
//! ## Where GPT-2 differs from your exercises 04 and 05
//!
//! The block is your exercise 05's pre-LN layer (`norm_first = true`),
//! with your 05 LayerNorm (eps from `layer_norm_epsilon`, 1e-5), but:
//!
//! - **The fused `c_attn`.** One projection E → 3E gives q, k and v side by
//!   side: columns 0..E are q, E..2E are k, 2E..3E are v. Your exercise
//!   04's `in_proj_weight` (3E, E) stacks W_q, W_k, W_v the same way, as
//!   rows.
//! - **Conv1D.** GPT-2 was written in TensorFlow, and transformers keeps
//!   its layout: a `Conv1D` stores its weight as (in, out) and computes
//!   `y = x·W + b`, where `nn.Linear` stores (out, in) and computes
//!   `y = x·Wᵀ + b`. Transpose each Conv1D weight once when you load it
//!   and candle's `Linear` does the rest ([`conv1d`]). The transposed
//!   `c_attn.weight` (E, 3E) is exactly exercise 04's `in_proj_weight`
//!   (3E, E). Careful with the square ones: `attn.c_proj.weight` is (E, E),
//!   so reading it as a Linear weight without the transpose loads without
//!   an error, and computes something else.
//! - **`gelu_new`.** GPT-2's MLP uses gelu's tanh approximation
//!   (`activation_function: "gelu_new"`), candle's `Tensor::gelu`; your
//!   exercise 05 used the exact erf one. The two differ by up to ~5e-4 per
//!   element, which a tolerance of 1e-4 notices after two layers.
//! - **A cache.** Your exercise 04 module projects k and v itself, from the
//!   key and value it is given, at every call. A cache must keep the
//!   projected k and v of the tokens already seen, so here the attention is
//!   opened up: the same steps (project, [`split_heads`], attend with your
//!   exercise 02, [`combine_heads`], output projection) with the k and v of
//!   the past put in between. Your 04's `split_heads` and `combine_heads`
//!   and your 02's `scaled_dot_product_attention` do the work.
//!
//! ## Hugging Face names
//!
//! `GPT2LMHeadModel.save_pretrained` writes `config.json` and
//! `model.safetensors` with these names (the hub's original `gpt2`
//! checkpoint has the same ones without `transformer.`; accept both):
//!
//! | name                                    | shape       | what                        |
//! |-----------------------------------------|-------------|-----------------------------|
//! | `transformer.wte.weight`                | (V, E)      | token embeddings, and the LM head |
//! | `transformer.wpe.weight`                | (P, E)      | learned position embeddings (P = n_positions) |
//! | `transformer.h.N.ln_1.{weight,bias}`    | (E,)        | before the attention        |
//! | `transformer.h.N.attn.c_attn.weight`    | (E, 3E)     | Conv1D: q, k, v             |
//! | `transformer.h.N.attn.c_attn.bias`      | (3E,)       |                             |
//! | `transformer.h.N.attn.c_proj.{weight,bias}` | (E, E), (E,) | Conv1D: the heads' output |
//! | `transformer.h.N.ln_2.{weight,bias}`    | (E,)        | before the MLP              |
//! | `transformer.h.N.mlp.c_fc.{weight,bias}`   | (E, 4E), (4E,) | Conv1D              |
//! | `transformer.h.N.mlp.c_proj.{weight,bias}` | (4E, E), (E,)  | Conv1D              |
//! | `transformer.ln_f.{weight,bias}`        | (E,)        | the final LayerNorm         |
//!
//! ## Padding goes on the left, positions come from the mask
//!
//! A batch of prompts of different lengths is padded to one length. A
//! decoder pads on the **left**: every row's last token is then at the
//! same index, where the next token is read off and appended. Padding on
//! the right would leave a gap of padding between a short prompt and its
//! continuation.
//!
//! The `attention_mask` (B, T) is 1 for a real token and 0 for padding,
//! as transformers' (it is not exercise 02's or 04's mask). Two things
//! use it:
//!
//! - **positions**: a token's position is the number of real tokens before
//!   it in its row ([`positions`]), so a padded prompt is embedded exactly
//!   as the same prompt alone. Padding itself gets position 0. This is what
//!   `generate()` computes (`attention_mask.cumsum(-1) - 1`, 0 at padding);
//! - **keys**: no query attends to a padding key ([`attention_mask`]).
//!
//! A padding *query* then sees no key at all. Its outputs are not
//! specified: the grader compares real positions only (and sets the
//! padded positions of what you return to 0 before comparing). Your
//! exercise 02 gives such a row attention weights of 0, which is fine.
//!
//! ## The KV cache
//!
//! Generating N tokens one at a time with [`Gpt2::forward`] reruns the whole
//! sequence for every new token. Most of that work gives, again, what the
//! previous step already computed.
//!
//! ### Why a step gives the same logits as the full forward
//!
//! In a causal model, what happens at position t depends only on tokens
//! 0..=t. Follow one layer: the query of position t attends over the keys
//! and values of positions 0..=t, and the key and value of a position j
//! are computed from that position's own input to the layer, which (one
//! layer down) depends only on tokens 0..=j. So when token t + 1 arrives,
//! nothing about positions 0..=t changes: not their hidden states, not their
//! keys and values in any layer, not their logits. The only new work is
//! position t + 1's own: its embedding, its q, k and v in each layer, one
//! attention row (its query against all t + 2 keys), its MLP, its logits.
//! Keep the old keys and values, and a step that runs the new token alone
//! gives exactly the logits the full forward gives at that position (up to
//! float rounding: the sums are the same, in another order).
//!
//! ### What the cache holds
//!
//! For every layer, the keys and the values of every position seen so
//! far, after the projection and the split into heads: [`LayerCache`],
//! `k` and `v` of shape (B, H, T, D), D = E / H. Nothing else of the past is
//! ever read again: not the queries (a past query has already been
//! answered), not the hidden states, not the logits. [`KvCache`] also keeps
//! the attention mask of those T positions, to mask the padding keys and to
//! count positions.
//!
//! Its size is 2 · n_layer · B · T · E floats: for GPT-2 small (12 layers,
//! E = 768) and T = 1024, 75 MB per sequence, which is why serving systems
//! manage cache memory in pages.
//!
//! ### The step
//!
//! [`Gpt2::forward_step`] takes n new tokens (n = the whole prompt for the
//! first call, the *prefill*; usually 1 after that) and the cache of T0
//! past positions, and:
//!
//! 1. embeds them at positions T0.. (counted from the mask), **not** from 0:
//!    a position restarting at 0 at every step is a classic slip;
//! 2. in each layer, projects the n new rows only, appends their k and v to
//!    the layer's cache **along the T axis** (axis 2 of (B, H, T, D)), and
//!    lets the n new queries attend over all T0 + n keys;
//! 3. returns the logits of the n new positions and the grown cache.
//!
//! The causal mask of a step is not exercise 02's `is_causal`. New query i
//! sits at index T0 + i, so it may see keys j ≤ T0 + i: the triangle is
//! anchored at the **bottom-right** corner (exercise 02's lesson mentions
//! it). With n = 1 the new token may see every key, and no mask is needed;
//! a step of several tokens (a chunked prefill, a draft to verify) needs
//! it, and 02's top-left `is_causal` would hide most of the cache.
//!
//! ```text
//! T0 = 3 cached keys, n = 2 new queries:     keys → 0 1 2 | 3 4
//!                                 query 3 (new 0)   1 1 1 | 1 0
//!                                 query 4 (new 1)   1 1 1 | 1 1
//! ```
//!
//! ### Why generation becomes linear
//!
//! Per layer, one token costs about 12·E² multiply-adds in the projections
//! and the MLP, and 2·E per key in attention. Without a cache, token t is
//! generated by a full forward over t tokens: t·12·E² + t²·2·E, so each step
//! grows with t (quadratically, in its attention), and N tokens cost
//! O(N²·E² + N³·E). With the cache, the step costs 12·E² + t·2·E: only its
//! one attention row grows with t, and N tokens cost O(N·E² + N²·E). The
//! part that dominates at GPT sizes (E² ≫ t) becomes linear in N. The
//! grader times one step at T = 32 and at T = 512 with and without your
//! cache, and compares how much each grew.
//!
//! ## Decoding
//!
//! Each step turns the last position's logits (B, V) into one token per row:
//!
//! - **greedy** ([`greedy`]): the argmax. Deterministic; it must match
//!   `model.generate(do_sample=False, max_new_tokens=N)` token for token,
//!   with and without your cache ([`generate`]).
//! - **sampling** ([`sample`]): draw from softmax(logits) with a seeded
//!   `StdRng`, so that a run is reproducible. First reshape the
//!   distribution, in transformers' order:
//!   1. **temperature** ([`apply_temperature`]): logits / T. T < 1
//!      sharpens, T > 1 flattens; T → 0 is greedy.
//!   2. **top-k** ([`top_k_filter`]): keep the k largest logits (every
//!      logit ≥ the k-th largest; k ≥ V keeps all), set the others to −∞.
//!   3. **top-p**, nucleus sampling ([`top_p_filter`]): sort by probability,
//!      keep the smallest set of top tokens whose probabilities add up to
//!      at least p (a token is kept when the mass of the tokens above it is
//!      below p, so the token that crosses p is kept, and so is the top
//!      one), set the others to −∞.
//!
//!   These are transformers' `TemperatureLogitsWarper`, `TopKLogitsWarper`
//!   and `TopPLogitsWarper`, and the grader compares yours with them on the
//!   same logits. The order matters: top-p after temperature sees the
//!   reshaped distribution.
//!
//! ## Shapes
//!
//! | tensor                  | shape          | meaning                                  |
//! |-------------------------|----------------|------------------------------------------|
//! | `input_ids`             | (B, T) u32     | left-padded token ids                    |
//! | `attention_mask`        | (B, T) u8      | 1 = real token, 0 = padding              |
//! | positions               | (B, n) u32     | real tokens before each one              |
//! | allowed (the 4-D mask)  | (B, 1, n, T0+n) u8 | 1 = query i may attend to key j (exercise 02's `AttnMask::Bool`) |
//! | hidden states           | (B, n, E)      |                                          |
//! | `c_attn(x)`             | (B, n, 3E)     | q, k, v side by side                     |
//! | q                       | (B, H, n, D)   | the new positions only                   |
//! | cached k, v             | (B, H, T0+n, D)| every position so far                    |
//! | logits                  | (B, n, V)      | the new positions only                   |
//!
//! ## candle tips
//! - `vb.get((in_dim, out_dim), "weight")?.t()?` and `Linear::new(w, Some(b))`.
//! - `x.narrow(D::Minus1, i * e, e)` cuts q, k, v out of `c_attn(x)`.
//! - `Tensor::cat(&[&past.k, &k], 2)` grows the cache along T.
//! - `Tensor::cumsum(1)` counts along a row (on f32: it is a matmul).
//! - `embeddings()` of a `candle_nn::Embedding` is its (V, E) table; a
//!   `Linear` of it (no bias) is the tied LM head.
//! - `sort_last_dim(false)` sorts each row in descending order and returns
//!   the indices too; `argmax(D::Minus1)` gives u32 ids.
//! - `x.i((.., t))` (with `candle_core::IndexOp`) takes position t of every row.
//!
//! Check your work with `cargo run -p grader -- 10`.

use candle_core::{bail, DType, Device, IndexOp, Module, Result, Tensor, D};
use candle_nn::{Embedding, Linear, Optimizer, VarBuilder, VarMap};
use decoder_layer::LayerNorm;
use masked_attention::AttnMask;
pub use multi_head::{combine_heads, split_heads};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::Deserialize;
use tokenizers::Tokenizer;

// Given (read it, do not change it): `Gpt2Config::from_dir`, `head_dim`
// and `inner_dim`, `KvCache::len` and `is_empty`, `Gpt2::load`,
// `load_tokenizer`, `tokenizer_error` and part 4's `seeded_init`.
#[path = "../given/loading.rs"]
mod given;
pub use given::{load_tokenizer, seeded_init, tokenizer_error};

/// The end-of-text token, GPT-2's only special token: id 0 in the kit's
/// tokenizer, and the padding.
pub const END_OF_TEXT: &str = "<|endoftext|>";

// ---------------------------------------------------------------------------
// Part 1: GPT-2, from your pieces
// ---------------------------------------------------------------------------

/// The fields of a GPT-2 `config.json` that the model needs.
#[derive(Debug, Clone, Deserialize)]
pub struct Gpt2Config {
    /// V.
    pub vocab_size: usize,
    /// P, the number of learned positions: at most P tokens in a sequence.
    pub n_positions: usize,
    /// E.
    pub n_embd: usize,
    pub n_layer: usize,
    /// H.
    pub n_head: usize,
    /// The MLP's width; `None` means 4·E.
    #[serde(default)]
    pub n_inner: Option<usize>,
    pub layer_norm_epsilon: f64,
    pub activation_function: String,
}

/// GPT-2's `Conv1D` as a candle `Linear`: `vb` holds `weight` (in_dim,
/// out_dim), which computes `y = x·W + b`, and `bias` (out_dim,). A
/// `Linear` computes `x·Wᵀ + b`, so it gets the transposed weight
/// (out_dim, in_dim): a transposed *view* of the stored one, not a
/// `contiguous()` copy (part 4 trains these weights: a copy made here would
/// never see an update).
pub fn conv1d(vb: VarBuilder, in_dim: usize, out_dim: usize) -> Result<Linear> {
    todo!()
}

/// GPT-2's `gelu_new`: `0.5·x·(1 + tanh(sqrt(2/π)·(x + 0.044715·x³)))`,
/// element-wise (candle's `Tensor::gelu`).
pub fn gelu_new(x: &Tensor) -> Result<Tensor> {
    todo!()
}

/// One layer's cache: the keys and values of every position seen so far.
#[derive(Debug, Clone)]
pub struct LayerCache {
    /// (B, H, T, D)
    pub k: Tensor,
    /// (B, H, T, D)
    pub v: Tensor,
}

/// The whole model's cache: one [`LayerCache`] per layer, and the attention
/// mask of the T positions they hold.
#[derive(Debug, Clone)]
pub struct KvCache {
    pub layers: Vec<LayerCache>,
    /// (B, T) u8, 1 = real token, 0 = padding.
    pub mask: Tensor,
}

/// The position of each new token: the number of real tokens before it in
/// its row, the cache's included; 0 at padding.
///
/// - `past_mask`: (B, T0), the cache's mask (`None`: no cache, T0 = 0);
/// - `new_mask`: (B, n), the new tokens' mask; 1 = real, 0 = padding.
///
/// Returns (B, n) u32. Row [0, 0, 1, 1, 1] with no cache gives [0, 0, 0, 1,
/// 2]; a new real token after a cache of mask [0, 1, 1] gets position 2.
pub fn positions(past_mask: Option<&Tensor>, new_mask: &Tensor) -> Result<Tensor> {
    todo!()
}

/// Which keys each new query may attend to: (B, 1, n, T0 + n) u8, 1 where
/// key j is a real token **and** j ≤ T0 + i (query i of the n new ones is
/// at index T0 + i: the causal triangle anchored bottom-right), 0 elsewhere.
/// The same for every head (axis 1); exercise 02's `AttnMask::Bool`
/// convention.
///
/// `past_mask` (B, T0) or `None`, `new_mask` (B, n): as in [`positions`].
pub fn attention_mask(past_mask: Option<&Tensor>, new_mask: &Tensor) -> Result<Tensor> {
    todo!()
}

/// GPT-2's causal self-attention (`transformer.h.N.attn`), opened up so
/// that the keys and values of the past can be kept.
pub struct Attention {
    c_attn: Linear,
    c_proj: Linear,
    n_head: usize,
}

impl Attention {
    /// Loads `c_attn` (E → 3E) and `c_proj` (E → E), both Conv1D
    /// ([`conv1d`]). Fails unless n_head divides n_embd.
    pub fn new(vb: VarBuilder, config: &Gpt2Config) -> Result<Attention> {
        todo!()
    }

    /// `x` (B, n, E): the new positions (after `ln_1`); `past`: this
    /// layer's cache of T0 positions, or `None`; `allowed` (B, 1, n, T0 + n):
    /// from [`attention_mask`].
    ///
    /// Projects x with `c_attn` into q, k, v, splits each into heads
    /// ([`split_heads`]: (B, H, n, D)), appends k and v to the past ones
    /// along T, attends (your exercise 02's `scaled_dot_product_attention`
    /// with `AttnMask::Bool(allowed)`), puts the heads side by side
    /// ([`combine_heads`]) and applies `c_proj`. Returns the output (B, n, E)
    /// and this layer's grown cache (B, H, T0 + n, D).
    pub fn forward(
        &self,
        x: &Tensor,
        past: Option<&LayerCache>,
        allowed: &Tensor,
    ) -> Result<(Tensor, LayerCache)> {
        todo!()
    }
}

/// GPT-2's MLP (`transformer.h.N.mlp`): `c_proj(gelu_new(c_fc(x)))`.
pub struct Mlp {
    c_fc: Linear,
    c_proj: Linear,
}

impl Mlp {
    /// Loads `c_fc` (E → inner) and `c_proj` (inner → E), both Conv1D.
    pub fn new(vb: VarBuilder, config: &Gpt2Config) -> Result<Mlp> {
        todo!()
    }
}

impl Module for Mlp {
    /// (…, E) → (…, E).
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        todo!()
    }
}

/// One pre-LN block (`transformer.h.N`).
pub struct Block {
    ln_1: LayerNorm,
    attn: Attention,
    ln_2: LayerNorm,
    mlp: Mlp,
}

impl Block {
    /// Loads `ln_1`, `attn`, `ln_2` and `mlp` (your exercise-05 LayerNorm,
    /// with eps `layer_norm_epsilon`).
    pub fn new(vb: VarBuilder, config: &Gpt2Config) -> Result<Block> {
        todo!()
    }

    /// `x = x + attn(ln_1(x)); x = x + mlp(ln_2(x))`, with the arguments
    /// and the cache of [`Attention::forward`]. Returns (B, n, E) and the
    /// layer's grown cache.
    pub fn forward(
        &self,
        x: &Tensor,
        past: Option<&LayerCache>,
        allowed: &Tensor,
    ) -> Result<(Tensor, LayerCache)> {
        todo!()
    }
}

/// What one pass of the model returns.
pub struct Gpt2Output {
    /// (B, n, V): the new positions' logits.
    pub logits: Tensor,
    /// n_layer + 1 tensors (B, n, E), as transformers'
    /// `output_hidden_states`: the embeddings, then each block's output,
    /// except that the last one is taken after `ln_f` (what the LM head
    /// reads).
    pub hidden_states: Vec<Tensor>,
    /// The cache grown by the new positions.
    pub cache: KvCache,
}

/// `GPT2LMHeadModel`: embeddings, `n_layer` blocks, `ln_f`, and the LM head
/// tied to `wte`.
pub struct Gpt2 {
    pub config: Gpt2Config,
    wte: Embedding,
    wpe: Embedding,
    blocks: Vec<Block>,
    ln_f: LayerNorm,
    lm_head: Linear,
}

impl Gpt2 {
    /// Builds the model from weights named as `GPT2LMHeadModel`'s
    /// (`transformer.wte.weight`, …), or as the hub's original `gpt2`
    /// checkpoint (the same names without `transformer.`: look for
    /// `transformer.wte.weight` with `vb.contains_tensor`). The LM head is a
    /// `Linear` (no bias) of `wte`'s table.
    pub fn new(vb: VarBuilder, config: &Gpt2Config) -> Result<Gpt2> {
        todo!()
    }

    /// One step: `new_tokens` (B, n) u32 after the positions the cache
    /// holds (`None`: an empty cache, the prefill).
    ///
    /// - `new_mask`: (B, n), 1 = real token, 0 = padding (left padding, in
    ///   the prefill); `None` means every new token is real.
    /// - Positions from [`positions`], the mask from [`attention_mask`],
    ///   then the blocks, each with its layer of the cache, `ln_f` and the
    ///   LM head.
    /// - Fails when the sequence would be longer than `n_positions`.
    ///
    /// Returns the new positions' logits and hidden states, and the cache
    /// grown by them: every layer's k and v (B, H, T0 + n, D), and the mask
    /// (B, T0 + n).
    pub fn forward_step(
        &self,
        new_tokens: &Tensor,
        new_mask: Option<&Tensor>,
        cache: Option<&KvCache>,
    ) -> Result<Gpt2Output> {
        todo!()
    }

    /// The full forward, without a cache: `input_ids` (B, T) u32,
    /// `attention_mask` (B, T) (`None`: no padding). Returns the logits (B,
    /// T, V): a step from an empty cache.
    pub fn forward(&self, input_ids: &Tensor, attention_mask: Option<&Tensor>) -> Result<Tensor> {
        todo!()
    }
}

// ---------------------------------------------------------------------------
// Part 2: decoding
// ---------------------------------------------------------------------------

/// How [`sample`] reshapes the distribution before it draws.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sampling {
    /// > 0; 1 leaves the logits as they are.
    pub temperature: f64,
    /// `None`: no top-k.
    pub top_k: Option<usize>,
    /// In (0, 1]; `None`: no top-p.
    pub top_p: Option<f64>,
}

/// The token of each row with the largest logit: `logits` (B, V) → (B,) u32.
pub fn greedy(logits: &Tensor) -> Result<Tensor> {
    todo!()
}

/// `logits / temperature` (transformers' `TemperatureLogitsWarper`).
pub fn apply_temperature(logits: &Tensor, temperature: f64) -> Result<Tensor> {
    todo!()
}

/// transformers' `TopKLogitsWarper(k)` on the last axis: every logit below
/// the k-th largest of its row becomes −∞ (ties with the k-th are kept); k
/// ≥ V keeps everything. Fails for k = 0.
pub fn top_k_filter(logits: &Tensor, k: usize) -> Result<Tensor> {
    todo!()
}

/// transformers' `TopPLogitsWarper(p)` on the last axis: in each row, sort
/// the tokens by probability (softmax of the logits), keep a token when the
/// probabilities of the tokens above it add up to less than p (the top
/// token always), and set the others to −∞. Fails unless 0 < p ≤ 1.
pub fn top_p_filter(logits: &Tensor, p: f64) -> Result<Tensor> {
    todo!()
}

/// Temperature, then top-k, then top-p, as `generate()` chains them (each
/// only when set).
pub fn filter_logits(logits: &Tensor, sampling: &Sampling) -> Result<Tensor> {
    todo!()
}

/// One token per row, drawn from softmax([`filter_logits`]) with `rng`:
/// `logits` (B, V) → (B,) u32. The same rng state gives the same tokens.
///
/// Draw u uniform in [0, 1) and take the first token whose cumulative
/// probability exceeds u (a token of probability 0 is never drawn).
pub fn sample(logits: &Tensor, sampling: &Sampling, rng: &mut StdRng) -> Result<Tensor> {
    todo!()
}

/// Generates `max_new_tokens` tokens after `input_ids` (B, T) u32, with
/// `attention_mask` (B, T) for a left-padded batch (`None`: no padding).
///
/// At each step `next_token` turns the last position's logits (B, V) into
/// one token per row ((B,) u32): [`greedy`], or a closure around
/// [`sample`]. The token is appended to every row (its mask 1), even an
/// end-of-text: the loop always runs `max_new_tokens` steps.
///
/// - `use_cache`: a prefill of the prompt, then one [`Gpt2::forward_step`]
///   of the one new token per step, with the cache;
/// - otherwise: [`Gpt2::forward`] of the whole sequence at every step.
///
/// Returns (B, T + max_new_tokens) u32: the prompt and its continuation.
pub fn generate(
    model: &Gpt2,
    input_ids: &Tensor,
    attention_mask: Option<&Tensor>,
    max_new_tokens: usize,
    use_cache: bool,
    mut next_token: impl FnMut(&Tensor) -> Result<Tensor>,
) -> Result<Tensor> {
    todo!()
}

// ---------------------------------------------------------------------------
// Part 3: text in, text out
// ---------------------------------------------------------------------------

/// Tokenizes a batch of texts and pads it on the **left** to the longest:
/// returns `input_ids` (B, T) u32, padded with the id of [`END_OF_TEXT`],
/// and `attention_mask` (B, T) u8 (0 at padding), as transformers'
/// `tokenizer(texts, padding=True)` with `padding_side="left"`. No special
/// token is added.
pub fn encode_batch(
    tokenizer: &Tokenizer,
    texts: &[&str],
    device: &Device,
) -> Result<(Tensor, Tensor)> {
    todo!()
}

/// The text of `ids`, without special tokens (transformers'
/// `tokenizer.decode(ids, skip_special_tokens=True)`).
pub fn decode(tokenizer: &Tokenizer, ids: &[u32]) -> Result<String> {
    todo!()
}

// ---------------------------------------------------------------------------
// Part 4: train it
// ---------------------------------------------------------------------------
//
// The same model learns a language from scratch: the grader trains a tiny
// GPT (2 layers, E = 32) on the copy task, `<|endoftext|> a c f b e d | a c
// f b e d <|endoftext|>` (six letters, a separator, the six again), then
// asks your greedy `generate` to continue held-out prompts `<|endoftext|> x
// … |` and counts the exact copies; it also scores the held-out
// cross-entropy against the unigram baseline (the letters' frequencies, no
// context). Every token after the separator is determined by the ones
// before it, which only attention can fetch: position t + 7 reads position
// t.
//
// A model that trains must read its weights from the variables at every
// forward. Anything `new` derives from them by a copy (a `contiguous()`, a
// `to_dtype`, a `cat`) is a snapshot: the forward keeps reading it while
// `seeded_init` and the optimizer change the variables. Views (`t()`,
// `narrow`) and the tensors themselves are not copies.

/// The training budget and the optimiser's settings.
#[derive(Debug, Clone, Copy)]
pub struct TrainConfig {
    pub steps: usize,
    pub batch_size: usize,
    pub learning_rate: f64,
    /// Seeds the initial weights and the batches.
    pub seed: u64,
}

/// The language-modelling loss of a batch of sequences `ids` (B, T) u32,
/// none padded: the mean cross-entropy of the model's logits at positions
/// 0..T−1 against the tokens at positions 1..T (each position predicts the
/// next token).
pub fn lm_loss(model: &Gpt2, ids: &Tensor) -> Result<Tensor> {
    todo!()
}

/// Trains a new model of `config` on `sequences` (all of one length).
///
/// - Build it with [`Gpt2::new`] on a `VarBuilder` of a `VarMap`, then call
///   [`seeded_init`]`(varmap, train.seed)`.
/// - Each step: draw `batch_size` sequences (with replacement) with a
///   `StdRng` seeded from `train.seed`, [`lm_loss`], one step of
///   `candle_nn::AdamW` (other settings default) over every variable. The
///   learning rate decays linearly from `train.learning_rate` at step 0 to
///   0 after the last step (`set_learning_rate` before each step): the
///   last steps settle instead of jumping around the minimum.
///
/// Returns the trained model and the loss of every step.
pub fn train_lm(
    config: &Gpt2Config,
    sequences: &[Vec<u32>],
    train: &TrainConfig,
) -> Result<(Gpt2, Vec<f64>)> {
    todo!()
}
