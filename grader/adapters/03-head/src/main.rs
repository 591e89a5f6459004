//! Exercise 03's adapter: each op (declared in `ops.rs`) → the student's
//! `SelfAttentionHead`. The judge (`grader/checks/03-head`) sends the
//! weights and inputs and judges the outputs.

#[cfg(not(feature = "solution"))]
use exercise as ex;
#[cfg(feature = "solution")]
use solution as ex;

use candle_core::DType;
use ex::{AttnMask, SelfAttentionHead};
use grader_kit::ops::{Tensor, Weights};
use grader_kit::Failure;

mod ops;

fn main() {
    // One computation under the two names the fixture cases group it by.
    ops::serve(ops::Student {
        head: forward,
        head_masked: forward,
    })
}

/// The head with these weights on `x`; a mask of dtype u8 is a bool mask,
/// any other an additive one.
fn forward(
    params: Weights,
    model_dim: usize,
    qk_dim: usize,
    x: Tensor,
    mask: Option<Tensor>,
) -> Result<Tensor, Failure> {
    let head = SelfAttentionHead::new(params.var_builder(), model_dim, Some(qk_dim))?;
    let mask = mask.map(|m| match m.dtype() {
        DType::U8 => AttnMask::Bool(m),
        _ => AttnMask::Float(m),
    });
    Ok(head.forward(&x, mask.as_ref())?)
}
