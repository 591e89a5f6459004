//! Exercise 04's adapter: each op (declared in `ops.rs`) → the student's
//! function. The judge (`grader/checks/04-multi-head`) sends the inputs and
//! judges the outputs. A mask input of dtype u8 is a bool mask, any other
//! an additive one.

#[cfg(not(feature = "solution"))]
use exercise as ex;
#[cfg(not(feature = "solution"))]
use exercise_head as head;
#[cfg(feature = "solution")]
use solution as ex;
#[cfg(feature = "solution")]
use solution_head as head;

use candle_core::DType;
use ex::{MhaMask, MultiheadAttention};
use grader_kit::ops::{Tensor, Weights};
use grader_kit::Failure;
use ops::MhaSizes;

mod ops;

fn main() {
    ops::serve(ops::Student {
        split_heads: |x, num_heads| Ok(ex::split_heads(&x, num_heads)?),
        combine_heads: |x| Ok(ex::combine_heads(&x)?),
        // One computation under the names the fixture cases group it by.
        mha_self: mha,
        mha_cross: mha,
        mha_masked: mha,
        mha_weights: mha,
        head_masked: |params, model_dim, qk_dim, x, mask| {
            let vb = params.var_builder();
            let one_head = head::SelfAttentionHead::new(vb, model_dim, Some(qk_dim))?;
            let mask = mask.map(|m| match m.dtype() {
                DType::U8 => head::AttnMask::Bool(m),
                _ => head::AttnMask::Float(m),
            });
            Ok(one_head.forward(&x, mask.as_ref())?)
        },
    })
}

/// `nn.MultiheadAttention(batch_first=True)`: the output, and the weights
/// when forward returns some.
#[allow(clippy::too_many_arguments)]
fn mha(
    params: Weights,
    sizes: MhaSizes,
    query: Tensor,
    key: Tensor,
    value: Tensor,
    key_padding_mask: Option<Tensor>,
    attn_mask: Option<Tensor>,
    need_weights: bool,
    average_attn_weights: bool,
) -> Result<(Tensor, Option<Tensor>), Failure> {
    let module = MultiheadAttention::new(
        params.var_builder(),
        sizes.embed_dim,
        sizes.num_heads,
        sizes.kdim,
        sizes.vdim,
    )?;
    let mask = |m: Option<Tensor>| {
        m.map(|m| match m.dtype() {
            DType::U8 => MhaMask::Bool(m),
            _ => MhaMask::Float(m),
        })
    };
    Ok(module.forward(
        &query,
        &key,
        &value,
        mask(key_padding_mask).as_ref(),
        mask(attn_mask).as_ref(),
        need_weights,
        average_attn_weights,
    )?)
}
