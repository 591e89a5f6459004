//! Exercise 03's checks: the fixture cases of the seed's `SelfAttentionHead`
//! (without and with masks), then properties on fresh random heads.

#[cfg(not(feature = "solution"))]
use exercise as ex;
#[cfg(feature = "solution")]
use solution as ex;

use candle_core::{DType, Tensor};
use ex::{AttnMask, SelfAttentionHead};
use grader_kit::properties::{self, random_var_builder};
use grader_kit::random::randn;
use grader_kit::{Case, Failure, Fixtures, Worker};
use rand::Rng;

const EXERCISE: &str = "03-head";

fn main() {
    grader_kit::run(checks);
}

fn checks(worker: &mut Worker) {
    if let Some(fixtures) = Fixtures::load_for(worker, EXERCISE) {
        fixtures.unknown_ops(worker, &["head", "head_masked"]);
        fixtures.run_op(worker, "head", "head", run_head);
        fixtures.run_op(worker, "masked head", "head_masked", run_head);
    }
    worker.property("token-permutation-equivariance", |rng| {
        let (head, x) = random_head(rng)?;
        properties::token_permutation_equivariance(rng, &x, |x| Ok(head.forward(x, None)?))
    });
    worker.property("batch-independence", |rng| {
        let (head, x) = random_head(rng)?;
        properties::batch_independence(&x, |x| Ok(head.forward(x, None)?))
    });
    worker.property("causal-mask-hides-the-future", |rng| {
        let (head, x) = random_head(rng)?;
        let len = x.dim(1)?.max(2);
        let x = randn(rng, &[x.dim(0)?, len, x.dim(2)?]);
        let mask = causal(len);
        properties::causality(rng, &x, |x| Ok(head.forward(x, Some(&mask))?))
    });
}

/// One fixture case: build the head from the case's weights and run it on
/// `x`, with the case's mask if it has one (u8 = bool, float = additive).
fn run_head(case: &Case) -> grader_kit::CheckResult {
    let head = SelfAttentionHead::new(
        case.var_builder("params")?,
        case.param_usize("model_dim")?,
        Some(case.param_usize("qk_dim")?),
    )?;
    let mask = case.optional_input("mask")?.map(|m| match m.dtype() {
        DType::U8 => AttnMask::Bool(m),
        _ => AttnMask::Float(m),
    });
    case.check("out", &head.forward(&case.input("x")?, mask.as_ref())?)
}

/// A head with random weights and a random input (B, L, model_dim).
fn random_head(rng: &mut impl Rng) -> Result<(SelfAttentionHead, Tensor), Failure> {
    let [model, qk, batch, len] = [
        rng.random_range(1..=8),
        rng.random_range(1..=8),
        rng.random_range(1..=3),
        rng.random_range(1..=8),
    ];
    let specs = [
        ("Q.weight", vec![qk, model]),
        ("Q.bias", vec![qk]),
        ("K.weight", vec![qk, model]),
        ("K.bias", vec![qk]),
        ("V.weight", vec![model, model]),
        ("V.bias", vec![model]),
    ]
    .map(|(n, s)| (n.to_string(), s));
    let vb = random_var_builder(rng, &specs, 0.5)?;
    let head = SelfAttentionHead::new(vb, model, Some(qk))?;
    Ok((head, randn(rng, &[batch, len, model])))
}

/// The causal mask in exercise 02's convention (1 = may attend), built here
/// so that this check does not depend on the student's `causal_mask`.
fn causal(len: usize) -> AttnMask {
    let data: Vec<u8> = (0..len)
        .flat_map(|i| (0..len).map(move |j| u8::from(j <= i)))
        .collect();
    AttnMask::Bool(Tensor::from_vec(data, (len, len), &candle_core::Device::Cpu).unwrap())
}
