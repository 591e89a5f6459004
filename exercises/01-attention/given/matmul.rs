//! Code that exercise 01 gives you (and every exercise after it, through
//! `attention::matmul`). It lives apart from your file so that the grader
//! and the reference solution use the kit's copy; `lib.rs` re-exports it.

use candle_core::{Result, Tensor, D};

/// Batched matrix product with broadcast batch dimensions:
/// (…, M, K) · (…, K, N) → (…, M, N), like `torch.matmul`. (given)
///
/// candle's own `matmul` needs equal batch dimensions and, on the CPU, no
/// more than two of them, laid out one after the other. So this helper
/// broadcasts the batch dimensions, flattens them into one, multiplies, and
/// restores them.
pub fn matmul(a: &Tensor, b: &Tensor) -> Result<Tensor> {
    let (m, k, n) = (a.dim(D::Minus2)?, a.dim(D::Minus1)?, b.dim(D::Minus1)?);
    let a_batch = &a.dims()[..a.rank() - 2];
    let b_batch = &b.dims()[..b.rank() - 2];
    let rank = a_batch.len().max(b_batch.len());
    // Right-align the batch dimensions; a missing or size-1 one broadcasts.
    let at = |dims: &[usize], i: usize| (i + dims.len()).checked_sub(rank).map_or(1, |j| dims[j]);
    let batch: Vec<usize> = (0..rank)
        .map(|i| at(a_batch, i).max(at(b_batch, i)))
        .collect();
    let count = batch.iter().product::<usize>();
    let flat = |t: &Tensor, rows: usize, cols: usize| -> Result<Tensor> {
        let shape = [batch.as_slice(), &[rows, cols]].concat();
        // Broadcast only when needed: candle's gradient of a broadcast sums
        // over the broadcast dimensions, element by element, even when
        // there are none.
        let t = if t.dims() == shape.as_slice() {
            t.clone()
        } else {
            t.broadcast_as(shape)?
        };
        t.contiguous()?.reshape((count, rows, cols))
    };
    flat(a, m, k)?
        .matmul(&flat(b, k, n)?)?
        .reshape([batch.as_slice(), &[m, n]].concat())
}
