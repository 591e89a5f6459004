//! Exercise 03's adapter: op name → the student's `SelfAttentionHead`. The
//! judge (`grader/checks/03-head`) sends the weights and inputs and judges
//! the outputs.

#[cfg(not(feature = "solution"))]
use exercise as ex;
#[cfg(feature = "solution")]
use solution as ex;

use candle_core::DType;
use ex::{AttnMask, SelfAttentionHead};
use grader_kit::adapter::{outputs, serve, unknown_op};
use grader_kit::Inputs;

fn main() {
    serve(|call| match call.op.as_str() {
        // `head_masked` has an input `mask`: u8 = bool, float = additive.
        "head" | "head_masked" => {
            let head = SelfAttentionHead::new(
                call.var_builder("params")?,
                call.params.usize("model_dim")?,
                Some(call.params.usize("qk_dim")?),
            )?;
            let mask = call.optional_input("mask")?.map(|m| match m.dtype() {
                DType::U8 => AttnMask::Bool(m),
                _ => AttnMask::Float(m),
            });
            outputs([("out", head.forward(&call.input("x")?, mask.as_ref())?)])
        }
        _ => unknown_op(call),
    })
}
