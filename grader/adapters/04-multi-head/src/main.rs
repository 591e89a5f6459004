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

struct Student;

/// The `mha_*` ops, one computation under the names the fixture cases
/// group it by: each calls [`mha`].
macro_rules! mha_ops {
    ($($op:ident),*) => {$(
        fn $op(
            &self,
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
            let masks = [key_padding_mask, attn_mask];
            let flags = [need_weights, average_attn_weights];
            mha(params, sizes, [query, key, value], masks, flags)
        }
    )*};
}

impl ops::Student for Student {
    fn split_heads(&self, x: Tensor, num_heads: usize) -> Result<Tensor, Failure> {
        Ok(ex::split_heads(&x, num_heads)?)
    }

    fn combine_heads(&self, x: Tensor) -> Result<Tensor, Failure> {
        Ok(ex::combine_heads(&x)?)
    }

    mha_ops!(mha_self, mha_cross, mha_masked, mha_weights);

    fn head_masked(
        &self,
        params: Weights,
        model_dim: usize,
        qk_dim: usize,
        x: Tensor,
        mask: Option<Tensor>,
    ) -> Result<Tensor, Failure> {
        let one_head = head::SelfAttentionHead::new(params.var_builder(), model_dim, Some(qk_dim))?;
        let mask = mask.map(|m| match m.dtype() {
            DType::U8 => head::AttnMask::Bool(m),
            _ => head::AttnMask::Float(m),
        });
        Ok(one_head.forward(&x, mask.as_ref())?)
    }
}

/// `nn.MultiheadAttention(batch_first=True)`: the output, and the weights
/// when forward returns some.
fn mha(
    params: Weights,
    sizes: MhaSizes,
    [query, key, value]: [Tensor; 3],
    [key_padding_mask, attn_mask]: [Option<Tensor>; 2],
    [need_weights, average_attn_weights]: [bool; 2],
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

fn main() {
    ops::serve(Student)
}
