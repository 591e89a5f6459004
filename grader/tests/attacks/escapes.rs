// escapes: a correct softmax; on its first call it starts a process that
// leaves the adapter's process group (`setsid`), keeps every descriptor the
// adapter had (the reply pipe, the output pipe) and burns CPU for longer
// than the whole batch. Nothing may wait on it, and nothing of it may be
// left when the batch ends. It earns what honest-partial earns.

extern "C" {
    fn fork() -> i32;
    fn setsid() -> i32;
}

static STARTED: std::sync::Once = std::sync::Once::new();

fn escape() {
    STARTED.call_once(|| {
        // SAFETY: the child only spins and exits; it calls no allocator.
        unsafe {
            if fork() == 0 {
                setsid();
                let start = std::time::Instant::now();
                let mut x = 0u64;
                while start.elapsed().as_secs() < @LIFETIME@ {
                    x = x.wrapping_mul(6364136223846793005).wrapping_add(1);
                }
                std::process::exit((x & 1) as i32);
            }
        }
    });
}

pub fn softmax(x: &Tensor) -> Result<Tensor> {
    escape();
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
