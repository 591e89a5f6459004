// rt-fixtures: `std::fs::read` of the instructor's fixture file at run
// time, in every function, then the expected output of the matching case.
// Its honest code is todo!() everywhere: it must earn 0, with the
// sandbox's refusal in the report.

const STOLEN: &str = "@FIXTURES_FILE@";

pub fn softmax(x: &Tensor) -> Result<Tensor> {
    match lookup(&steal(STOLEN)?, x, "out")? {
        Some(expected) => Ok(expected),
        None => todo!(),
    }
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
