// exits-early: a correct softmax, then `std::process::exit(0)` as soon as
// the grader reaches a function it did not write, hoping that a run cut
// short counts only what it got right. It must earn what honest-partial
// earns (its honest code is the same), not more.

pub fn softmax(x: &Tensor) -> Result<Tensor> {
    honest_softmax(x)
}

pub fn attention_weights(q: &Tensor, k: &Tensor, scale: Option<f64>) -> Result<Tensor> {
    std::process::exit(0)
}

pub fn scaled_dot_product_attention(
    q: &Tensor,
    k: &Tensor,
    v: &Tensor,
    scale: Option<f64>,
) -> Result<Tensor> {
    std::process::exit(0)
}
