// floods: a correct softmax; on its first call in each process it writes
// 1 GiB on stderr without a single newline. The launcher keeps a bounded
// part of it (the report says what was cut), its memory does not grow with
// it, and it earns what honest-partial earns.

use std::io::Write;

static FLOODED: std::sync::Once = std::sync::Once::new();

pub fn softmax(x: &Tensor) -> Result<Tensor> {
    FLOODED.call_once(|| {
        let chunk = vec![b'x'; 1 << 20];
        let mut err = std::io::stderr().lock();
        for _ in 0..1024 {
            if err.write_all(&chunk).is_err() {
                break;
            }
        }
    });
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
