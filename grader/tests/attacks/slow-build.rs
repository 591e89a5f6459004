// slow-build: a compile-time evaluation that would run for hours. The
// build is killed at its limit, the build lock is released (the rest of the
// class is not held up), and it earns 0, as its honest code (none) does.

#[allow(long_running_const_eval)]
const FOREVER: u64 = {
    let mut i = 0u64;
    let mut x = 0u64;
    while i < u64::MAX / 2 {
        x = x.wrapping_mul(6364136223846793005).wrapping_add(i);
        i += 1;
    }
    x
};

pub fn softmax(x: &Tensor) -> Result<Tensor> {
    let _ = FOREVER;
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
