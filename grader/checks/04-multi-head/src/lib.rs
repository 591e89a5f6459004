//! Exercise 04's judge: `split_heads` and `combine_heads`, then
//! `nn.MultiheadAttention` fixture cases (self- and cross-attention, masks,
//! returned weights), then properties on fresh random modules, one of which
//! compares a one-head module with the student's exercise-03 head. The
//! student's code runs in its adapter (`grader/adapters/04-multi-head`); `ex`
//! below calls it.

use std::collections::HashMap;

use candle_core::{DType, Device, Tensor};
use grader_kit::client::Client;
use grader_kit::ops::random_weights;
use grader_kit::properties::{self, PROPERTY_TOLERANCE};
use grader_kit::random::{bernoulli_mask, randn};
use grader_kit::{compare::compare, Case, CheckResult, Failure, Fixtures, Worker};
use rand::Rng;

const EXERCISE: &str = "04-multi-head";

/// The judge's checks, run by the launcher as `grader judge 04-multi-head`.
pub fn checks(worker: &mut Worker) {
    let cx = &worker.client();
    if let Some(fixtures) = Fixtures::load_for(worker, EXERCISE) {
        // Each fixture op once: its group and its check (the `mha` ops
        // each graded as its own group).
        let judged: [(&str, &str, CaseCheck); 6] = [
            ("split and combine heads", "split_heads", judge),
            ("split and combine heads", "combine_heads", judge),
            ("self-attention", "mha_self", judge_mha),
            ("cross-attention", "mha_cross", judge_mha),
            ("masks", "mha_masked", judge_mha),
            ("returned weights", "mha_weights", judge_mha),
        ];
        fixtures.unknown_ops(worker, &judged.map(|(_, op, _)| op));
        for (group, op, check) in judged {
            fixtures.run_op(worker, group, op, check);
        }
    }
    worker.property("token-permutation-equivariance", |rng| {
        let (mha, x) = random_mha(rng)?;
        properties::token_permutation_equivariance(rng, &x, |x| mha.self_attend(cx, x))
    });
    worker.property("batch-independence", |rng| {
        let (mha, x) = random_mha(rng)?;
        properties::batch_independence(&x, |x| mha.self_attend(cx, x))
    });
    worker.property("weights-are-distributions", |rng| {
        let (mha, x) = random_mha(rng)?;
        let (batch, len) = (x.dim(0)?, x.dim(1)?);
        // Random padding, but the first key of each sequence always stays.
        let padding = bernoulli_mask(rng, &[batch, len], 0.4);
        let keep_first = Tensor::cat(
            &[
                Tensor::zeros((batch, 1), DType::U8, &Device::Cpu)?,
                Tensor::ones((batch, len - 1), DType::U8, &Device::Cpu)?,
            ],
            1,
        )?;
        let padding = (padding * keep_first)?;
        for average in [true, false] {
            let (_, weights) = mha.forward(cx, &x, Some(&padding), None, true, average)?;
            let weights = weights.ok_or_else(|| {
                Failure::new("need_weights is true, yet forward returned no weights")
            })?;
            properties::rows_are_distributions(&weights)
                .map_err(|f| f.context(format!("average_attn_weights = {average}")))?;
        }
        Ok(())
    });
    worker.property("one-head-equals-exercise-03", |rng| {
        one_head_equals_exercise_03(cx, rng)
    });
}

/// How a fixture op's cases are judged.
type CaseCheck = fn(&Case) -> CheckResult;

/// A fixture case's outputs against its expected ones.
fn judge(case: &Case) -> CheckResult {
    case.check_outputs(&case.call()?)
}

/// One fixture case of `nn.MultiheadAttention(batch_first=True)`: the
/// output, then the weights exactly when `need_weights`.
fn judge_mha(case: &Case) -> CheckResult {
    let outputs = case.call()?;
    case.check("out", &outputs.get("out")?)?;
    match (
        case.param_bool("need_weights")?,
        outputs.0.contains_key("weights"),
    ) {
        (true, false) => Err(Failure::new(
            "need_weights is true, yet forward returned no weights",
        )),
        (false, true) => Err(Failure::new(
            "need_weights is false: return None for the weights, as PyTorch does",
        )),
        _ => case.check_outputs(&outputs),
    }
}

/// A module with random weights and a random input (B, L, E).
fn random_mha(rng: &mut impl Rng) -> Result<(MultiheadAttention, Tensor), Failure> {
    let heads = rng.random_range(1..=4);
    let embed = heads * rng.random_range(1..=4);
    let [batch, len] = [rng.random_range(1..=3), rng.random_range(2..=8)];
    let specs = [
        ("in_proj_weight", vec![3 * embed, embed]),
        ("in_proj_bias", vec![3 * embed]),
        ("out_proj.weight", vec![embed, embed]),
        ("out_proj.bias", vec![embed]),
    ];
    let mha = MultiheadAttention::new(random_weights(rng, &specs, 0.5)?, embed, heads);
    Ok((mha, randn(rng, &[batch, len, embed])))
}

/// With one head, W_q, W_k, W_v taken from an exercise-03 head and an
/// identity `out_proj`, multi-head attention is that head. Both get the
/// causal mask, each in its own convention (03: 1 = may attend; 04: 1 = may
/// NOT attend).
fn one_head_equals_exercise_03(cx: &Client, rng: &mut rand::rngs::StdRng) -> CheckResult {
    let embed = rng.random_range(1..=8);
    let [batch, len] = [rng.random_range(1..=3), rng.random_range(1..=8)];
    let dev = &Device::Cpu;
    let mut weights = HashMap::new();
    for name in ["Q", "K", "V"] {
        weights.insert(
            format!("{name}.weight"),
            (randn(rng, &[embed, embed]) * 0.5)?,
        );
        weights.insert(format!("{name}.bias"), (randn(rng, &[embed]) * 0.5)?);
    }
    let stack = |suffix: &str| {
        let parts: Vec<Tensor> = ["Q", "K", "V"]
            .iter()
            .map(|n| weights[&format!("{n}.{suffix}")].clone())
            .collect();
        Tensor::cat(&parts, 0)
    };
    let mha_weights = HashMap::from([
        ("in_proj_weight".to_string(), stack("weight")?),
        ("in_proj_bias".to_string(), stack("bias")?),
        (
            "out_proj.weight".to_string(),
            Tensor::eye(embed, DType::F32, dev)?,
        ),
        (
            "out_proj.bias".to_string(),
            Tensor::zeros(embed, DType::F32, dev)?,
        ),
    ]);

    let x = randn(rng, &[batch, len, embed]);
    let allowed: Vec<u8> = (0..len)
        .flat_map(|i| (0..len).map(move |j| u8::from(j <= i)))
        .collect();
    let allowed = Tensor::from_vec(allowed, (len, len), dev)?;
    let forbidden = (Tensor::ones((len, len), DType::U8, dev)? - &allowed)?;
    // Exercise 04 runs first, so that an untouched 04 reports its own todo!().
    let mha = MultiheadAttention::new(mha_weights, embed, 1);
    let (got, _) = mha.forward(cx, &x, None, Some(&forbidden), false, true)?;
    let expected = ex::head_masked(cx, &weights, embed, embed, &x, Some(&allowed))?;
    compare("output", &got, &expected, PROPERTY_TOLERANCE).map_err(|f| {
        f.context(
            "a 1-head module with your exercise-03 head's W_Q, W_K, W_V, an identity out_proj and the same causal mask should give that head's output",
        )
    })
}

/// The student's `MultiheadAttention` (self-attention, no kdim/vdim): its
/// parameters stay here and go with each call.
struct MultiheadAttention {
    params: HashMap<String, Tensor>,
    sizes: MhaSizes,
}

impl MultiheadAttention {
    fn new(params: HashMap<String, Tensor>, embed_dim: usize, num_heads: usize) -> Self {
        let sizes = MhaSizes {
            embed_dim,
            num_heads,
            kdim: None,
            vdim: None,
        };
        MultiheadAttention { params, sizes }
    }

    /// Self-attention of `x` with the given masks (u8: PyTorch's bool
    /// convention, 1 = may NOT attend); returns (out, weights). The op is
    /// the fixture op of the same computation, so that trusted mode
    /// compares it with the reference.
    fn forward(
        &self,
        cx: &Client,
        x: &Tensor,
        key_padding_mask: Option<&Tensor>,
        attn_mask: Option<&Tensor>,
        need_weights: bool,
        average_attn_weights: bool,
    ) -> Result<(Tensor, Option<Tensor>), Failure> {
        let op = match (need_weights, key_padding_mask.or(attn_mask)) {
            (true, _) => ex::mha_weights,
            (false, Some(_)) => ex::mha_masked,
            (false, None) => ex::mha_self,
        };
        op(
            cx,
            &self.params,
            &self.sizes,
            x,
            x,
            x,
            key_padding_mask,
            attn_mask,
            need_weights,
            average_attn_weights,
        )
    }

    /// Self-attention without masks or weights: the output only.
    fn self_attend(&self, cx: &Client, x: &Tensor) -> Result<Tensor, Failure> {
        Ok(self.forward(cx, x, None, None, false, true)?.0)
    }
}

/// The student's code, called in the adapter: the ops it declares.
#[path = "../../../adapters/04-multi-head/src/ops.rs"]
mod ops;
use ops::{call as ex, MhaSizes};
