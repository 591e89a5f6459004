#!/usr/bin/env python3
"""Plants known bugs in the reference solutions, one at a time, and checks
that the grader catches each (the exercise must not pass). Restores every
file afterwards, even on Ctrl-C.

    python3 scripts/planted-bugs.py            # every bug
    python3 scripts/planted-bugs.py 01 02      # the bugs of some exercises
    python3 scripts/planted-bugs.py --fixtures DIR 01   # grade against another fixture set

A bug the grader misses means a check is missing: add one. The list below
is data: (exercise, file under solutions/, text to replace, replacement, what
it is[, mistake]). A bug with a sixth element is a catalogued mistake
(exercises/<dir>/mistakes.yaml): the report must also name it, as the
diagnosis of a failed check, or the bug counts as missed. Every catalogued
mistake must have such a bug.
"""
import argparse
import json
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

BUGS = [
    ("01", "01-attention/src/lib.rs",
     "let scale = scale.unwrap_or(1.0 / (embed as f64).sqrt());",
     "let scale = scale.unwrap_or(1.0);",
     "no 1/sqrt(E) scale", "no-scale"),
    ("01", "01-attention/src/lib.rs",
     "let exp = x.broadcast_sub(&max)?.exp()?;",
     "let exp = x.exp()?;",
     "softmax without subtracting the row maximum (overflows)", "no-max-subtraction"),
    ("01", "01-attention/src/lib.rs",
     "let max = x.max_keepdim(D::Minus1)?;\n    let exp = x.broadcast_sub(&max)?.exp()?;\n    exp.broadcast_div(&exp.sum_keepdim(D::Minus1)?)",
     "let max = x.max_keepdim(D::Minus2)?;\n    let exp = x.broadcast_sub(&max)?.exp()?;\n    exp.broadcast_div(&exp.sum_keepdim(D::Minus2)?)",
     "softmax over the wrong axis (the queries)", "softmax-wrong-axis"),
    ("01", "01-attention/src/lib.rs",
     "let scores = matmul(q, &k.t()?)?;",
     "let scores = matmul(&q.t()?.contiguous()?, k)?.t()?.contiguous()?.narrow(D::Minus1, 0, k.dim(D::Minus2)?)?.narrow(D::Minus2, 0, q.dim(D::Minus2)?)?;",
     "scores from the wrong product"),
    ("01", "01-attention/src/lib.rs",
     "let embed = q.dim(D::Minus1)?;",
     "let embed = k.dim(D::Minus2)?;",
     "scale from the number of keys instead of the embedding size"),
    ("01", "01-attention/src/lib.rs",
     "let scale = scale.unwrap_or(1.0 / (embed as f64).sqrt());",
     "let scale = scale.unwrap_or((embed as f64).sqrt());",
     "scores multiplied by sqrt(E) instead of divided", "scale-inverted"),
    ("01", "01-attention/src/lib.rs",
     "let scale = scale.unwrap_or(1.0 / (embed as f64).sqrt());",
     "let scale = scale.map_or(1.0 / (embed as f64).sqrt(), |_| 1.0 / (embed as f64).sqrt());",
     "an explicit scale ignored (always 1/sqrt(E))", "scale-ignored"),
    ("01", "01-attention/src/lib.rs",
     "softmax(&(scores * scale)?)",
     "softmax(&scores)? * scale",
     "scale applied to the weights after the softmax", "scale-after-softmax"),
    ("01", "01-attention/src/lib.rs",
     "let scores = matmul(q, &k.t()?)?;",
     "let scores = matmul(k, &q.t()?)?;",
     "scores k·qᵀ instead of q·kᵀ", "scores-transposed"),
    ("01", "01-attention/src/lib.rs",
     "matmul(&attention_weights(q, k, scale)?, v)",
     "{\n        let _ = v;\n        matmul(&attention_weights(q, k, scale)?, k)\n    }",
     "weights applied to the keys instead of the values", "values-are-keys"),
    ("02", "02-masked-attention/src/lib.rs",
     "empty.where_cond(&zeros, &weights)",
     "Ok(weights)",
     "fully masked rows not zeroed"),
    ("02", "02-masked-attention/src/lib.rs",
     "Tensor::full(f32::NEG_INFINITY, allowed.shape()",
     "Tensor::full(-1e9f32, allowed.shape()",
     "masked scores set to -1e9 instead of -inf", "minus-1e9"),
    ("02", "02-masked-attention/src/lib.rs",
     "allowed.ne(0u8)?.where_cond(&zeros, &neg_inf)",
     "allowed.eq(0u8)?.where_cond(&zeros, &neg_inf)",
     "bool mask convention inverted (true = blocked)", "bool-mask-inverted"),
    ("02", "02-masked-attention/src/lib.rs",
     "keys.broadcast_le(&queries)",
     "keys.to_dtype(DType::F32)?.broadcast_le(&(queries.to_dtype(DType::F32)? + (s as f64 - l as f64))?)",
     "causal mask aligned bottom-right instead of top-left", "causal-bottom-right"),
    ("02", "02-masked-attention/src/lib.rs",
     "keys.broadcast_le(&queries)",
     "keys.broadcast_lt(&queries)",
     "causal mask without the diagonal", "causal-no-diagonal"),
    ("02", "02-masked-attention/src/lib.rs",
     "let bias = additive_mask(&causal)?.to_dtype(scores.dtype())?;\n        scores = scores.broadcast_add(&bias)?;",
     "let bias = additive_mask(&causal)?.to_dtype(scores.dtype())?;",
     "is_causal ignored", "causal-ignored"),
    ("02", "02-masked-attention/src/lib.rs",
     "let mut scores = (attention::matmul(q, &k.t()?)? * scale)?;",
     "let mut scores = (attention::matmul(q, &k.t()?)? * scale)?;\n    let mut zeroed = attention::softmax(&scores)?;\n    if let Some(mask) = attn_mask {\n        zeroed = zeroed.broadcast_mul(&additive_mask(mask)?.exp()?)?;\n    }\n    if is_causal {\n        let causal = AttnMask::Bool(causal_mask(l, s, q.device())?);\n        zeroed = zeroed.broadcast_mul(&additive_mask(&causal)?.exp()?)?;\n    }\n    return Ok(zeroed);",
     "softmax over every score, then the masked weights set to 0", "zeroed-after-softmax"),
    ("02", "02-masked-attention/src/lib.rs",
     "    if let Some(mask) = attn_mask {\n        let bias = additive_mask(mask)?.to_dtype(scores.dtype())?;\n        scores = scores.broadcast_add(&bias)?;\n    }\n    if is_causal {\n        let causal = AttnMask::Bool(causal_mask(l, s, q.device())?);\n        let bias = additive_mask(&causal)?.to_dtype(scores.dtype())?;\n        scores = scores.broadcast_add(&bias)?;\n    }",
     "    if let Some(mask) = attn_mask {\n        scores = match mask {\n            AttnMask::Bool(m) => scores.broadcast_mul(&m.to_dtype(scores.dtype())?)?,\n            AttnMask::Float(_) => scores.broadcast_add(&additive_mask(mask)?.to_dtype(scores.dtype())?)?,\n        };\n    }\n    if is_causal {\n        scores = scores.broadcast_mul(&causal_mask(l, s, q.device())?.to_dtype(scores.dtype())?)?;\n    }",
     "scores multiplied by the bool (and causal) mask instead of masked with -inf", "mask-multiplied"),
    ("02", "02-masked-attention/src/lib.rs",
     "let mut scores = (attention::matmul(q, &k.t()?)? * scale)?;\n    if let Some(mask) = attn_mask {\n        let bias = additive_mask(mask)?.to_dtype(scores.dtype())?;\n        scores = scores.broadcast_add(&bias)?;\n    }",
     "let mut scores = attention::matmul(q, &k.t()?)?;\n    if let Some(mask) = attn_mask {\n        let bias = additive_mask(mask)?.to_dtype(scores.dtype())?;\n        scores = scores.broadcast_add(&bias)?;\n    }\n    scores = (scores * scale)?;",
     "float mask added before the scale", "mask-before-scale"),
    ("02", "02-masked-attention/src/lib.rs",
     "let weights = attention::softmax(&empty.where_cond(&zeros, &scores)?)?;\n    empty.where_cond(&zeros, &weights)",
     "let _ = (&empty, &zeros);\n    attention::softmax(&scores)",
     "fully masked rows left NaN (plain softmax of -inf)", "fully-masked-nan"),
    ("03", "03-head/src/lib.rs",
     "scaled_dot_product_attention(&q, &k, &v, mask, false, None)",
     "scaled_dot_product_attention(&q, &k, &v, mask, false, Some(1.0 / (self.model_dim as f64).sqrt()))",
     "head scaled by 1/sqrt(model_dim) instead of 1/sqrt(qk_dim)", "scale-model-dim"),
    ("03", "03-head/src/lib.rs",
     "scaled_dot_product_attention(&q, &k, &v, mask, false, None)",
     "scaled_dot_product_attention(&q, &k, &v, mask, false, Some(1.0))",
     "head without the 1/sqrt(qk_dim) scale", "no-scale"),
    ("03", "03-head/src/lib.rs",
     "q: candle_nn::linear(model_dim, qk_dim, vb.pp(\"Q\"))?,\n            k: candle_nn::linear(model_dim, qk_dim, vb.pp(\"K\"))?,\n            v: candle_nn::linear(model_dim, model_dim, vb.pp(\"V\"))?,",
     "q: candle_nn::linear_no_bias(model_dim, qk_dim, vb.pp(\"Q\"))?,\n            k: candle_nn::linear_no_bias(model_dim, qk_dim, vb.pp(\"K\"))?,\n            v: candle_nn::linear_no_bias(model_dim, model_dim, vb.pp(\"V\"))?,",
     "Q, K and V loaded without their biases", "no-bias"),
    ("03", "03-head/src/lib.rs",
     "let q = self.q.forward(x)?;\n        let k = self.k.forward(x)?;",
     "let q = self.k.forward(x)?;\n        let k = self.q.forward(x)?;",
     "Q and K layers swapped", "qk-swapped"),
    ("03", "03-head/src/lib.rs",
     "let v = self.v.forward(x)?;",
     "let v = x.clone();",
     "x itself as the values, V skipped", "values-not-projected"),
    ("03", "03-head/src/lib.rs",
     "scaled_dot_product_attention(&q, &k, &v, mask, false, None)",
     "scaled_dot_product_attention(&q, &k, &v, mask.and(None), false, None)",
     "the head's mask not passed on", "mask-ignored"),
    ("04", "04-multi-head/src/lib.rs",
     "mask.where_cond(&forbidden, &allowed)",
     "mask.where_cond(&allowed, &forbidden)",
     "MHA bool mask convention inverted (1 = allowed, as SDPA)", "mask-convention-sdpa"),
    ("04", "04-multi-head/src/lib.rs",
     "x.reshape((b, l, num_heads, e / num_heads))?\n        .transpose(1, 2)?",
     "x.reshape((b, l, e / num_heads, num_heads))?\n        .transpose(1, 3)?\n        .transpose(2, 3)?",
     "heads split as (B, L, D, H) instead of (B, L, H, D)", "heads-split-d-h"),
    ("04", "04-multi-head/src/lib.rs",
     "let v = split_heads(&self.v_proj.forward(value)?, h)?;",
     "let v = split_heads(&self.k_proj.forward(value)?, h)?;",
     "k projection used for the values"),
    ("04", "04-multi-head/src/lib.rs",
     "let k = split_heads(&self.k_proj.forward(key)?, h)?;\n        let v = split_heads(&self.v_proj.forward(value)?, h)?;",
     "let k = split_heads(&self.v_proj.forward(key)?, h)?;\n        let v = split_heads(&self.k_proj.forward(value)?, h)?;",
     "key and value projections swapped", "kv-swapped"),
    ("04", "04-multi-head/src/lib.rs",
     "let out = self.out_proj.forward(&combine_heads(&heads)?)?;",
     "let out = combine_heads(&heads)?;",
     "out_proj missing", "no-out-proj"),
    ("04", "04-multi-head/src/lib.rs",
     "(true, true) => Some(weights.mean(1)?),",
     "(true, true) => Some(weights.clone()),",
     "average_attn_weights ignored", "average-ignored"),
    ("04", "04-multi-head/src/lib.rs",
     "    x.reshape((b, l, num_heads, e / num_heads))?\n        .transpose(1, 2)?\n        .contiguous()\n}\n\n/// Puts the heads side by side again: (B, H, L, D) → (B, L, H·D), the\n/// inverse of [`split_heads`].\npub fn combine_heads(x: &Tensor) -> Result<Tensor> {\n    let (b, h, l, d) = x.dims4()?;\n    x.transpose(1, 2)?.contiguous()?.reshape((b, l, h * d))",
     "    x.reshape((b, num_heads, l, e / num_heads))?.contiguous()\n}\n\n/// Puts the heads side by side again: (B, H, L, D) → (B, L, H·D), the\n/// inverse of [`split_heads`].\npub fn combine_heads(x: &Tensor) -> Result<Tensor> {\n    let (b, h, l, d) = x.dims4()?;\n    x.contiguous()?.reshape((b, l, h * d))",
     "heads split and combined by a reshape alone, no transpose", "heads-no-transpose"),
    ("04", "04-multi-head/src/lib.rs",
     "masked_attention::masked_attention_weights(&q, &k, mask.as_ref(), false, None)?;",
     "masked_attention::masked_attention_weights(&q, &k, mask.as_ref(), false, Some(1.0 / (self.embed_dim as f64).sqrt()))?;",
     "heads scaled by 1/sqrt(E) instead of 1/sqrt(D)", "scale-embed-dim"),
    ("04", "04-multi-head/src/lib.rs",
     "out_proj: candle_nn::linear(e, e, vb.pp(\"out_proj\"))?,",
     "out_proj: candle_nn::linear_no_bias(e, e, vb.pp(\"out_proj\"))?,",
     "out_proj without its bias", "out-proj-no-bias"),
    ("04", "04-multi-head/src/lib.rs",
     "q_proj: Linear::new(wq, Some(bias.narrow(0, 0, e)?)),\n            k_proj: Linear::new(wk, Some(bias.narrow(0, e, e)?)),\n            v_proj: Linear::new(wv, Some(bias.narrow(0, 2 * e, e)?)),",
     "q_proj: Linear::new(wq, None),\n            k_proj: Linear::new(wk, None),\n            v_proj: Linear::new(wv, None),",
     "q, k, v projections without in_proj_bias", "no-in-proj-bias"),
    ("04", "04-multi-head/src/lib.rs",
     ".map(|m| m.additive()?.reshape((b, 1, 1, s)))",
     ".map(|m| {\n                let m = match m {\n                    MhaMask::Bool(t) => MhaMask::Bool(t.eq(0u8)?),\n                    other => other.clone(),\n                };\n                m.additive()?.reshape((b, 1, 1, s))\n            })",
     "bool key_padding_mask read as 1 = takes part", "padding-mask-inverted"),
    ("05", "05-decoder-layer/src/lib.rs",
     "Activation::Gelu => x.gelu_erf(),",
     "Activation::Gelu => x.gelu(),",
     "tanh-approximate gelu instead of the exact erf gelu", "tanh-gelu"),
    ("05", "05-decoder-layer/src/lib.rs",
     ".forward(x, x, x, None, Some(&mask), false, true)?;",
     ".forward(x, x, x, None, None, false, true)?;",
     "decoder self-attention without the causal mask", "no-causal-mask"),
    ("05", "05-decoder-layer/src/lib.rs",
     "if self.norm_first {",
     "if !self.norm_first {",
     "post-LN and pre-LN swapped", "ln-swapped"),
    ("05", "05-decoder-layer/src/lib.rs",
     "let centered = x.broadcast_sub(&x.mean_keepdim(D::Minus1)?)?;",
     "return candle_nn::ops::layer_norm(&x.contiguous()?, &self.weight, &self.bias, self.eps as f32);\n        let centered = x.broadcast_sub(&x.mean_keepdim(D::Minus1)?)?;",
     "fused candle_nn layer norm (passes no gradient)"),
    ("05", "05-decoder-layer/src/lib.rs",
     "Ok(MhaMask::Float(masked_attention::additive_mask(\n        &AttnMask::Bool(allowed),\n    )?))",
     "Ok(MhaMask::Bool(allowed))",
     "exercise 02's causal mask wrapped as MhaMask::Bool without inverting it", "causal-mask-inverted"),
    ("05", "05-decoder-layer/src/lib.rs",
     "            let x = (x + self.self_attention_block(&self.norm1.forward(x)?)?)?;\n            &x + self.feed_forward_block(&self.norm2.forward(&x)?)?\n        } else {\n            let x = self.norm1.forward(&(x + self.self_attention_block(x)?)?)?;\n            self.norm2.forward(&(&x + self.feed_forward_block(&x)?)?)",
     "            let x = self.self_attention_block(&self.norm1.forward(x)?)?;\n            self.feed_forward_block(&self.norm2.forward(&x)?)\n        } else {\n            let x = self.norm1.forward(&self.self_attention_block(x)?)?;\n            self.norm2.forward(&self.feed_forward_block(&x)?)",
     "both residual connections missing", "no-residual"),
    ("05", "05-decoder-layer/src/lib.rs",
     "let variance = centered.sqr()?.mean_keepdim(D::Minus1)?;",
     "let variance = (centered.sqr()?.sum_keepdim(D::Minus1)? / (x.dim(D::Minus1)? as f64 - 1.0))?;",
     "LayerNorm with the unbiased variance (divides by d - 1)", "ln-unbiased-variance"),
    ("07", "07-attention-habit/src/lib.rs",
     "unit(query)?.broadcast_matmul(&unit(key)?.t()?.contiguous()?)",
     "unit(query)?.broadcast_matmul(&key.t()?.contiguous()?)",
     "cosine similarity without the key's norm"),
    ("07", "07-attention-habit/src/lib.rs",
     ".sqrt()?\n            .maximum(COSINE_EPS)?;",
     ".sqrt()?;",
     "cosine similarity without the eps clamp (NaN for a zero vector)", "cosine-no-eps"),
    ("07", "07-attention-habit/src/lib.rs",
     "let k = projections.key.forward(key)?;\n    let v = projections.value.forward(value)?;",
     "let k = projections.value.forward(key)?;\n    let v = projections.key.forward(value)?;",
     "key and value projections swapped", "kv-swapped"),
    ("07", "07-attention-habit/src/lib.rs",
     "let q = split_heads(query, heads)?;\n    let k = split_heads(key, heads)?;\n    let v = split_heads(value, heads)?;\n    let weights = scaled_dot_product(&q, &k)?;\n    combine_heads(&weights.matmul(&v)?)",
     "let split = |x: &Tensor| -> Result<Tensor> {\n        let (b, l, e) = x.dims3()?;\n        x.reshape((b, l, e / heads, heads))?.permute((0, 3, 1, 2))?.contiguous()\n    };\n    let weights = scaled_dot_product(&split(query)?, &split(key)?)?;\n    let o = weights.matmul(&split(value)?)?;\n    let (b, h, l, d) = o.dims4()?;\n    o.permute((0, 2, 3, 1))?.contiguous()?.reshape((b, l, d * h))",
     "heads split as (B, L, D, H) instead of (B, L, H, D)"),
    ("07", "07-attention-habit/src/lib.rs",
     "projections\n        .out\n        .forward(&multihead_attention(&q, &k, &v, heads)?)",
     "multihead_attention(&q, &k, &v, heads)",
     "no output projection"),
    ("07", "07-attention-habit/src/lib.rs",
     "let points = init.reshape((b, p, n * k))?;",
     "let points = init.reshape((b, p, n * k))?.narrow(1, 0, p.min(2))?;",
     "AttentionHabit reads only the first two init points"),
    ("07", "07-attention-habit/src/lib.rs",
     "let query = self.embed.forward(&input)?;",
     "let query = self.embed.forward(&input)?;\n        let query = query.broadcast_add(&query.mean_keepdim(1)?)?;",
     "AttentionHabit inputs see each other"),
    ("08", "08-bert/src/lib.rs",
     "let positions = Tensor::arange(0u32, len as u32, input_ids.device())?;",
     "let positions = Tensor::arange(1u32, len as u32 + 1, input_ids.device())?;",
     "BERT position ids 1..L instead of 0..L-1", "position-ids-off-by-one"),
    ("08", "08-bert/src/lib.rs",
     "let sum = (words + types)?.broadcast_add(&positions)?;",
     "let sum = (words + types.zeros_like()?)?.broadcast_add(&positions)?;",
     "token-type embeddings dropped", "token-types-dropped"),
    # 06 and 08: bugs only the training checks can catch (the forward pass
    # and the loss stay PyTorch's), to measure those checks' power.
    ("06", "06-toy-task/src/lib.rs",
     "attention::attention_weights(&self.query, &keys, None)",
     "candle_nn::ops::softmax_last_dim(&(self.query.broadcast_matmul(&keys.t()?)? / (keys.dim(2)? as f64).sqrt())?)",
     "attention through softmax_last_dim, which passes no gradient"),
    ("06", "06-toy-task/src/lib.rs",
     "optimizer.backward_step(&loss)?;",
     "loss.backward()?;",
     "gradients computed, the optimizer never steps"),
    ("06", "06-toy-task/src/lib.rs",
     "let loss = bce_with_logits(&model.logits(&x)?, &y)?;",
     "let loss = bce_with_logits(&model.logits(&x)?, &y.affine(-1.0, 1.0)?)?;",
     "trained against inverted labels"),
    ("06", "06-toy-task/src/lib.rs",
     "lr: config.learning_rate,",
     "lr: 5e-5,",
     "the seed's learning rate 5e-5 instead of the config's"),
    ("08", "08-bert/src/lib.rs",
     "optimizer.backward_step(&loss)?;",
     "loss.backward()?;",
     "habit head: gradients computed, the optimizer never steps"),
    ("08", "08-bert/src/lib.rs",
     "self.habit.forward(&init, &queries)",
     "self.habit.forward(&init, &queries)?.detach().contiguous()",
     "habit head: the summary detached (habit and queries never learn)"),
    ("08", "08-bert/src/lib.rs",
     "let y = Tensor::cat(&targets, 0)?;",
     "let y = Tensor::cat(&targets.iter().rev().cloned().collect::<Vec<_>>(), 0)?;",
     "habit head: labels concatenated in another order than the logits"),
    ("08", "08-bert/src/lib.rs",
     "lr: config.learning_rate,",
     "lr: 5e-5,",
     "habit head: learning rate 5e-5 instead of the config's"),
    # 09 (bonus): FlashAttention.
    ("09", "09-flash-attention/src/lib.rs",
     "if w.alpha[r] != 1.0 {",
     "if false && w.alpha[r] != 1.0 {",
     "no rescale of the accumulator when the maximum grows", "no-rescale"),
    ("09", "09-flash-attention/src/lib.rs",
     "lse[r] = w.m[r] + l.ln();",
     "lse[r] = l.ln();",
     "log-sum-exp without the maximum", "lse-without-max"),
    ("09", "09-flash-attention/src/lib.rs",
     "self.s.min(i1)",
     "self.s.min(i1 - 1)",
     "off-by-one in the causal block skip: keys up to i1 - 1 (forward, dQ)"),
    ("09", "09-flash-attention/src/lib.rs",
     "j0 / self.bq * self.bq",
     "(j0 + 1) / self.bq * self.bq",
     "off-by-one in the causal block skip: first query block of a key block (dK, dV)"),
    ("09", "09-flash-attention/src/lib.rs",
     "*x = pv * (*x - d);",
     "*x = pv * *x;",
     "the backward without the D term"),
    ("09", "09-flash-attention/src/lib.rs",
     "for j0 in (0..kend).step_by(p.bk) {",
     "for j0 in (0..kend / p.bk * p.bk).step_by(p.bk) {",
     "a tile loop that drops the last partial key block"),
    ("09", "09-flash-attention/src/lib.rs",
     "    let mut lse = vec![0f32; d.heads * d.l];\n    with_f32(q, |q| {",
     "    let mut lse = vec![0f32; d.heads * d.l];\n    let scores = std::hint::black_box(vec![0f32; d.heads * d.l * d.s]);\n    drop(scores);\n    with_f32(q, |q| {",
     "an L×S score buffer (memory)"),
    ("09", "09-flash-attention/src/lib.rs",
     "lse[r] = w.m[r] + l.ln();",
     "lse[r] = (w.m[r].exp() * l).ln();",
     "log-sum-exp as ln(exp(m) · l), which overflows", "lse-overflows"),
    ("09", "09-flash-attention/src/lib.rs",
     "with_f32(out, |o| {",
     "with_f32(&out.zeros_like()?, |o| {",
     "the backward without the D term (D from a zero output, every path)", "no-d-term"),
    ("09", "09-flash-attention/src/lib.rs",
     "            if p.causal && j0 + nk > i0 + 1 {\n                // A block on the diagonal: key j0 + c is hidden from queries\n                // i0 + r < j0 + c.\n                for c in 0..nk {\n                    let hidden = (j0 + c).saturating_sub(i0).min(nq);",
     "            if p.causal && j0 + nk > i0 {\n                // A block on the diagonal: key j0 + c is hidden from queries\n                // i0 + r < j0 + c.\n                for c in 0..nk {\n                    let hidden = (j0 + c + 1).saturating_sub(i0).min(nq);",
     "forward causal mask without its diagonal (j < i)", "causal-no-diagonal"),
    ("09", "09-flash-attention/src/lib.rs",
     "        let kend = p.key_end(i0 + nq);\n        for j0 in (0..kend).step_by(p.bk) {\n            let nk = p.bk.min(kend - j0);\n            // Sᵀ = K_j · (scale · Q_i)ᵀ: nk × nq (padded to nqp columns).\n            let kj = View {\n                data: &k_h[j0 * e..],\n                rs: e,\n                cs: 1,\n            };\n            tile_matmul(nk, nqp, e, 1.0, kj, &w.qt, bqp, &mut w.st, bqp, false);\n            if p.causal && j0 + nk > i0 + 1 {\n                // A block on the diagonal: key j0 + c is hidden from queries\n                // i0 + r < j0 + c.\n                for c in 0..nk {\n                    let hidden = (j0 + c).saturating_sub(i0).min(nq);",
     "        let kend = p.key_end(i0 + nq + 1);\n        for j0 in (0..kend).step_by(p.bk) {\n            let nk = p.bk.min(kend - j0);\n            // Sᵀ = K_j · (scale · Q_i)ᵀ: nk × nq (padded to nqp columns).\n            let kj = View {\n                data: &k_h[j0 * e..],\n                rs: e,\n                cs: 1,\n            };\n            tile_matmul(nk, nqp, e, 1.0, kj, &w.qt, bqp, &mut w.st, bqp, false);\n            if p.causal && j0 + nk > i0 + 2 {\n                // A block on the diagonal: key j0 + c is hidden from queries\n                // i0 + r < j0 + c.\n                for c in 0..nk {\n                    let hidden = (j0 + c).saturating_sub(i0 + 1).min(nq);",
     "forward causal mask one key too wide (j ≤ i + 1)", "causal-extra-key"),
    # 10 (bonus): GPT-2, the KV cache, decoding.
    ("10", "10-gpt/src/lib.rs",
     "            c_proj: conv1d(vb.pp(\"c_proj\"), e, e)?,\n            n_head",
     "            c_proj: Linear::new(vb.pp(\"c_proj\").get((e, e), \"weight\")?, Some(vb.pp(\"c_proj\").get(e, \"bias\")?)),\n            n_head",
     "attn.c_proj's Conv1D weight read as nn.Linear's (not transposed)", "conv1d-as-linear"),
    ("10", "10-gpt/src/lib.rs",
     "    x.gelu()\n",
     "    x.gelu_erf()\n",
     "erf gelu instead of gelu_new (tanh)", "erf-gelu"),
    ("10", "10-gpt/src/lib.rs",
     "let x = self.ln_f.forward(&x)?;",
     "let x = x.clone();",
     "no final LayerNorm ln_f", "no-final-ln"),
    ("10", "10-gpt/src/lib.rs",
     "    let new = new_mask.to_dtype(DType::F32)?;",
     "    let new = new_mask.ones_like()?.to_dtype(DType::F32)?;",
     "positions 0..T-1 whatever the padding", "positions-ignore-padding"),
    ("10", "10-gpt/src/lib.rs",
     "    let new = new_mask.to_dtype(DType::U8)?;",
     "    let new = new_mask.ones_like()?.to_dtype(DType::U8)?;",
     "padding keys not masked", "padding-keys-attended"),
    ("10", "10-gpt/src/lib.rs",
     "let count = new.cumsum(1)?.broadcast_add(&before)?;",
     "let count = new.cumsum(1)?;",
     "positions restart at 0 at every step (the cache's positions not counted)", "positions-restart"),
    ("10", "10-gpt/src/lib.rs",
     "    let causal = key_index.broadcast_le(&queries)?; // (n, T)",
     "    let causal = if first == 0 { key_index.broadcast_le(&queries)? } else { Tensor::ones((n, total), DType::U8, device)? };",
     "no causal mask in a step after the prefill", "step-no-causal-mask"),
    ("10", "10-gpt/src/lib.rs",
     "let queries = Tensor::arange(first, total as u32, device)?.unsqueeze(1)?;",
     "let queries = Tensor::arange(0u32, n as u32, device)?.unsqueeze(1)?;",
     "a step's causal mask anchored top-left (exercise 02's is_causal)", "step-causal-top-left"),
    ("10", "10-gpt/src/lib.rs",
     "        let (b, n) = new_tokens.dims2()?;\n",
     "        let (b, n) = new_tokens.dims2()?;\n        let cache: Option<&KvCache> = cache.filter(|_| false);\n",
     "forward_step ignores the cache it is given", "cache-not-kept"),
    ("10", "10-gpt/src/lib.rs",
     "    logits / temperature\n",
     "    logits * temperature\n",
     "logits multiplied by the temperature", "temperature-multiplied"),
    ("10", "10-gpt/src/lib.rs",
     "            if rank > 0 && above >= p {\n                break;\n            }\n            keep[token] = 1;\n            above += exp[token] / total;",
     "            above += exp[token] / total;\n            if rank > 0 && above > p {\n                break;\n            }\n            keep[token] = 1;",
     "top-p drops the token whose probability crosses p", "top-p-crossing-token-dropped"),
    ("10", "10-gpt/src/lib.rs",
     "    let mut logits = apply_temperature(logits, sampling.temperature)?;\n    if let Some(k) = sampling.top_k {\n        logits = top_k_filter(&logits, k)?;\n    }\n    if let Some(p) = sampling.top_p {\n        logits = top_p_filter(&logits, p)?;\n    }\n    Ok(logits)",
     "    let mut logits = logits.clone();\n    if let Some(k) = sampling.top_k {\n        logits = top_k_filter(&logits, k)?;\n    }\n    if let Some(p) = sampling.top_p {\n        logits = top_p_filter(&logits, p)?;\n    }\n    apply_temperature(&logits, sampling.temperature)",
     "temperature applied after top-k and top-p", "temperature-last"),
    ("10", "10-gpt/src/lib.rs",
     "                Tensor::cat(&[&past.k, &k], 2)?,\n                Tensor::cat(&[&past.v, &v], 2)?,",
     "                Tensor::cat(&[&past.k, &k], 1)?,\n                Tensor::cat(&[&past.v, &v], 1)?,",
     "the cache appended along the heads (axis 1) instead of T (axis 2)"),
    ("10", "10-gpt/src/lib.rs",
     "            Some(past) => (\n                Tensor::cat(&[&past.k, &k], 2)?,\n                Tensor::cat(&[&past.v, &v], 2)?,\n            ),",
     "            Some(_) => (k.clone(), v.clone()),",
     "the cache replaced by the step's keys and values instead of grown"),
    ("10", "10-gpt/src/lib.rs",
     "            cache: KvCache { layers, mask },",
     "            cache: KvCache { layers, mask: mask.narrow(1, mask.dim(1)? - n, n)? },",
     "the cache's mask keeps only the last step's positions"),
    ("10", "10-gpt/src/lib.rs",
     "((count - 1.0)? * new)?.to_dtype(DType::U32)",
     "(count * new)?.to_dtype(DType::U32)",
     "positions counted from 1"),
    ("10", "10-gpt/src/lib.rs",
     "        let at = logits.dim(1)? - 1;",
     "        let at = 0;",
     "generation reads the next token off the first position, not the last"),
    ("10", "10-gpt/src/lib.rs",
     "(Some(cache), Some(last)) => model.forward_step(last, None, Some(cache))?,",
     "(Some(_), Some(last)) => model.forward_step(last, None, None)?,",
     "generation steps without the cache they built"),
    ("10", "10-gpt/src/lib.rs",
     "        mask = Tensor::cat(&[&mask, &Tensor::ones((b, 1), DType::U8, device)?], 1)?;",
     "        mask = Tensor::cat(&[&mask, &Tensor::zeros((b, 1), DType::U8, device)?], 1)?;",
     "generated tokens masked as padding (the no-cache path)"),
    ("10", "10-gpt/src/lib.rs",
     "        last = Some(token);",
     "        last = Some(ids.narrow(1, 0, 1)?);",
     "generation feeds the cache the first token instead of the new one"),
    ("10", "10-gpt/src/lib.rs",
     "        let mask = AttnMask::Bool(allowed.clone());",
     "        let _ = masked_attention::scaled_dot_product_attention(&k, &k, &v, None, true, None)?;\n        let mask = AttnMask::Bool(allowed.clone());",
     "a step that recomputes the attention of every past position (quadratic per step: the step-time check)"),
    ("10", "10-gpt/src/lib.rs",
     "        let u: f64 = rng.random::<f64>() * total;",
     "        let u: f64 = <StdRng as rand::SeedableRng>::seed_from_u64(7).random::<f64>() * total;",
     "sampling ignores the rng it is given"),
    ("10", "10-gpt/src/lib.rs",
     "    let filtered = filter_logits(logits, sampling)?.to_dtype(DType::F32)?;",
     "    let filtered = apply_temperature(logits, sampling.temperature)?.to_dtype(DType::F32)?;",
     "sampling ignores top-k and top-p"),
    ("10", "10-gpt/src/lib.rs",
     "        let u: f64 = rng.random::<f64>() * total;",
     "        let u: f64 = rng.random::<f64>() * total * 0.5;",
     "sampling draws from the wrong distribution"),
    # 10's training check: bugs only it catches (the forward pass stays right).
    ("10", "10-gpt/src/lib.rs",
     "        optimizer.backward_step(&loss)?;",
     "        loss.backward()?;",
     "training without an optimizer step"),
    ("10", "10-gpt/src/lib.rs",
     "    let targets = ids.narrow(1, 1, len - 1)?;",
     "    let targets = ids.narrow(1, 0, len - 1)?;",
     "language-model targets not shifted (each position predicts itself)"),
    ("10", "10-gpt/src/lib.rs",
     "            batch.extend_from_slice(&sequences[rng.random_range(0..sequences.len())]);",
     "            batch.extend_from_slice(&sequences[rng.random_range(0..sequences.len().min(4))]);",
     "training batches drawn from four sequences only"),
    ("10", "10-gpt/src/lib.rs",
     "    let weight = vb.get((in_dim, out_dim), \"weight\")?.t()?;",
     "    let weight = vb.get((in_dim, out_dim), \"weight\")?.t()?.contiguous()?;",
     "conv1d copies its weight (a snapshot training never updates)"),
]


def grade(exercise: str, fixtures: str | None) -> dict:
    out = ROOT / "target" / "planted-bug-report.json"
    out.parent.mkdir(exist_ok=True)
    out.unlink(missing_ok=True)  # a failed run must not leave the last bug's report
    extra = ["--fixtures", fixtures] if fixtures else []
    subprocess.run(
        ["cargo", "run", "-q", "-p", "grader", "--", exercise, "--solutions",
         "--seed", "11", "--format", "json", "--output", str(out)] + extra,
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return json.loads(out.read_text())["exercises"][-1]


def diagnoses(result: dict) -> dict:
    """The mistakes the report names, each with how many checks it names."""
    named = {}
    for check in result.get("checks", []):
        diagnosis = (check.get("mismatch") or {}).get("diagnosis") or {}
        if diagnosis.get("mistake"):
            named[diagnosis["mistake"]] = named.get(diagnosis["mistake"], 0) + 1
    return named


def catalogue(exercise: str) -> list:
    """The mistake ids of exercises/<NN-*>/mistakes.yaml (none without one);
    read with a pattern (`  - id: <id>`) so that this script needs no YAML
    library."""
    for file in sorted((ROOT / "exercises").glob(f"{exercise}-*/mistakes.yaml")):
        return re.findall(r"^\s*-\s*id:\s*[\"']?([A-Za-z0-9._-]+)", file.read_text(), re.M)
    return []


def main() -> int:
    parser = argparse.ArgumentParser(description="Plants known bugs in the reference solutions.")
    parser.add_argument("exercises", nargs="*", help="exercise numbers (default: all)")
    parser.add_argument("--fixtures", help="fixture folder, passed on to the grader")
    parser.add_argument("--unnamed", action="store_true", help="list the failed checks of a "
                        "catalogued mistake's bug that do not name it")
    parser.add_argument("--checks", action="store_true", help="list the checks that did not "
                        "pass for each bug (which checks have the power to catch it)")
    args = parser.parse_args()
    fixtures = str(Path(args.fixtures).resolve()) if args.fixtures else None
    wanted = set(args.exercises)
    missed = 0
    # Every catalogued mistake needs a bug that plants it.
    catalogued = {f.parent.name.split("-")[0] for f in (ROOT / "exercises").glob("*/mistakes.yaml")}
    for exercise in sorted(catalogued):
        if wanted and exercise not in wanted:
            continue
        planted = {bug[5] for bug in BUGS if bug[0] == exercise and len(bug) > 5}
        for mistake in catalogue(exercise):
            if mistake not in planted:
                print(f"?  {exercise} mistake {mistake}: catalogued, but no bug below plants it; add one")
                missed += 1
    for exercise, path, old, new, what, *mistake in BUGS:
        if wanted and exercise not in wanted:
            continue
        file = ROOT / "solutions" / path
        original = file.read_text()
        old, new = old.replace("\\n", "\n"), new.replace("\\n", "\n")
        if old not in original:
            print(f"?  {exercise} {what}: the text to replace is gone from solutions/{path}; update this list")
            missed += 1
            continue
        try:
            file.write_text(original.replace(old, new, 1))
            result = grade(exercise, fixtures)
        finally:
            file.write_text(original)
        caught = result["status"] != "passed"
        missed += not caught
        mark = "caught" if caught else "MISSED"
        print(f"{mark:7} {exercise} {what}: {result['status']}, {result['score']}/{result['points']}, {result['summary'][:90]}")
        if args.checks:
            failed = [c["check"] for c in result.get("checks", []) if c.get("status") != "passed"]
            print(f"        {len(failed)} check(s) not passed: {', '.join(failed[:12])}"
                  + (" ..." if len(failed) > 12 else ""))
        if mistake:
            named = diagnoses(result)
            failed = sum(1 for c in result.get("checks", []) if c.get("status") == "failed")
            others = ", ".join(f"{m} {n}" for m, n in sorted(named.items()) if m != mistake[0])
            others = f"; also named: {others}" if others else ""
            if mistake[0] in named:
                print(f"        named {mistake[0]} ({named[mistake[0]]} of {failed} failed checks{others})")
            else:
                missed += 1
                print(f"        UNNAMED {mistake[0]} ({failed} failed checks{others})")
            if args.unnamed:
                rest = [c["check"] for c in result.get("checks", []) if c.get("status") == "failed"
                        and ((c.get("mismatch") or {}).get("diagnosis") or {}).get("mistake")
                        != mistake[0]]
                if rest:
                    print(f"          not naming it: {', '.join(rest)}")
    print(f"{missed} planted bug(s) missed or unnamed" if missed
          else "every planted bug was caught, and every catalogued mistake named")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
