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
#[path = "../../../exercises/10-gpt/given/loading.rs"]
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
    let weight = vb.get((in_dim, out_dim), "weight")?.t()?;
    let bias = vb.get(out_dim, "bias")?;
    Ok(Linear::new(weight, Some(bias)))
}

/// GPT-2's `gelu_new`: `0.5·x·(1 + tanh(sqrt(2/π)·(x + 0.044715·x³)))`,
/// element-wise (candle's `Tensor::gelu`).
pub fn gelu_new(x: &Tensor) -> Result<Tensor> {
    x.gelu()
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
    let (b, _) = new_mask.dims2()?;
    let new = new_mask.to_dtype(DType::F32)?;
    let before = match past_mask {
        Some(past) => past.to_dtype(DType::F32)?.sum_keepdim(1)?,
        None => Tensor::zeros((b, 1), DType::F32, new_mask.device())?,
    };
    // Real tokens up to and including each one, minus one; 0 at padding.
    let count = new.cumsum(1)?.broadcast_add(&before)?;
    ((count - 1.0)? * new)?.to_dtype(DType::U32)
}

/// Which keys each new query may attend to: (B, 1, n, T0 + n) u8, 1 where
/// key j is a real token **and** j ≤ T0 + i (query i of the n new ones is
/// at index T0 + i: the causal triangle anchored bottom-right), 0 elsewhere.
/// The same for every head (axis 1); exercise 02's `AttnMask::Bool`
/// convention.
///
/// `past_mask` (B, T0) or `None`, `new_mask` (B, n): as in [`positions`].
pub fn attention_mask(past_mask: Option<&Tensor>, new_mask: &Tensor) -> Result<Tensor> {
    let (_, n) = new_mask.dims2()?;
    let device = new_mask.device();
    let new = new_mask.to_dtype(DType::U8)?;
    let keys = match past_mask {
        Some(past) => Tensor::cat(&[&past.to_dtype(DType::U8)?, &new], 1)?,
        None => new,
    };
    let total = keys.dim(1)?;
    let first = (total - n) as u32;
    let queries = Tensor::arange(first, total as u32, device)?.unsqueeze(1)?; // (n, 1)
    let key_index = Tensor::arange(0u32, total as u32, device)?.unsqueeze(0)?; // (1, T)
    let causal = key_index.broadcast_le(&queries)?; // (n, T)
    keys.unsqueeze(1)?
        .unsqueeze(1)? // (B, 1, 1, T)
        .broadcast_mul(&causal.unsqueeze(0)?.unsqueeze(0)?)
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
        let e = config.n_embd;
        if config.n_head == 0 || !e.is_multiple_of(config.n_head) {
            bail!("n_embd {e} is not divisible by n_head {}", config.n_head);
        }
        Ok(Attention {
            c_attn: conv1d(vb.pp("c_attn"), e, 3 * e)?,
            c_proj: conv1d(vb.pp("c_proj"), e, e)?,
            n_head: config.n_head,
        })
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
        let e = x.dim(D::Minus1)?;
        let qkv = self.c_attn.forward(x)?;
        let head = |i: usize| split_heads(&qkv.narrow(D::Minus1, i * e, e)?, self.n_head);
        let (q, k, v) = (head(0)?, head(1)?, head(2)?);
        let (k, v) = match past {
            Some(past) => (
                Tensor::cat(&[&past.k, &k], 2)?,
                Tensor::cat(&[&past.v, &v], 2)?,
            ),
            None => (k, v),
        };
        let mask = AttnMask::Bool(allowed.clone());
        let heads =
            masked_attention::scaled_dot_product_attention(&q, &k, &v, Some(&mask), false, None)?;
        let out = self.c_proj.forward(&combine_heads(&heads)?)?;
        Ok((out, LayerCache { k, v }))
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
        let (e, inner) = (config.n_embd, config.inner_dim());
        Ok(Mlp {
            c_fc: conv1d(vb.pp("c_fc"), e, inner)?,
            c_proj: conv1d(vb.pp("c_proj"), inner, e)?,
        })
    }
}

impl Module for Mlp {
    /// (…, E) → (…, E).
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        self.c_proj.forward(&gelu_new(&self.c_fc.forward(x)?)?)
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
        let (e, eps) = (config.n_embd, config.layer_norm_epsilon);
        Ok(Block {
            ln_1: LayerNorm::new(vb.pp("ln_1"), e, eps)?,
            attn: Attention::new(vb.pp("attn"), config)?,
            ln_2: LayerNorm::new(vb.pp("ln_2"), e, eps)?,
            mlp: Mlp::new(vb.pp("mlp"), config)?,
        })
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
        let (a, cache) = self.attn.forward(&self.ln_1.forward(x)?, past, allowed)?;
        let x = (x + a)?;
        let x = (&x + self.mlp.forward(&self.ln_2.forward(&x)?)?)?;
        Ok((x, cache))
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
        let vb = if vb.contains_tensor("transformer.wte.weight") {
            vb.pp("transformer")
        } else {
            vb
        };
        let e = config.n_embd;
        let wte = Embedding::new(vb.pp("wte").get((config.vocab_size, e), "weight")?, e);
        let wpe = Embedding::new(vb.pp("wpe").get((config.n_positions, e), "weight")?, e);
        let blocks = (0..config.n_layer)
            .map(|i| Block::new(vb.pp("h").pp(i), config))
            .collect::<Result<Vec<_>>>()?;
        let lm_head = Linear::new(wte.embeddings().clone(), None);
        Ok(Gpt2 {
            config: config.clone(),
            wte,
            wpe,
            blocks,
            ln_f: LayerNorm::new(vb.pp("ln_f"), e, config.layer_norm_epsilon)?,
            lm_head,
        })
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
        let (b, n) = new_tokens.dims2()?;
        let new_mask = match new_mask {
            Some(mask) => mask.to_dtype(DType::U8)?,
            None => Tensor::ones((b, n), DType::U8, new_tokens.device())?,
        };
        let past_mask = cache.map(|c| &c.mask);
        let total = cache.map_or(0, KvCache::len) + n;
        if total > self.config.n_positions {
            bail!(
                "{total} positions, more than the model's n_positions {}",
                self.config.n_positions
            );
        }
        let position = positions(past_mask, &new_mask)?;
        let allowed = attention_mask(past_mask, &new_mask)?;
        let mut x = (self.wte.forward(new_tokens)? + self.wpe.forward(&position)?)?;
        let mut hidden_states = vec![x.clone()];
        let mut layers = Vec::with_capacity(self.blocks.len());
        for (i, block) in self.blocks.iter().enumerate() {
            let past = cache.map(|c| &c.layers[i]);
            let (y, layer) = block.forward(&x, past, &allowed)?;
            x = y;
            layers.push(layer);
            hidden_states.push(x.clone());
        }
        let x = self.ln_f.forward(&x)?;
        if let Some(last) = hidden_states.last_mut() {
            *last = x.clone();
        }
        let logits = self.lm_head.forward(&x)?;
        let mask = match past_mask {
            Some(past) => Tensor::cat(&[past, &new_mask], 1)?,
            None => new_mask,
        };
        Ok(Gpt2Output {
            logits,
            hidden_states,
            cache: KvCache { layers, mask },
        })
    }

    /// The full forward, without a cache: `input_ids` (B, T) u32,
    /// `attention_mask` (B, T) (`None`: no padding). Returns the logits (B,
    /// T, V): a step from an empty cache.
    pub fn forward(&self, input_ids: &Tensor, attention_mask: Option<&Tensor>) -> Result<Tensor> {
        Ok(self.forward_step(input_ids, attention_mask, None)?.logits)
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
    logits.argmax(D::Minus1)
}

/// `logits / temperature` (transformers' `TemperatureLogitsWarper`).
pub fn apply_temperature(logits: &Tensor, temperature: f64) -> Result<Tensor> {
    if temperature <= 0.0 {
        bail!("temperature must be positive, got {temperature}");
    }
    logits / temperature
}

/// transformers' `TopKLogitsWarper(k)` on the last axis: every logit below
/// the k-th largest of its row becomes −∞ (ties with the k-th are kept); k
/// ≥ V keeps everything. Fails for k = 0.
pub fn top_k_filter(logits: &Tensor, k: usize) -> Result<Tensor> {
    if k == 0 {
        bail!("top_k must be at least 1");
    }
    let v = logits.dim(D::Minus1)?;
    let k = k.min(v);
    let (sorted, _) = logits.contiguous()?.sort_last_dim(false)?;
    let kth = sorted.narrow(D::Minus1, k - 1, 1)?;
    let minus_inf = Tensor::full(f32::NEG_INFINITY, logits.shape(), logits.device())?
        .to_dtype(logits.dtype())?;
    logits.broadcast_ge(&kth)?.where_cond(logits, &minus_inf)
}

/// transformers' `TopPLogitsWarper(p)` on the last axis: in each row, sort
/// the tokens by probability (softmax of the logits), keep a token when the
/// probabilities of the tokens above it add up to less than p (the top
/// token always), and set the others to −∞. Fails unless 0 < p ≤ 1.
pub fn top_p_filter(logits: &Tensor, p: f64) -> Result<Tensor> {
    if !(p > 0.0 && p <= 1.0) {
        bail!("top_p must be in (0, 1], got {p}");
    }
    let shape = logits.shape().clone();
    let v = logits.dim(D::Minus1)?;
    let rows = logits
        .to_dtype(DType::F32)?
        .reshape(((), v))?
        .to_vec2::<f32>()?;
    let mut kept = Vec::with_capacity(rows.len() * v);
    for row in &rows {
        let max = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let exp: Vec<f64> = row.iter().map(|&x| f64::from(x - max).exp()).collect();
        let total: f64 = exp.iter().sum();
        let mut order: Vec<usize> = (0..v).collect();
        order.sort_by(|&a, &b| row[b].total_cmp(&row[a]));
        let mut keep = vec![0u8; v];
        let mut above = 0.0;
        for (rank, &token) in order.iter().enumerate() {
            if rank > 0 && above >= p {
                break;
            }
            keep[token] = 1;
            above += exp[token] / total;
        }
        kept.extend(keep);
    }
    let keep = Tensor::from_vec(kept, shape.clone(), logits.device())?;
    let minus_inf =
        Tensor::full(f32::NEG_INFINITY, shape, logits.device())?.to_dtype(logits.dtype())?;
    keep.where_cond(logits, &minus_inf)
}

/// Temperature, then top-k, then top-p, as `generate()` chains them (each
/// only when set).
pub fn filter_logits(logits: &Tensor, sampling: &Sampling) -> Result<Tensor> {
    let mut logits = apply_temperature(logits, sampling.temperature)?;
    if let Some(k) = sampling.top_k {
        logits = top_k_filter(&logits, k)?;
    }
    if let Some(p) = sampling.top_p {
        logits = top_p_filter(&logits, p)?;
    }
    Ok(logits)
}

/// One token per row, drawn from softmax([`filter_logits`]) with `rng`:
/// `logits` (B, V) → (B,) u32. The same rng state gives the same tokens.
///
/// Draw u uniform in [0, 1) and take the first token whose cumulative
/// probability exceeds u (a token of probability 0 is never drawn).
pub fn sample(logits: &Tensor, sampling: &Sampling, rng: &mut StdRng) -> Result<Tensor> {
    let filtered = filter_logits(logits, sampling)?.to_dtype(DType::F32)?;
    let mut tokens = Vec::new();
    for row in filtered.to_vec2::<f32>()? {
        let max = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let exp: Vec<f64> = row.iter().map(|&x| f64::from(x - max).exp()).collect();
        let total: f64 = exp.iter().sum();
        let u: f64 = rng.random::<f64>() * total;
        let mut cumulative = 0.0;
        let mut chosen = None;
        for (token, &weight) in exp.iter().enumerate() {
            if weight == 0.0 {
                continue;
            }
            chosen = Some(token);
            cumulative += weight;
            if cumulative > u {
                break;
            }
        }
        let token = chosen.ok_or_else(|| candle_core::Error::msg("no token left to sample"))?;
        tokens.push(token as u32);
    }
    let count = tokens.len();
    Tensor::from_vec(tokens, count, logits.device())
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
    let (b, _) = input_ids.dims2()?;
    let device = input_ids.device();
    let mut ids = input_ids.to_dtype(DType::U32)?;
    let mut mask = match attention_mask {
        Some(mask) => mask.to_dtype(DType::U8)?,
        None => Tensor::ones(ids.shape(), DType::U8, device)?,
    };
    let mut cache: Option<KvCache> = None;
    let mut last: Option<Tensor> = None;
    for _ in 0..max_new_tokens {
        let logits = if use_cache {
            let out = match (&cache, &last) {
                (Some(cache), Some(last)) => model.forward_step(last, None, Some(cache))?,
                _ => model.forward_step(&ids, Some(&mask), None)?,
            };
            cache = Some(out.cache);
            out.logits
        } else {
            model.forward(&ids, Some(&mask))?
        };
        let at = logits.dim(1)? - 1;
        let token = next_token(&logits.i((.., at))?)?
            .to_dtype(DType::U32)?
            .reshape((b, 1))?;
        ids = Tensor::cat(&[&ids, &token], 1)?;
        mask = Tensor::cat(&[&mask, &Tensor::ones((b, 1), DType::U8, device)?], 1)?;
        last = Some(token);
    }
    Ok(ids)
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
    let pad = tokenizer
        .token_to_id(END_OF_TEXT)
        .ok_or_else(|| tokenizer_error(format!("no {END_OF_TEXT} in the vocabulary")))?;
    let mut rows = Vec::with_capacity(texts.len());
    for text in texts {
        let encoding = tokenizer.encode(*text, false).map_err(tokenizer_error)?;
        rows.push(encoding.get_ids().to_vec());
    }
    let len = rows.iter().map(Vec::len).max().unwrap_or(0);
    let (mut ids, mut mask) = (Vec::new(), Vec::new());
    for row in &rows {
        let pads = len - row.len();
        ids.extend(std::iter::repeat_n(pad, pads).chain(row.iter().copied()));
        mask.extend(std::iter::repeat_n(0u8, pads).chain(std::iter::repeat_n(1u8, row.len())));
    }
    let shape = (rows.len(), len);
    Ok((
        Tensor::from_vec(ids, shape, device)?,
        Tensor::from_vec(mask, shape, device)?,
    ))
}

/// The text of `ids`, without special tokens (transformers'
/// `tokenizer.decode(ids, skip_special_tokens=True)`).
pub fn decode(tokenizer: &Tokenizer, ids: &[u32]) -> Result<String> {
    tokenizer.decode(ids, true).map_err(tokenizer_error)
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
    let (_, len) = ids.dims2()?;
    let logits = model.forward(&ids.narrow(1, 0, len - 1)?, None)?;
    let targets = ids.narrow(1, 1, len - 1)?;
    candle_nn::loss::cross_entropy(&logits.flatten_to(1)?, &targets.flatten_all()?)
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
    if sequences.is_empty() {
        bail!("no sequences to train on");
    }
    let device = Device::Cpu;
    let varmap = VarMap::new();
    let vb = VarBuilder::from_varmap(&varmap, DType::F32, &device);
    let model = Gpt2::new(vb, config)?;
    seeded_init(&varmap, train.seed)?;
    let params = candle_nn::ParamsAdamW {
        lr: train.learning_rate,
        ..Default::default()
    };
    let mut optimizer = candle_nn::AdamW::new(varmap.all_vars(), params)?;
    let mut rng = StdRng::seed_from_u64(train.seed);
    let len = sequences[0].len();
    let mut losses = Vec::with_capacity(train.steps);
    for step in 0..train.steps {
        optimizer.set_learning_rate(train.learning_rate * (1.0 - step as f64 / train.steps as f64));
        let mut batch = Vec::with_capacity(train.batch_size * len);
        for _ in 0..train.batch_size {
            batch.extend_from_slice(&sequences[rng.random_range(0..sequences.len())]);
        }
        let ids = Tensor::from_vec(batch, (train.batch_size, len), &device)?;
        let loss = lm_loss(&model, &ids)?;
        optimizer.backward_step(&loss)?;
        losses.push(loss.to_scalar::<f32>()? as f64);
    }
    Ok((model, losses))
}
