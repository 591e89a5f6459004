//! Exercise 03's judge: the fixture cases of the seed's `SelfAttentionHead`
//! (without and with masks), then properties on fresh random heads. The
//! student's head runs in its adapter (`grader/adapters/03-head`); `Head`
//! below keeps a head's weights here and calls it (`ex`, the ops it
//! declares).

use std::collections::HashMap;

use candle_core::{Device, Tensor};
use grader_kit::client::Client;
use grader_kit::properties;
use grader_kit::random::randn;
use grader_kit::{Failure, Fixtures, Worker};
use rand::Rng;

const EXERCISE: &str = "03-head";

/// The judge's checks, run by the launcher as `grader judge 03-head`.
pub fn checks(worker: &mut Worker) {
    let cx = &worker.client();
    if let Some(fixtures) = Fixtures::load_for(worker, EXERCISE) {
        fixtures.judge_ops(worker, &[("head", "head"), ("masked head", "head_masked")]);
    }
    worker.property("token-permutation-equivariance", |rng| {
        let (head, x) = random_head(rng)?;
        properties::token_permutation_equivariance(rng, &x, |x| head.forward(cx, x, None))
    });
    worker.property("batch-independence", |rng| {
        let (head, x) = random_head(rng)?;
        properties::batch_independence(&x, |x| head.forward(cx, x, None))
    });
    worker.property("causal-mask-hides-the-future", |rng| {
        let (head, x) = random_head(rng)?;
        let len = x.dim(1)?.max(2);
        let x = randn(rng, &[x.dim(0)?, len, x.dim(2)?]);
        let mask = causal(len)?;
        properties::causality(rng, &x, |x| head.forward(cx, x, Some(&mask)))
    });
}

/// The student's `SelfAttentionHead` with these weights, run in the adapter
/// (ops `head` and `head_masked`, as the fixture cases name them).
struct Head {
    params: HashMap<String, Tensor>,
    model_dim: usize,
    qk_dim: usize,
}

impl Head {
    /// `mask`: exercise 02's, u8 (1 = may attend) or f32 (additive).
    fn forward(&self, cx: &Client, x: &Tensor, mask: Option<&Tensor>) -> Result<Tensor, Failure> {
        let (params, model_dim, qk_dim) = (&self.params, self.model_dim, self.qk_dim);
        match mask {
            Some(_) => ex::head_masked(cx, params, model_dim, qk_dim, x, mask),
            None => ex::head(cx, params, model_dim, qk_dim, x, None),
        }
    }
}

/// A head with random weights and a random input (B, L, model_dim).
fn random_head(rng: &mut impl Rng) -> Result<(Head, Tensor), Failure> {
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
    ];
    let mut params = HashMap::new();
    for (name, shape) in specs {
        params.insert(name.to_string(), (randn(rng, &shape) * 0.5)?);
    }
    let head = Head {
        params,
        model_dim: model,
        qk_dim: qk,
    };
    Ok((head, randn(rng, &[batch, len, model])))
}

/// The causal mask in exercise 02's convention (1 = may attend), built here
/// so that this check does not depend on the student's `causal_mask`.
fn causal(len: usize) -> Result<Tensor, Failure> {
    let data: Vec<u8> = (0..len)
        .flat_map(|i| (0..len).map(move |j| u8::from(j <= i)))
        .collect();
    Ok(Tensor::from_vec(data, (len, len), &Device::Cpu)?)
}

/// The student's head, called in the adapter: the ops it declares.
#[path = "../../../adapters/03-head/src/ops.rs"]
mod ops;
use ops::call as ex;
