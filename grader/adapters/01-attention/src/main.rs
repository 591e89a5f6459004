//! Exercise 01's adapter: op name → the student's function. The judge
//! (`grader/checks/01-attention`) sends the inputs and judges the outputs.

#[cfg(not(feature = "solution"))]
use exercise as ex;
#[cfg(feature = "solution")]
use solution as ex;

use grader_kit::adapter::{outputs, serve, unknown_op};
use grader_kit::Inputs;

fn main() {
    serve(|call| {
        let scale = || call.params.f64("scale");
        match call.op.as_str() {
            "softmax" => outputs([("out", ex::softmax(&call.input("x")?)?)]),
            "attention_weights" => outputs([(
                "weights",
                ex::attention_weights(&call.input("q")?, &call.input("k")?, scale()?)?,
            )]),
            "sdpa" => outputs([(
                "out",
                ex::scaled_dot_product_attention(
                    &call.input("q")?,
                    &call.input("k")?,
                    &call.input("v")?,
                    scale()?,
                )?,
            )]),
            _ => unknown_op(call),
        }
    })
}
