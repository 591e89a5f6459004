//! Exercise 01's adapter: each op (declared in `ops.rs`) → the student's
//! function. The judge (`grader/checks/01-attention`) sends the inputs and
//! judges the outputs.

#[cfg(not(feature = "solution"))]
use exercise as ex;
#[cfg(feature = "solution")]
use solution as ex;

use grader_kit::ops::Tensor;
use grader_kit::Failure;

mod ops;

struct Student;

impl ops::Student for Student {
    fn softmax(&self, x: Tensor) -> Result<Tensor, Failure> {
        Ok(ex::softmax(&x)?)
    }

    fn attention_weights(
        &self,
        q: Tensor,
        k: Tensor,
        scale: Option<f64>,
    ) -> Result<Tensor, Failure> {
        Ok(ex::attention_weights(&q, &k, scale)?)
    }

    fn scaled_dot_product_attention(
        &self,
        q: Tensor,
        k: Tensor,
        v: Tensor,
        scale: Option<f64>,
    ) -> Result<Tensor, Failure> {
        Ok(ex::scaled_dot_product_attention(&q, &k, &v, scale)?)
    }
}

fn main() {
    ops::serve(Student)
}
