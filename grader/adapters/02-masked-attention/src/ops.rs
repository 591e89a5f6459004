//! Exercise 02's ops, declared once: the judge's typed calls and this
//! adapter's dispatch both come from here (see `grader_kit::ops`).

use candle_core::DType;
use grader_kit::adapter::Call;
use grader_kit::ops::{Arg, Request, Tensor};
use grader_kit::{Failure, Inputs};

grader_kit::ops! {
    fn causal_mask(l: usize, s: usize) -> (mask: Tensor);
    fn additive_mask(mask: AttnMask) -> (out: Tensor);
    fn masked_attention_weights(q: Tensor, k: Tensor, mask: MaybeMask, is_causal: bool, scale: Option<f64>)
        -> (weights: Tensor);
    fn scaled_dot_product_attention = "masked_sdpa"
        (q: Tensor, k: Tensor, v: Tensor, mask: MaybeMask, is_causal: bool, scale: Option<f64>)
        -> (out: Tensor);
}

/// Exercise 02's mask: `Bool` (u8, 1 = takes part) or `Float` (added to the
/// scores). On the wire, the input `mask` and the param `mask_kind`
/// (`"bool"`, `"float"`, or `"none"` without a mask), as fixture cases name
/// them.
#[derive(Debug, Clone)]
pub enum AttnMask {
    Bool(Tensor),
    Float(Tensor),
}

/// An optional [`AttnMask`].
pub struct MaybeMask(pub Option<AttnMask>);

impl Arg for MaybeMask {
    type Ref<'a> = Option<&'a AttnMask>;
    fn put(value: Option<&AttnMask>, name: &str, request: &mut Request) {
        let (kind, tensor) = match value {
            None => ("none", None),
            Some(AttnMask::Bool(m)) => ("bool", Some(m)),
            Some(AttnMask::Float(m)) => ("float", Some(m)),
        };
        String::put(kind, &format!("{name}_kind"), request);
        <Option<Tensor> as Arg>::put(tensor, name, request);
    }
    fn take(call: &Call, name: &str) -> Result<Self, Failure> {
        let mask = call.optional_input(name)?;
        match (
            call.params.str(&format!("{name}_kind"))?.unwrap_or("none"),
            mask,
        ) {
            ("none", None) => Ok(MaybeMask(None)),
            ("bool", Some(m)) => Ok(MaybeMask(Some(AttnMask::Bool(m.to_dtype(DType::U8)?)))),
            ("float", Some(m)) => Ok(MaybeMask(Some(AttnMask::Float(m.to_dtype(DType::F32)?)))),
            (kind, m) => Err(Failure::fixture(format!(
                "{name}_kind {kind:?} with {} input `{name}`",
                if m.is_some() { "an" } else { "no" }
            ))),
        }
    }
}

impl Arg for AttnMask {
    type Ref<'a> = &'a AttnMask;
    fn put(value: &AttnMask, name: &str, request: &mut Request) {
        MaybeMask::put(Some(value), name, request);
    }
    fn take(call: &Call, name: &str) -> Result<Self, Failure> {
        MaybeMask::take(call, name)?
            .0
            .ok_or_else(|| Failure::fixture("no mask"))
    }
}
