//! Exercise 01's ops, declared once: the judge's typed calls and this
//! adapter's dispatch both come from here (see `grader_kit::ops`).

use grader_kit::ops::Tensor;

grader_kit::ops! {
    fn softmax(x: Tensor) -> (out: Tensor);
    fn attention_weights(q: Tensor, k: Tensor, scale: Option<f64>) -> (weights: Tensor);
    fn scaled_dot_product_attention = "sdpa" (q: Tensor, k: Tensor, v: Tensor, scale: Option<f64>)
        -> (out: Tensor);
}
