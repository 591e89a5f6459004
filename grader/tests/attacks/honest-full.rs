// honest-full: the whole exercise, done right. Must earn 10 / 10 whatever
// the other students of its batch try.

pub fn softmax(x: &Tensor) -> Result<Tensor> {
    honest_softmax(x)
}

pub fn attention_weights(q: &Tensor, k: &Tensor, scale: Option<f64>) -> Result<Tensor> {
    honest_attention_weights(q, k, scale)
}

pub fn scaled_dot_product_attention(
    q: &Tensor,
    k: &Tensor,
    v: &Tensor,
    scale: Option<f64>,
) -> Result<Tensor> {
    honest_sdpa(q, k, v, scale)
}
