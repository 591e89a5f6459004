//! Exercise 02's adapter: each op (declared in `ops.rs`) → the student's
//! function. The judge (`grader/checks/02-masked-attention`) sends the
//! inputs and judges the outputs.

#[cfg(not(feature = "solution"))]
use exercise as ex;
#[cfg(feature = "solution")]
use solution as ex;

use candle_core::Device;
use ops::AttnMask;

mod ops;

fn main() {
    ops::serve(ops::Student {
        causal_mask: |l, s| Ok(ex::causal_mask(l, s, &Device::Cpu)?),
        additive_mask: |mask| Ok(ex::additive_mask(&theirs(mask))?),
        masked_attention_weights: |q, k, mask, is_causal, scale| {
            let mask = mask.0.map(theirs);
            Ok(ex::masked_attention_weights(
                &q,
                &k,
                mask.as_ref(),
                is_causal,
                scale,
            )?)
        },
        scaled_dot_product_attention: |q, k, v, mask, is_causal, scale| {
            let mask = mask.0.map(theirs);
            Ok(ex::scaled_dot_product_attention(
                &q,
                &k,
                &v,
                mask.as_ref(),
                is_causal,
                scale,
            )?)
        },
    })
}

/// The wire's mask as the student's `AttnMask`.
fn theirs(mask: AttnMask) -> ex::AttnMask {
    match mask {
        AttnMask::Bool(m) => ex::AttnMask::Bool(m),
        AttnMask::Float(m) => ex::AttnMask::Float(m),
    }
}
