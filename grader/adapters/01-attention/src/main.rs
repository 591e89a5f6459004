//! Exercise 01's adapter: each op (declared in `ops.rs`) → the student's
//! function. The judge (`grader/checks/01-attention`) sends the inputs and
//! judges the outputs.

#[cfg(not(feature = "solution"))]
use exercise as ex;
#[cfg(feature = "solution")]
use solution as ex;

mod ops;

fn main() {
    ops::serve(ops::Student {
        softmax: |x| Ok(ex::softmax(&x)?),
        attention_weights: |q, k, scale| Ok(ex::attention_weights(&q, &k, scale)?),
        scaled_dot_product_attention: |q, k, v, scale| {
            Ok(ex::scaled_dot_product_attention(&q, &k, &v, scale)?)
        },
    })
}
