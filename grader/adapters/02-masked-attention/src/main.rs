//! Exercise 02's adapter: op name → the student's function. The judge
//! (`grader/checks/02-masked-attention`) sends the inputs and judges the
//! outputs.

#[cfg(not(feature = "solution"))]
use exercise as ex;
#[cfg(feature = "solution")]
use solution as ex;

use candle_core::{DType, Device};
use ex::AttnMask;
use grader_kit::adapter::{outputs, serve, unknown_op, Call};
use grader_kit::{Failure, Inputs};

fn main() {
    serve(|call| {
        let is_causal = || call.params.bool("is_causal");
        let scale = || call.params.f64("scale");
        match call.op.as_str() {
            "causal_mask" => outputs([(
                "mask",
                ex::causal_mask(
                    call.params.usize("l")?,
                    call.params.usize("s")?,
                    &Device::Cpu,
                )?,
            )]),
            "additive_mask" => {
                let mask = mask(call)?.ok_or_else(|| Failure::fixture("no mask"))?;
                outputs([("out", ex::additive_mask(&mask)?)])
            }
            "masked_attention_weights" => outputs([(
                "weights",
                ex::masked_attention_weights(
                    &call.input("q")?,
                    &call.input("k")?,
                    mask(call)?.as_ref(),
                    is_causal()?,
                    scale()?,
                )?,
            )]),
            "masked_sdpa" => outputs([(
                "out",
                ex::scaled_dot_product_attention(
                    &call.input("q")?,
                    &call.input("k")?,
                    &call.input("v")?,
                    mask(call)?.as_ref(),
                    is_causal()?,
                    scale()?,
                )?,
            )]),
            _ => unknown_op(call),
        }
    })
}

/// The input `mask` as the param `mask_kind` says: none, bool (u8) or float.
fn mask(call: &Call) -> Result<Option<AttnMask>, Failure> {
    let mask = call.optional_input("mask")?;
    match (call.params.str("mask_kind")?.unwrap_or("none"), mask) {
        ("none", None) => Ok(None),
        ("bool", Some(m)) => Ok(Some(AttnMask::Bool(m.to_dtype(DType::U8)?))),
        ("float", Some(m)) => Ok(Some(AttnMask::Float(m.to_dtype(DType::F32)?))),
        (kind, m) => Err(Failure::fixture(format!(
            "mask_kind {kind:?} with {} input `mask`",
            if m.is_some() { "an" } else { "no" }
        ))),
    }
}
