#!/usr/bin/env python3
"""Plants known bugs in the reference solutions, one at a time, and checks
that the grader catches each (the exercise must not pass). Restores every
file afterwards, even on Ctrl-C.

    python3 scripts/planted-bugs.py            # every bug
    python3 scripts/planted-bugs.py 01 02      # the bugs of some exercises

A bug the grader misses means a check is missing: add one. The list below
is data: (exercise, file under solutions/, text to replace, replacement, what it is).
"""
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

BUGS = [
    ("01", "01-attention/src/lib.rs",
     "let scale = scale.unwrap_or(1.0 / (embed as f64).sqrt());",
     "let scale = scale.unwrap_or(1.0);",
     "no 1/sqrt(E) scale"),
    ("01", "01-attention/src/lib.rs",
     "let exp = x.broadcast_sub(&max)?.exp()?;",
     "let exp = x.exp()?;",
     "softmax without subtracting the row maximum (overflows)"),
    ("01", "01-attention/src/lib.rs",
     "exp.broadcast_div(&exp.sum_keepdim(D::Minus1)?)",
     "exp.broadcast_div(&exp.sum_keepdim(D::Minus2)?)",
     "softmax normalized over the wrong axis"),
    ("01", "01-attention/src/lib.rs",
     "let scores = matmul(q, &k.t()?)?;",
     "let scores = matmul(&q.t()?.contiguous()?, k)?.t()?.contiguous()?.narrow(D::Minus1, 0, k.dim(D::Minus2)?)?.narrow(D::Minus2, 0, q.dim(D::Minus2)?)?;",
     "scores from the wrong product"),
    ("01", "01-attention/src/lib.rs",
     "let embed = q.dim(D::Minus1)?;",
     "let embed = k.dim(D::Minus2)?;",
     "scale from the number of keys instead of the embedding size"),
    ("02", "02-masked-attention/src/lib.rs",
     "empty.where_cond(&zeros, &weights)",
     "Ok(weights)",
     "fully masked rows not zeroed"),
    ("02", "02-masked-attention/src/lib.rs",
     "Tensor::full(f32::NEG_INFINITY, allowed.shape()",
     "Tensor::full(-1e9f32, allowed.shape()",
     "masked scores set to -1e9 instead of -inf"),
    ("02", "02-masked-attention/src/lib.rs",
     "allowed.ne(0u8)?.where_cond(&zeros, &neg_inf)",
     "allowed.eq(0u8)?.where_cond(&zeros, &neg_inf)",
     "bool mask convention inverted (true = blocked)"),
    ("02", "02-masked-attention/src/lib.rs",
     "keys.broadcast_le(&queries)",
     "keys.to_dtype(DType::F32)?.broadcast_le(&(queries.to_dtype(DType::F32)? + (s as f64 - l as f64))?)",
     "causal mask aligned bottom-right instead of top-left"),
    ("02", "02-masked-attention/src/lib.rs",
     "let bias = additive_mask(&causal)?.to_dtype(scores.dtype())?;\n        scores = scores.broadcast_add(&bias)?;",
     "let bias = additive_mask(&causal)?.to_dtype(scores.dtype())?;",
     "is_causal ignored"),
    ("04", "04-multi-head/src/lib.rs",
     "mask.where_cond(&forbidden, &allowed)",
     "mask.where_cond(&allowed, &forbidden)",
     "MHA bool mask convention inverted (1 = allowed, as SDPA)"),
    ("04", "04-multi-head/src/lib.rs",
     "x.reshape((b, l, num_heads, e / num_heads))?\n        .transpose(1, 2)?",
     "x.reshape((b, l, e / num_heads, num_heads))?\n        .transpose(1, 3)?\n        .transpose(2, 3)?",
     "heads split as (B, L, D, H) instead of (B, L, H, D)"),
    ("04", "04-multi-head/src/lib.rs",
     "let v = split_heads(&self.v_proj.forward(value)?, h)?;",
     "let v = split_heads(&self.k_proj.forward(value)?, h)?;",
     "k projection used for the values"),
    ("04", "04-multi-head/src/lib.rs",
     "let out = self.out_proj.forward(&combine_heads(&heads)?)?;",
     "let out = combine_heads(&heads)?;",
     "out_proj missing"),
    ("04", "04-multi-head/src/lib.rs",
     "(true, true) => Some(weights.mean(1)?),",
     "(true, true) => Some(weights.clone()),",
     "average_attn_weights ignored"),
    ("05", "05-decoder-layer/src/lib.rs",
     "Activation::Gelu => x.gelu_erf(),",
     "Activation::Gelu => x.gelu(),",
     "tanh-approximate gelu instead of the exact erf gelu"),
    ("05", "05-decoder-layer/src/lib.rs",
     ".forward(x, x, x, None, Some(&mask), false, true)?;",
     ".forward(x, x, x, None, None, false, true)?;",
     "decoder self-attention without the causal mask"),
    ("05", "05-decoder-layer/src/lib.rs",
     "if self.norm_first {",
     "if !self.norm_first {",
     "post-LN and pre-LN swapped"),
    ("05", "05-decoder-layer/src/lib.rs",
     "let centered = x.broadcast_sub(&x.mean_keepdim(D::Minus1)?)?;",
     "return candle_nn::ops::layer_norm(&x.contiguous()?, &self.weight, &self.bias, self.eps as f32);\n        let centered = x.broadcast_sub(&x.mean_keepdim(D::Minus1)?)?;",
     "fused candle_nn layer norm (passes no gradient)"),
    ("07", "07-attention-habit/src/lib.rs",
     "unit(query)?.broadcast_matmul(&unit(key)?.t()?.contiguous()?)",
     "unit(query)?.broadcast_matmul(&key.t()?.contiguous()?)",
     "cosine similarity without the key's norm"),
    ("07", "07-attention-habit/src/lib.rs",
     ".sqrt()?\n            .maximum(COSINE_EPS)?;",
     ".sqrt()?;",
     "cosine similarity without the eps clamp (NaN for a zero vector)"),
    ("07", "07-attention-habit/src/lib.rs",
     "let k = projections.key.forward(key)?;\n    let v = projections.value.forward(value)?;",
     "let k = projections.value.forward(key)?;\n    let v = projections.key.forward(value)?;",
     "key and value projections swapped"),
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
]


def grade(exercise: str) -> dict:
    out = ROOT / "target" / "planted-bug-report.json"
    out.unlink(missing_ok=True)  # a failed run must not leave the last bug's report
    subprocess.run(
        ["cargo", "run", "-q", "-p", "grader", "--", exercise, "--solutions",
         "--seed", "11", "--format", "json", "--output", str(out)],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return json.loads(out.read_text())["exercises"][-1]


def main() -> int:
    wanted = set(sys.argv[1:])
    missed = 0
    for exercise, path, old, new, what in BUGS:
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
            result = grade(exercise)
        finally:
            file.write_text(original)
        caught = result["status"] != "passed"
        missed += not caught
        mark = "caught" if caught else "MISSED"
        print(f"{mark:7} {exercise} {what}: {result['status']}, {result['score']}/{result['points']}, {result['summary'][:90]}")
    print(f"{missed} planted bug(s) missed" if missed else "every planted bug was caught")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
