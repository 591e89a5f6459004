//! Oracle-free property checks shared by the attention exercises. They run
//! on fresh random inputs drawn from the run's seed, so hard-coding the
//! fixture outputs cannot pass them.

use candle_core::{Tensor, D};
use rand::Rng;

use crate::compare::compare;
use crate::failure::{CheckResult, Failure};
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
// from a (B, L, E) batch of sequences to a tensor of the same layout. Its
// random parameters come from `ops::random_weights`.

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

// ---------------------------------------------------------------------------
// Masked attention (exercise 02, reused by the exercises that mask).
//
// An `allowed` mask is u8, 1 where a key takes part (SDPA's bool
// convention), and broadcasts to the scores' shape (…, L, S).
// ---------------------------------------------------------------------------

impl Qkv {
    /// The number of queries, L.
    pub fn queries(&self) -> usize {
        self.q
            .dim(D::Minus2)
            .expect("q has at least two dimensions")
    }

    /// The leading batch dimensions shared by q, k and v.
    pub fn batch(&self) -> Vec<usize> {
        let dims = self.q.dims();
        dims[..dims.len() - 2].to_vec()
    }

    /// The shape of the scores and weights, (…, L, S).
    pub fn scores_shape(&self) -> Vec<usize> {
        [self.batch(), vec![self.queries(), self.keys()]].concat()
    }
}

/// A random u8 mask of `shape` (last axis: the keys). Each row is empty (all
/// 0) with probability `empty_row`; otherwise each key takes part with
/// probability `p` and one random key always does, so the row is not empty.
pub fn random_allowed(rng: &mut impl Rng, shape: &[usize], p: f64, empty_row: f64) -> Tensor {
    let keys = *shape.last().expect("a mask has a key axis");
    let rows = shape.iter().product::<usize>() / keys.max(1);
    let mut data = Vec::with_capacity(rows * keys);
    for _ in 0..rows {
        if rng.random_bool(empty_row) {
            data.extend(std::iter::repeat_n(0u8, keys));
            continue;
        }
        let mut row: Vec<u8> = (0..keys).map(|_| rng.random_bool(p) as u8).collect();
        row[rng.random_range(0..keys)] = 1;
        data.extend(row);
    }
    Tensor::from_vec(data, shape, &candle_core::Device::Cpu).expect("shape matches the data")
}

/// The multi-index of a row-major flat index.
fn index_of(mut flat: usize, shape: &[usize]) -> Vec<usize> {
    let mut index = vec![0; shape.len()];
    for (axis, &size) in shape.iter().enumerate().rev() {
        if size > 0 {
            index[axis] = flat % size;
            flat /= size;
        }
    }
    index
}

/// `allowed` broadcast to (batch…, L, S) as a flat list of rows of S bools.
fn allowed_rows(allowed: &Tensor, shape: &[usize]) -> Result<Vec<Vec<bool>>, Failure> {
    let keys = *shape.last().expect("scores have a key axis");
    let flat = allowed
        .broadcast_as(shape)?
        .to_dtype(candle_core::DType::U8)?
        .flatten_all()?
        .to_vec1::<u8>()?;
    Ok(flat
        .chunks(keys)
        .map(|row| row.iter().map(|&a| a != 0).collect())
        .collect())
}

/// Masked attention weights (…, L, S) are distributions over the allowed
/// keys: no NaN, ≥ 0, ~0 on every masked key, rows summing to 1; a row
/// whose keys are all masked is exactly 0 (PyTorch's rule since 2.5).
pub fn masked_rows_are_distributions(weights: &Tensor, allowed: &Tensor) -> CheckResult {
    let shape = weights.dims().to_vec();
    let keys = *shape.last().expect("weights have a key axis");
    let values = crate::compare::values(weights)?;
    let rows = allowed_rows(allowed, &shape)?;
    let tol = PROPERTY_TOLERANCE;
    for (r, (row, allow)) in values.chunks(keys).zip(&rows).enumerate() {
        let at = |j: usize| index_of(r * keys + j, &shape);
        for (j, (&w, &ok)) in row.iter().zip(allow).enumerate() {
            if w.is_nan() || w < 0.0 {
                return Err(Failure::new(format!(
                    "weight {w} at {:?}: weights must be numbers ≥ 0",
                    at(j)
                )));
            }
            if !ok && w > tol.atol {
                return Err(Failure::new(format!(
                    "weight {w} at {:?} is on a masked-out key; a masked key must get weight 0",
                    at(j)
                )));
            }
        }
        let sum: f64 = row.iter().sum();
        if allow.iter().any(|&a| a) {
            if (sum - 1.0).abs() > tol.atol + tol.rtol {
                return Err(Failure::new(format!(
                    "row {:?} sums to {sum}; the weights over the allowed keys must sum to 1",
                    &at(0)[..shape.len() - 1]
                )));
            }
        } else if row.iter().any(|&w| w != 0.0) {
            return Err(Failure::new(format!(
                "row {:?} has every key masked, so its weights must all be exactly 0 (as PyTorch's), found {row:?}",
                &at(0)[..shape.len() - 1]
            )));
        }
    }
    Ok(())
}

/// A query whose keys are all masked gets an output row of exactly 0, and
/// no output value is NaN or infinite. `output` is (…, L, Ev), `allowed`
/// broadcasts to (…, L, S).
pub fn empty_rows_are_zero(output: &Tensor, allowed: &Tensor) -> CheckResult {
    let shape = output.dims().to_vec();
    let width = *shape.last().expect("output has a feature axis");
    let keys = *allowed.dims().last().expect("a mask has a key axis");
    let mut scores_shape = shape.clone();
    *scores_shape.last_mut().expect("nonempty") = keys;
    let rows = allowed_rows(allowed, &scores_shape)?;
    let values = crate::compare::values(output)?;
    let bad = values.iter().filter(|x| !x.is_finite()).count();
    if bad > 0 {
        return Err(Failure::new(format!(
            "{bad} output values are NaN or infinite; a query whose keys are all masked must give a row of zeros, not 0/0"
        )));
    }
    for (r, (row, allow)) in values.chunks(width).zip(&rows).enumerate() {
        if !allow.iter().any(|&a| a) && row.iter().any(|&x| x != 0.0) {
            let index = index_of(r * width, &shape);
            return Err(Failure::new(format!(
                "output row {:?} belongs to a query whose keys are all masked, so it must be exactly 0 (as PyTorch's), found {row:?}",
                &index[..shape.len() - 1]
            )));
        }
    }
    Ok(())
}

/// Each output row (…, i, :) lies inside the range of the values of the
/// keys query i may use: masked keys contribute nothing. Rows whose keys
/// are all masked are skipped (see [`empty_rows_are_zero`]). `v` is
/// (…, S, Ev) with the output's batch dimensions.
pub fn inside_convex_hull_of_allowed(output: &Tensor, v: &Tensor, allowed: &Tensor) -> CheckResult {
    let shape = output.dims().to_vec();
    let rank = shape.len();
    let (queries, width) = (shape[rank - 2], shape[rank - 1]);
    let keys = v.dim(D::Minus2)?;
    let mut v_shape = shape.clone();
    v_shape[rank - 2] = keys;
    let mut scores_shape = shape.clone();
    scores_shape[rank - 1] = keys;
    let rows = allowed_rows(allowed, &scores_shape)?;
    let out = crate::compare::values(output)?;
    let vals = crate::compare::values(&v.broadcast_as(v_shape)?)?;
    let slack = 1e-5;
    for (r, allow) in rows.iter().enumerate() {
        let batch = r / queries;
        for c in 0..width {
            let column = allow
                .iter()
                .enumerate()
                .filter(|(_, &a)| a)
                .map(|(j, _)| vals[(batch * keys + j) * width + c]);
            let (low, high) = column.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), x| {
                (lo.min(x), hi.max(x))
            });
            if low > high {
                continue; // every key masked
            }
            let x = out[r * width + c];
            if !(x >= low - slack && x <= high + slack) {
                let index = index_of(r * width + c, &shape);
                return Err(Failure::new(format!(
                    "output {x} at {index:?} lies outside [{low}, {high}], the range of the values its query may attend to; masked keys must contribute nothing"
                )));
            }
        }
    }
    Ok(())
}

/// Permuting the keys, the values and the mask's key axis together leaves
/// the output unchanged. `mask` (any dtype) broadcasts to (…, L, S) and has
/// S entries on its last axis; `attend(q, k, v, mask)`.
pub fn masked_key_permutation_invariance(
    rng: &mut impl Rng,
    inputs: &Qkv,
    mask: &Tensor,
    attend: impl Fn(&Tensor, &Tensor, &Tensor, &Tensor) -> Result<Tensor, Failure>,
) -> CheckResult {
    let order = permutation(rng, inputs.keys());
    let index = Tensor::new(order.as_slice(), inputs.k.device())?;
    let axis = inputs.k.rank() - 2;
    let k = inputs.k.index_select(&index, axis)?;
    let v = inputs.v.index_select(&index, axis)?;
    let permuted_mask = mask.index_select(&index, mask.rank() - 1)?;
    let before = attend(&inputs.q, &inputs.k, &inputs.v, mask)?;
    let after = attend(&inputs.q, &k, &v, &permuted_mask)?;
    compare("output", &after, &before, PROPERTY_TOLERANCE).map_err(|f| {
        f.context(format!(
            "permuting keys, values and the mask's columns together by {order:?} changed the output"
        ))
    })
}

/// Replaces the keys and values j with `keep[j] == false` by fresh random
/// ones and checks that the first `rows` output rows do not change.
fn replaced_keys_change_nothing(
    rng: &mut impl Rng,
    inputs: &Qkv,
    keep: &[bool],
    rows: usize,
    attend: impl Fn(&Tensor, &Tensor, &Tensor) -> Result<Tensor, Failure>,
    what: &str,
) -> CheckResult {
    let keep_u8: Vec<u8> = keep.iter().map(|&b| b as u8).collect();
    let keep_t = Tensor::from_vec(keep_u8, (keep.len(), 1), inputs.k.device())?;
    let fresh_k = (randn(rng, inputs.k.dims()) * 3.0)?;
    let fresh_v = (randn(rng, inputs.v.dims()) * 3.0)?;
    let replace = |t: &Tensor, fresh: &Tensor| -> Result<Tensor, Failure> {
        Ok(keep_t.broadcast_as(t.shape())?.where_cond(t, fresh)?)
    };
    let k = replace(&inputs.k, &fresh_k)?;
    let v = replace(&inputs.v, &fresh_v)?;
    let axis = inputs.q.rank() - 2;
    let before = attend(&inputs.q, &inputs.k, &inputs.v)?.narrow(axis, 0, rows)?;
    let after = attend(&inputs.q, &k, &v)?.narrow(axis, 0, rows)?;
    let changed: Vec<usize> = (0..keep.len()).filter(|&j| !keep[j]).collect();
    compare("output", &after, &before, PROPERTY_TOLERANCE)
        .map_err(|f| f.context(format!("changing keys and values {changed:?} {what}")))
}

/// Causal attention: the output of query i depends only on keys and values
/// 0..=i. Changes the keys and values from a random position c on and
/// checks that the outputs of queries 0..c stay the same (top-left
/// alignment, as torch's `is_causal`). `attend(q, k, v)` applies the
/// causal mask itself.
pub fn causal_ignores_the_future(
    rng: &mut impl Rng,
    inputs: &Qkv,
    attend: impl Fn(&Tensor, &Tensor, &Tensor) -> Result<Tensor, Failure>,
) -> CheckResult {
    let keys = inputs.keys();
    let cut = if keys > 1 {
        rng.random_range(1..keys)
    } else {
        1
    };
    let keep: Vec<bool> = (0..keys).map(|j| j < cut).collect();
    let rows = cut.min(inputs.queries());
    replaced_keys_change_nothing(
        rng,
        inputs,
        &keep,
        rows,
        attend,
        &format!("changed the outputs of queries 0..{rows}, which come before them and must not see them"),
    )
}

/// Keys masked out for every query (padding) do not matter: changing them
/// leaves the whole output unchanged. `attend(q, k, v)` applies a mask
/// that removes the keys j with `keep[j] == false`.
pub fn masked_keys_are_ignored(
    rng: &mut impl Rng,
    inputs: &Qkv,
    keep: &[bool],
    attend: impl Fn(&Tensor, &Tensor, &Tensor) -> Result<Tensor, Failure>,
) -> CheckResult {
    replaced_keys_change_nothing(
        rng,
        inputs,
        keep,
        inputs.queries(),
        attend,
        "changed the output, but they are masked out for every query",
    )
}

#[cfg(test)]
mod masked_tests {
    use super::*;
    use candle_core::Device;

    fn t(values: &[f32], shape: &[usize]) -> Tensor {
        Tensor::from_slice(values, shape, &Device::Cpu).unwrap()
    }

    fn mask(values: &[u8], shape: &[usize]) -> Tensor {
        Tensor::from_slice(values, shape, &Device::Cpu).unwrap()
    }

    #[test]
    fn masked_distributions_accept_zero_rows_and_reject_the_rest() {
        let allowed = mask(&[1, 1, 0, 0, 0, 0], &[2, 3]);
        masked_rows_are_distributions(&t(&[0.25, 0.75, 0.0, 0.0, 0.0, 0.0], &[2, 3]), &allowed)
            .unwrap();
        // Weight on a masked key, a uniform "empty" row, a NaN row.
        for bad in [
            [0.25, 0.70, 0.05, 0.0, 0.0, 0.0],
            [0.25, 0.75, 0.0, 1.0 / 3.0, 1.0 / 3.0, 1.0 / 3.0],
            [0.25, 0.75, 0.0, f32::NAN, f32::NAN, f32::NAN],
        ] {
            assert!(masked_rows_are_distributions(&t(&bad, &[2, 3]), &allowed).is_err());
        }
    }

    #[test]
    fn empty_rows_must_be_exactly_zero() {
        // A key-padding mask (1, S) broadcast over two queries with no key.
        let allowed = mask(&[0, 0, 0], &[1, 3]);
        empty_rows_are_zero(&t(&[0.0; 4], &[2, 2]), &allowed).unwrap();
        assert!(empty_rows_are_zero(&t(&[0.0, 0.0, 0.1, 0.0], &[2, 2]), &allowed).is_err());
        assert!(empty_rows_are_zero(&t(&[0.0, 0.0, f32::NAN, 0.0], &[2, 2]), &allowed).is_err());
    }

    #[test]
    fn the_hull_is_that_of_the_allowed_keys() {
        // v has keys with values 0 and 10; query 0 may use key 0 only.
        let v = t(&[0.0, 10.0], &[2, 1]);
        let allowed = mask(&[1, 0, 1, 1], &[2, 2]);
        inside_convex_hull_of_allowed(&t(&[0.0, 5.0], &[2, 1]), &v, &allowed).unwrap();
        assert!(inside_convex_hull_of_allowed(&t(&[5.0, 5.0], &[2, 1]), &v, &allowed).is_err());
    }

    #[test]
    fn random_allowed_rows_are_empty_or_have_a_key() {
        let mut rng = crate::random::rng_for(1, "mask");
        let m = random_allowed(&mut rng, &[50, 4], 0.1, 0.0);
        let rows = allowed_rows(&m, &[50, 4]).unwrap();
        assert!(rows.iter().all(|r| r.iter().any(|&a| a)));
        let empty = random_allowed(&mut rng, &[5, 4], 0.9, 1.0);
        assert_eq!(empty.sum_all().unwrap().to_scalar::<u8>().unwrap(), 0);
    }
}
