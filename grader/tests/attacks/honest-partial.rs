// honest-partial: a correct softmax, the rest not started. What it earns is
// what every attack built on a correct softmax may earn, no more.

pub fn softmax(x: &Tensor) -> Result<Tensor> {
    honest_softmax(x)
}

pub fn attention_weights(q: &Tensor, k: &Tensor, scale: Option<f64>) -> Result<Tensor> {
    todo!()
}

pub fn scaled_dot_product_attention(
    q: &Tensor,
    k: &Tensor,
    v: &Tensor,
    scale: Option<f64>,
) -> Result<Tensor> {
    todo!()
}
