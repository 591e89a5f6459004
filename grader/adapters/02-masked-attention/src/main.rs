//! Exercise 02's adapter: each op (declared in `ops.rs`) → the student's
//! function. The judge (`grader/checks/02-masked-attention`) sends the
//! inputs and judges the outputs.

#[cfg(not(feature = "solution"))]
use exercise as ex;
#[cfg(feature = "solution")]
use solution as ex;

use candle_core::Device;
use grader_kit::ops::Tensor;
use grader_kit::Failure;
use ops::{AttnMask, MaybeMask};

mod ops;

struct Student;

impl ops::Student for Student {
    fn causal_mask(&self, l: usize, s: usize) -> Result<Tensor, Failure> {
        Ok(ex::causal_mask(l, s, &Device::Cpu)?)
    }

    fn additive_mask(&self, mask: AttnMask) -> Result<Tensor, Failure> {
        Ok(ex::additive_mask(&theirs(mask))?)
    }

    fn masked_attention_weights(
        &self,
        q: Tensor,
        k: Tensor,
        mask: MaybeMask,
        is_causal: bool,
        scale: Option<f64>,
    ) -> Result<Tensor, Failure> {
        let mask = mask.0.map(theirs);
        Ok(ex::masked_attention_weights(
            &q,
            &k,
            mask.as_ref(),
            is_causal,
            scale,
        )?)
    }

    fn scaled_dot_product_attention(
        &self,
        q: Tensor,
        k: Tensor,
        v: Tensor,
        mask: MaybeMask,
        is_causal: bool,
        scale: Option<f64>,
    ) -> Result<Tensor, Failure> {
        let mask = mask.0.map(theirs);
        Ok(ex::scaled_dot_product_attention(
            &q,
            &k,
            &v,
            mask.as_ref(),
            is_causal,
            scale,
        )?)
    }
}

/// The wire's mask as the student's `AttnMask`.
fn theirs(mask: AttnMask) -> ex::AttnMask {
    match mask {
        AttnMask::Bool(m) => ex::AttnMask::Bool(m),
        AttnMask::Float(m) => ex::AttnMask::Float(m),
    }
}

fn main() {
    ops::serve(Student)
}
