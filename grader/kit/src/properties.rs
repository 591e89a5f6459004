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
