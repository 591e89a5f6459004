// hangs-early: a correct softmax, then an endless loop as soon as the grader
// reaches a function it did not write, hoping that a run stopped by the time
// limit counts only what it got right. It must earn what honest-partial
// earns (its honest code is the same), not more.

pub fn softmax(x: &Tensor) -> Result<Tensor> {
    honest_softmax(x)
}

#[allow(clippy::empty_loop)]
pub fn attention_weights(q: &Tensor, k: &Tensor, scale: Option<f64>) -> Result<Tensor> {
    loop {}
}

#[allow(clippy::empty_loop)]
pub fn scaled_dot_product_attention(
    q: &Tensor,
    k: &Tensor,
    v: &Tensor,
    scale: Option<f64>,
) -> Result<Tensor> {
    loop {}
}
