// ct-fixtures, ct-hidden: `include_bytes!` of a fixture file by its absolute
// path (the instructor's fixtures, or the hidden set given with
// --fixtures), then the expected output of the case whose input matches.
// The build runs under Landlock: it must not compile.

static STOLEN: &[u8] = include_bytes!("@STOLEN@");

pub fn softmax(x: &Tensor) -> Result<Tensor> {
    match lookup(STOLEN, x, "out")? {
        Some(expected) => Ok(expected),
        None => todo!(),
    }
}

pub fn attention_weights(q: &Tensor, k: &Tensor, scale: Option<f64>) -> Result<Tensor> {
    match lookup(STOLEN, q, "weights")? {
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
    match lookup(STOLEN, q, "out")? {
        Some(expected) => Ok(expected),
        None => todo!(),
    }
}
