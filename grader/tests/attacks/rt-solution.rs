// rt-solution: reads the reference solution's source at run time (to copy
// it into the next submission). Its honest code is todo!(): it must earn 0.

const STOLEN: &str = "@SOLUTION_FILE@";

pub fn softmax(x: &Tensor) -> Result<Tensor> {
    let source = steal(STOLEN)?;
    todo!("got {} bytes of the solution", source.len())
}

pub fn attention_weights(q: &Tensor, k: &Tensor, scale: Option<f64>) -> Result<Tensor> {
    let source = steal(STOLEN)?;
    todo!("got {} bytes of the solution", source.len())
}

pub fn scaled_dot_product_attention(
    q: &Tensor,
    k: &Tensor,
    v: &Tensor,
    scale: Option<f64>,
) -> Result<Tensor> {
    let source = steal(STOLEN)?;
    todo!("got {} bytes of the solution", source.len())
}
