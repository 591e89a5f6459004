//! Exercise 04's checks: `split_heads` and `combine_heads`, then
//! `nn.MultiheadAttention` fixture cases (self- and cross-attention, masks,
//! returned weights), then properties on fresh random modules, one of which
//! compares a one-head module with the student's exercise-03 head.

#[cfg(not(feature = "solution"))]
use exercise as ex;
#[cfg(not(feature = "solution"))]
use exercise_head as head;
#[cfg(feature = "solution")]
use solution as ex;
#[cfg(feature = "solution")]
use solution_head as head;

use std::collections::HashMap;

use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use ex::{MhaMask, MultiheadAttention};
use grader_kit::properties::{self, random_var_builder, PROPERTY_TOLERANCE};
use grader_kit::random::{bernoulli_mask, randn};
use grader_kit::{compare::compare, Case, CheckResult, Failure, Fixtures, Worker};
use rand::Rng;

const EXERCISE: &str = "04-multi-head";

/// The `mha` ops, each graded as its own group.
const MHA_OPS: [(&str, &str); 4] = [
    ("self-attention", "mha_self"),
    ("cross-attention", "mha_cross"),
    ("masks", "mha_masked"),
    ("returned weights", "mha_weights"),
];

fn main() {
    grader_kit::run(checks);
}

fn checks(worker: &mut Worker) {
    if let Some(fixtures) = Fixtures::load_for(worker, EXERCISE) {
        let mut known = vec!["split_heads", "combine_heads"];
        known.extend(MHA_OPS.map(|(_, op)| op));
        fixtures.unknown_ops(worker, &known);
        fixtures.run_op(worker, "split and combine heads", "split_heads", |case| {
            let x = case.input("x")?;
            case.check("out", &ex::split_heads(&x, case.param_usize("num_heads")?)?)
        });
        fixtures.run_op(worker, "split and combine heads", "combine_heads", |case| {
            case.check("out", &ex::combine_heads(&case.input("x")?)?)
        });
        for (group, op) in MHA_OPS {
            fixtures.run_op(worker, group, op, run_mha);
        }
    }
    worker.property("token-permutation-equivariance", |rng| {
        let (mha, x) = random_mha(rng)?;
        properties::token_permutation_equivariance(rng, &x, |x| self_attend(&mha, x))
    });
    worker.property("batch-independence", |rng| {
        let (mha, x) = random_mha(rng)?;
        properties::batch_independence(&x, |x| self_attend(&mha, x))
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
        let padding = MhaMask::Bool((padding * keep_first)?);
        for average in [true, false] {
            let (_, weights) = mha.forward(&x, &x, &x, Some(&padding), None, true, average)?;
            let weights = weights.ok_or_else(|| {
                Failure::new("need_weights is true, yet forward returned no weights")
            })?;
            properties::rows_are_distributions(&weights)
                .map_err(|f| f.context(format!("average_attn_weights = {average}")))?;
        }
        Ok(())
    });
    worker.property("one-head-equals-exercise-03", one_head_equals_exercise_03);
}

/// One fixture case of `nn.MultiheadAttention(batch_first=True)`.
fn run_mha(case: &Case) -> CheckResult {
    let dim =
        |name| -> Result<Option<usize>, Failure> { Ok(case.param_f64(name)?.map(|d| d as usize)) };
    let mha = MultiheadAttention::new(
        case.var_builder("params")?,
        case.param_usize("embed_dim")?,
        case.param_usize("num_heads")?,
        dim("kdim")?,
        dim("vdim")?,
    )?;
    let mask = |name| -> Result<Option<MhaMask>, Failure> {
        Ok(case.optional_input(name)?.map(|m| match m.dtype() {
            DType::U8 => MhaMask::Bool(m),
            _ => MhaMask::Float(m),
        }))
    };
    let need_weights = case.param_bool("need_weights")?;
    let (out, weights) = mha.forward(
        &case.input("query")?,
        &case.input("key")?,
        &case.input("value")?,
        mask("key_padding_mask")?.as_ref(),
        mask("attn_mask")?.as_ref(),
        need_weights,
        case.param_bool("average_attn_weights")?,
    )?;
    case.check("out", &out)?;
    match (need_weights, weights) {
        (true, Some(weights)) => case.check("weights", &weights),
        (true, None) => Err(Failure::new(
            "need_weights is true, yet forward returned no weights",
        )),
        (false, Some(_)) => Err(Failure::new(
            "need_weights is false: return None for the weights, as PyTorch does",
        )),
        (false, None) => Ok(()),
    }
}

fn self_attend(mha: &MultiheadAttention, x: &Tensor) -> Result<Tensor, Failure> {
    Ok(mha.forward(x, x, x, None, None, false, true)?.0)
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
    ]
    .map(|(n, s)| (n.to_string(), s));
    let vb = random_var_builder(rng, &specs, 0.5)?;
    let mha = MultiheadAttention::new(vb, embed, heads, None, None)?;
    Ok((mha, randn(rng, &[batch, len, embed])))
}

/// With one head, W_q, W_k, W_v taken from an exercise-03 head and an
/// identity `out_proj`, multi-head attention is that head. Both get the
/// causal mask, each in its own convention (03: 1 = may attend; 04: 1 = may
/// NOT attend).
fn one_head_equals_exercise_03(rng: &mut rand::rngs::StdRng) -> CheckResult {
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
    let vb = |w| VarBuilder::from_tensors(w, DType::F32, dev);

    let x = randn(rng, &[batch, len, embed]);
    let allowed: Vec<u8> = (0..len)
        .flat_map(|i| (0..len).map(move |j| u8::from(j <= i)))
        .collect();
    let allowed = Tensor::from_vec(allowed, (len, len), dev)?;
    let forbidden = (Tensor::ones((len, len), DType::U8, dev)? - &allowed)?;
    // Exercise 04 runs first, so that an untouched 04 reports its own todo!().
    let mha = MultiheadAttention::new(vb(mha_weights), embed, 1, None, None)?;
    let causal = MhaMask::Bool(forbidden);
    let (got, _) = mha.forward(&x, &x, &x, None, Some(&causal), false, true)?;
    let one_head = head::SelfAttentionHead::new(vb(weights), embed, Some(embed))?;
    let expected = one_head.forward(&x, Some(&head::AttnMask::Bool(allowed)))?;
    compare("output", &got, &expected, PROPERTY_TOLERANCE).map_err(|f| {
        f.context(
            "a 1-head module with your exercise-03 head's W_Q, W_K, W_V, an identity out_proj and the same causal mask should give that head's output",
        )
    })
}
