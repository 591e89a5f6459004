// ct-solution: `include_str!` of the reference solution by its absolute
// path (solutions/ is in the instructor's kit, not in the staged copy).
// The build runs under Landlock: it must not compile.

/// A student would paste what they read; this one only proves it could.
pub static SOLUTION: &str = include_str!("@SOLUTION_FILE@");

pub fn softmax(x: &Tensor) -> Result<Tensor> {
    assert!(SOLUTION.contains("fn softmax"));
    todo!()
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
