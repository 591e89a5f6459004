// rt-hidden: a correct softmax of its own, and `std::fs::read` of the hidden
// set (given with --fixtures) at run time for the two functions it did not
// write. It must earn what honest-partial earns.

const STOLEN: &str = "@HIDDEN_FILE@";

pub fn softmax(x: &Tensor) -> Result<Tensor> {
    honest_softmax(x)
}

pub fn attention_weights(q: &Tensor, k: &Tensor, scale: Option<f64>) -> Result<Tensor> {
    match lookup(&steal(STOLEN)?, q, "weights")? {
        Some(expected) => Ok(expected),
        None => todo!(),
    }
}

pub fn scaled_dot_product_attention(
    q: &Tensor,
    k: &Tensor,
    v: &Tensor,
    scale: Option<f64>,
) -> Result<Tensor> {
    match lookup(&steal(STOLEN)?, q, "out")? {
        Some(expected) => Ok(expected),
        None => todo!(),
    }
}
