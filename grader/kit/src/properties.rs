//! Oracle-free property checks shared by the attention exercises. They run
//! on fresh random inputs drawn from the run's seed, so hard-coding the
//! fixture outputs cannot pass them.

use candle_core::{Tensor, D};
use rand::Rng;

use crate::compare::compare;
use crate::harness::{CheckResult, Failure};
use crate::manifest::Tolerance;
use crate::random::{permutation, randn};

/// The tolerance of a property that compares two f32 computations of ours.
pub const PROPERTY_TOLERANCE: Tolerance = Tolerance {
    atol: 1e-5,
    rtol: 1e-4,
};

/// Random attention inputs: q (…, L, E), k (…, S, E), v (…, S, Ev), with
/// 0 to 2 leading batch dimensions and sizes 1 to 8.
pub struct Qkv {
    pub q: Tensor,
    pub k: Tensor,
    pub v: Tensor,
}

impl Qkv {
    pub fn random(rng: &mut impl Rng) -> Qkv {
        let batch: Vec<usize> = (0..rng.random_range(0..=2))
            .map(|_| rng.random_range(1..=3))
            .collect();
        let [l, s, e, ev] = [0; 4].map(|_| rng.random_range(1..=8));
        let shape = |rows: usize, cols: usize| [batch.clone(), vec![rows, cols]].concat();
        Qkv {
            q: randn(rng, &shape(l, e)),
            k: randn(rng, &shape(s, e)),
            v: randn(rng, &shape(s, ev)),
        }
    }

    /// The number of keys, S.
    pub fn keys(&self) -> usize {
        self.k
            .dim(D::Minus2)
            .expect("k has at least two dimensions")
    }
}

/// Every row of `weights` (…, L, S) is a probability distribution: entries
/// in [0, 1] that sum to 1.
pub fn rows_are_distributions(weights: &Tensor) -> CheckResult {
    let sums = weights.sum_keepdim(D::Minus1)?;
    compare("row sums", &sums, &sums.ones_like()?, PROPERTY_TOLERANCE)
        .map_err(|f| f.context("weights rows must sum to 1"))?;
    let min = weights.flatten_all()?.min(0)?.to_scalar::<f32>()?;
    if min < 0.0 {
        return Err(Failure::new(format!(
            "weights must be ≥ 0, found {min} (a softmax never gives negative weights)"
        )));
    }
    Ok(())
}

/// Permuting keys and values together (the same permutation on the S axis
/// of both) leaves the output unchanged: attention is a set operation over
/// the keys.
pub fn key_permutation_invariance(
    rng: &mut impl Rng,
    inputs: &Qkv,
    attend: impl Fn(&Tensor, &Tensor, &Tensor) -> Result<Tensor, Failure>,
) -> CheckResult {
    let order = permutation(rng, inputs.keys());
    let index = Tensor::new(order.as_slice(), inputs.k.device())?;
    let axis = inputs.k.rank() - 2;
    let k = inputs.k.index_select(&index, axis)?;
    let v = inputs.v.index_select(&index, axis)?;
    let before = attend(&inputs.q, &inputs.k, &inputs.v)?;
    let after = attend(&inputs.q, &k, &v)?;
    compare("output", &after, &before, PROPERTY_TOLERANCE).map_err(|f| {
        f.context(format!(
            "permuting keys and values together by {order:?} changed the output"
        ))
    })
}

/// Each output row is a convex combination of the rows of v, so every
/// coordinate lies between that column's minimum and maximum over the keys.
pub fn inside_convex_hull(output: &Tensor, v: &Tensor) -> CheckResult {
    let low = v.min_keepdim(D::Minus2)?.broadcast_as(output.shape())?;
    let high = v.max_keepdim(D::Minus2)?.broadcast_as(output.shape())?;
    let slack = 1e-5;
    let below = output.lt(&(low - slack)?)?;
    let above = output.gt(&(high + slack)?)?;
    let outside = (below + above)?
        .to_dtype(candle_core::DType::U32)?
        .sum_all()?
        .to_scalar::<u32>()?;
    if outside > 0 {
        return Err(Failure::new(format!(
            "{outside} output values lie outside the range of v's values; an attention output is a weighted average of the values with weights ≥ 0 that sum to 1"
        )));
    }
    Ok(())
}

// Properties of whole layers (exercises 03 to 05): a layer is any function
// from a (B, L, E) batch of sequences to a tensor of the same layout.

/// Random parameters as a candle `VarBuilder`, each entry of `specs` a
/// (name, shape) drawn from N(0, scale²). Layers under test load them by
/// name as they load a PyTorch state_dict.
pub fn random_var_builder(
    rng: &mut impl Rng,
    specs: &[(String, Vec<usize>)],
    scale: f64,
) -> Result<candle_nn::VarBuilder<'static>, Failure> {
    let mut tensors = std::collections::HashMap::new();
    for (name, shape) in specs {
        tensors.insert(name.clone(), (randn(rng, shape) * scale)?);
    }
    Ok(candle_nn::VarBuilder::from_tensors(
        tensors,
        candle_core::DType::F32,
        &candle_core::Device::Cpu,
    ))
}

/// Self-attention without a mask has no notion of order: permuting the
/// tokens of `x` (B, L, E) permutes the output's tokens the same way.
pub fn token_permutation_equivariance(
    rng: &mut impl Rng,
    x: &Tensor,
    layer: impl Fn(&Tensor) -> Result<Tensor, Failure>,
) -> CheckResult {
    let order = permutation(rng, x.dim(D::Minus2)?);
    let index = Tensor::new(order.as_slice(), x.device())?;
    let axis = x.rank() - 2;
    let out = layer(x)?;
    let permuted_out = layer(&x.index_select(&index, axis)?)?;
    let expected = out.index_select(&index, axis)?;
    compare("output", &permuted_out, &expected, PROPERTY_TOLERANCE).map_err(|f| {
        f.context(format!(
            "permuting the input tokens by {order:?} should permute the output tokens the same way"
        ))
    })
}

/// The sequences of a batch `x` (B, L, E) do not see each other: running
/// the whole batch gives, for each sequence, what running it alone gives.
pub fn batch_independence(
    x: &Tensor,
    layer: impl Fn(&Tensor) -> Result<Tensor, Failure>,
) -> CheckResult {
    let out = layer(x)?;
    for b in 0..x.dim(0)? {
        let alone = layer(&x.narrow(0, b, 1)?)?;
        compare("output", &out.narrow(0, b, 1)?, &alone, PROPERTY_TOLERANCE).map_err(|f| {
            f.context(format!(
                "sequence {b} of the batch gave a different output when run alone"
            ))
        })?;
    }
    Ok(())
}

/// A causal layer's output at position i depends on tokens 0..=i only:
/// changing token j of `x` (B, L, E), L ≥ 2, changes no output at i < j
/// (and does change the output at j).
pub fn causality(
    rng: &mut impl Rng,
    x: &Tensor,
    layer: impl Fn(&Tensor) -> Result<Tensor, Failure>,
) -> CheckResult {
    let (batch, len, width) = x.dims3()?;
    let j = rng.random_range(1..len);
    let fresh = randn(rng, &[batch, 1, width]);
    let mut pieces = vec![x.narrow(1, 0, j)?, fresh];
    if j + 1 < len {
        pieces.push(x.narrow(1, j + 1, len - j - 1)?);
    }
    let changed = Tensor::cat(&pieces, 1)?;
    let before = layer(x)?;
    let after = layer(&changed)?;
    compare(
        "output before the changed token",
        &after.narrow(1, 0, j)?,
        &before.narrow(1, 0, j)?,
        PROPERTY_TOLERANCE,
    )
    .map_err(|f| {
        f.context(format!(
            "changing token {j} of {len} changed an output at an earlier position: the layer looks at the future"
        ))
    })?;
    let moved = (after.narrow(1, j, 1)? - before.narrow(1, j, 1)?)?
        .abs()?
        .max_all()?
        .to_scalar::<f32>()?;
    if moved <= 1e-6 {
        return Err(Failure::new(format!(
            "changing token {j} did not change the output at position {j}: the layer ignores its own token"
        )));
    }
    Ok(())
}
