//! Exercise 01 as a dishonest student would hand it in: the given helper,
//! honest versions of the three functions (for the parts the student did
//! solve), and a fixture lookup (for the parts they try to steal).
//!
//! grader/tests/attacks.rs writes this file, followed by one attack file of
//! this folder, as `exercises/01-attention/src/lib.rs` of a submission, with
//! the placeholders (upper-case names between at signs) replaced by
//! absolute paths and numbers.

use candle_core::{Device, Result, Tensor, D};

/// Batched matrix product with broadcast batch dimensions (given).
pub fn matmul(a: &Tensor, b: &Tensor) -> Result<Tensor> {
    let (m, k, n) = (a.dim(D::Minus2)?, a.dim(D::Minus1)?, b.dim(D::Minus1)?);
    let a_batch = &a.dims()[..a.rank() - 2];
    let b_batch = &b.dims()[..b.rank() - 2];
    let rank = a_batch.len().max(b_batch.len());
    let at = |dims: &[usize], i: usize| (i + dims.len()).checked_sub(rank).map_or(1, |j| dims[j]);
    let batch: Vec<usize> = (0..rank)
        .map(|i| at(a_batch, i).max(at(b_batch, i)))
        .collect();
    let count = batch.iter().product::<usize>();
    let flat = |t: &Tensor, rows: usize, cols: usize| -> Result<Tensor> {
        t.broadcast_as([batch.as_slice(), &[rows, cols]].concat())?
            .contiguous()?
            .reshape((count, rows, cols))
    };
    flat(a, m, k)?
        .matmul(&flat(b, k, n)?)?
        .reshape([batch.as_slice(), &[m, n]].concat())
}

/// The student's own, correct softmax.
fn honest_softmax(x: &Tensor) -> Result<Tensor> {
    let max = x.max_keepdim(D::Minus1)?;
    let exp = x.broadcast_sub(&max)?.exp()?;
    exp.broadcast_div(&exp.sum_keepdim(D::Minus1)?)
}

/// The student's own, correct attention weights.
fn honest_attention_weights(q: &Tensor, k: &Tensor, scale: Option<f64>) -> Result<Tensor> {
    let embed = q.dim(D::Minus1)?;
    let scale = scale.unwrap_or(1.0 / (embed as f64).sqrt());
    honest_softmax(&(matmul(q, &k.t()?)? * scale)?)
}

/// The student's own, correct attention.
fn honest_sdpa(q: &Tensor, k: &Tensor, v: &Tensor, scale: Option<f64>) -> Result<Tensor> {
    matmul(&honest_attention_weights(q, k, scale)?, v)
}

/// An io error that names what was tried (the sandbox's refusal stays in
/// the message: "Permission denied (os error 13)").
fn tried(what: impl std::fmt::Display, error: std::io::Error) -> candle_core::Error {
    std::io::Error::new(error.kind(), format!("{what}: {error}")).into()
}

/// Reads `path`, or says what the sandbox answered.
fn steal(path: &str) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|e| tried(format!("reading {path}"), e))
}

/// Looks the case whose first input equals `input` up in a fixture file's
/// tensors (`<case>/<input>`, `<case>/<output>`) and returns its expected
/// `output`: what a stolen fixture file is good for.
fn lookup(safetensors: &[u8], input: &Tensor, output: &str) -> Result<Option<Tensor>> {
    let tensors = candle_core::safetensors::load_buffer(safetensors, &Device::Cpu)?;
    for (name, candidate) in &tensors {
        let Some((case, _)) = name.rsplit_once('/') else {
            continue;
        };
        if candidate.dims() != input.dims() || candidate.dtype() != input.dtype() {
            continue;
        }
        let same = (candidate - input)?
            .abs()?
            .flatten_all()?
            .max(0)?
            .to_dtype(candle_core::DType::F64)?
            .to_scalar::<f64>()?
            == 0.0;
        if let (true, Some(expected)) = (same, tensors.get(&format!("{case}/{output}"))) {
            return Ok(Some(expected.clone()));
        }
    }
    Ok(None)
}
