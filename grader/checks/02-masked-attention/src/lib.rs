//! Exercise 02's judge: every fixture case of `causal_mask`,
//! `masked_attention_weights` and `masked_sdpa`, then properties on fresh
//! random inputs and masks. The student's code runs in its adapter
//! (`grader/adapters/02-masked-attention`); `ex` below calls it.

use candle_core::{DType, Device, Tensor};
use grader_kit::client::Client;
use grader_kit::compare::compare;
use grader_kit::properties::{self, random_allowed, Qkv, PROPERTY_TOLERANCE};
use grader_kit::random::randn;
use grader_kit::{Case, CheckResult, Failure, Fixtures, Worker};
use ops::AttnMask;
use rand::rngs::StdRng;
use rand::Rng;

const EXERCISE: &str = "02-masked-attention";

/// Random draws per property check: masks make many corner cases (empty
/// rows, L ≠ S, a single key), so one draw is not enough to meet them.
const TRIALS: usize = 6;

/// The judge's checks, run by the launcher as `grader judge 02-masked-attention`.
pub fn checks(worker: &mut Worker) {
    let cx = &worker.client();
    if let Some(fixtures) = Fixtures::load_for(worker, EXERCISE) {
        // Each fixture op once: its group and its check.
        let judged: [(&str, &str, CaseCheck); 3] = [
            ("causal mask", "causal_mask", |case| {
                let out = case.call()?;
                u8_mask("causal_mask", &out.get("mask")?)?;
                case.check_outputs(&out)
            }),
            (
                "masked attention weights",
                "masked_attention_weights",
                judge,
            ),
            ("masked attention", "masked_sdpa", judge),
        ];
        fixtures.unknown_ops(worker, &judged.map(|(_, op, _)| op));
        for (group, op, check) in judged {
            fixtures.run_op(worker, group, op, check);
        }
    }

    worker.property("causal-mask-is-lower-triangular", |rng| {
        for _ in 0..TRIALS {
            let (l, s) = (rng.random_range(1..=9), rng.random_range(1..=9));
            let mask = ex::causal_mask(cx, l, s)?;
            u8_mask("causal_mask", &mask)?;
            compare("mask", &mask, &tril(l, s)?, PROPERTY_TOLERANCE).map_err(|f| {
                f.context(format!(
                    "causal_mask({l}, {s}) must be 1 exactly where key j ≤ query i (top-left aligned)"
                ))
            })?;
        }
        Ok(())
    });
    worker.property("additive-mask-is-0-or-minus-infinity", |rng| {
        for _ in 0..TRIALS {
            let shape = [rng.random_range(1..=3), rng.random_range(1..=6)];
            let allowed = random_allowed(rng, &shape, 0.5, 0.2);
            let got = ex::additive_mask(cx, &AttnMask::Bool(allowed.clone()))?;
            if got.dtype() != DType::F32 {
                return Err(Failure::new(format!(
                    "additive_mask of a Bool mask should be f32, found {:?}",
                    got.dtype()
                )));
            }
            let want = bias_of(&allowed)?;
            compare("additive mask", &got, &want, PROPERTY_TOLERANCE).map_err(|f| {
                f.context(
                    "a Bool mask becomes 0.0 where it is 1 (takes part) and -inf where it is 0",
                )
            })?;
            let float = randn(rng, &shape);
            let same = ex::additive_mask(cx, &AttnMask::Float(float.clone()))?;
            compare("additive mask", &same, &float, PROPERTY_TOLERANCE)
                .map_err(|f| f.context("a Float mask is already additive: return it as it is"))?;
        }
        Ok(())
    });
    worker.property("all-true-mask-equals-no-mask", |rng| {
        for _ in 0..TRIALS {
            let qkv = Qkv::random(rng);
            let shape = mask_shape(rng, &qkv);
            let ones = Tensor::ones(shape.as_slice(), DType::U8, &Device::Cpu)?;
            let zeros = Tensor::zeros(shape.as_slice(), DType::F32, &Device::Cpu)?;
            let plain = sdpa(cx, &qkv, None, false)?;
            compare("output", &sdpa(cx, &qkv, Some(&AttnMask::Bool(ones)), false)?, &plain, PROPERTY_TOLERANCE)
                .map_err(|f| f.context(format!("a Bool mask of ones {shape:?} (every key takes part) must give the output of no mask")))?;
            compare("output", &sdpa(cx, &qkv, Some(&AttnMask::Float(zeros)), false)?, &plain, PROPERTY_TOLERANCE)
                .map_err(|f| f.context(format!("a Float mask of zeros {shape:?} must give the output of no mask")))?;
        }
        Ok(())
    });
    worker.property("bool-and-float-masks-agree", |rng| {
        for _ in 0..TRIALS {
            let qkv = Qkv::random(rng);
            let allowed = random_mask(rng, &qkv, 0.5, 0.2);
            let as_bool = sdpa(cx, &qkv, Some(&AttnMask::Bool(allowed.clone())), false)?;
            let as_float = sdpa(cx, &qkv, Some(&AttnMask::Float(bias_of(&allowed)?)), false)?;
            compare("output", &as_bool, &as_float, PROPERTY_TOLERANCE).map_err(|f| {
                f.context("a Bool mask and the Float mask with 0 where it is 1 and -inf where it is 0 must give the same output")
            })?;
        }
        Ok(())
    });
    worker.property("masked-weights-are-distributions", |rng| {
        for _ in 0..TRIALS {
            let qkv = Qkv::random(rng);
            let allowed = random_mask(rng, &qkv, 0.5, 0.25);
            let mask = AttnMask::Bool(allowed.clone());
            let weights =
                ex::masked_attention_weights(cx, &qkv.q, &qkv.k, Some(&mask), false, None)?;
            properties::masked_rows_are_distributions(&weights, &allowed)?;
        }
        Ok(())
    });
    worker.property("causal-weights-are-distributions", |rng| {
        for _ in 0..TRIALS {
            let qkv = Qkv::random(rng);
            let weights = ex::masked_attention_weights(cx, &qkv.q, &qkv.k, None, true, None)?;
            properties::masked_rows_are_distributions(&weights, &tril(qkv.queries(), qkv.keys())?)?;
        }
        Ok(())
    });
    worker.property("fully-masked-rows-are-zero", |rng| {
        for trial in 0..TRIALS {
            let qkv = Qkv::random(rng);
            // Every other trial: at least one row with every key masked.
            let empty = if trial % 2 == 0 { 1.0 } else { 0.4 };
            let allowed = random_allowed(rng, &qkv.scores_shape(), 0.5, empty);
            for (kind, mask) in [
                ("Bool", AttnMask::Bool(allowed.clone())),
                ("Float (-inf)", AttnMask::Float(bias_of(&allowed)?)),
            ] {
                let out = sdpa(cx, &qkv, Some(&mask), false)?;
                properties::empty_rows_are_zero(&out, &allowed)
                    .map_err(|f| f.context(format!("with a {kind} mask")))?;
                let weights =
                    ex::masked_attention_weights(cx, &qkv.q, &qkv.k, Some(&mask), false, None)?;
                properties::masked_rows_are_distributions(&weights, &allowed)
                    .map_err(|f| f.context(format!("with a {kind} mask")))?;
            }
        }
        Ok(())
    });
    worker.property("causal-ignores-the-future", |rng| {
        for _ in 0..TRIALS {
            let qkv = Qkv::random(rng);
            properties::causal_ignores_the_future(rng, &qkv, |q, k, v| {
                ex::scaled_dot_product_attention(cx, q, k, v, None, true, None)
            })?;
        }
        Ok(())
    });
    worker.property("padded-keys-are-ignored", |rng| {
        for _ in 0..TRIALS {
            let qkv = Qkv::random(rng);
            let padding = random_allowed(rng, &[qkv.keys()], 0.5, 0.0);
            let keep: Vec<bool> = padding.to_vec1::<u8>()?.iter().map(|&a| a != 0).collect();
            let mask = AttnMask::Bool(padding);
            properties::masked_keys_are_ignored(rng, &qkv, &keep, |q, k, v| {
                ex::scaled_dot_product_attention(cx, q, k, v, Some(&mask), false, None)
            })?;
        }
        Ok(())
    });
    worker.property("masked-key-permutation-invariance", |rng| {
        for trial in 0..TRIALS {
            let qkv = Qkv::random(rng);
            let allowed = random_mask(rng, &qkv, 0.5, 0.2);
            let float = trial % 2 == 1;
            let mask = if float {
                // A float mask with finite entries too: a learned bias.
                let bias = bias_of(&allowed)?;
                let finite = randn(rng, allowed.dims());
                allowed.where_cond(&finite, &bias)?
            } else {
                allowed
            };
            properties::masked_key_permutation_invariance(rng, &qkv, &mask, |q, k, v, m| {
                let m = if float {
                    AttnMask::Float(m.clone())
                } else {
                    AttnMask::Bool(m.clone())
                };
                ex::scaled_dot_product_attention(cx, q, k, v, Some(&m), false, None)
            })?;
        }
        Ok(())
    });
    worker.property("output-in-convex-hull-of-allowed-values", |rng| {
        for _ in 0..TRIALS {
            let qkv = Qkv::random(rng);
            let allowed = random_mask(rng, &qkv, 0.4, 0.2);
            let out = sdpa(cx, &qkv, Some(&AttnMask::Bool(allowed.clone())), false)?;
            properties::inside_convex_hull_of_allowed(&out, &qkv.v, &allowed)?;
            let causal = sdpa(cx, &qkv, None, true)?;
            properties::inside_convex_hull_of_allowed(
                &causal,
                &qkv.v,
                &tril(qkv.queries(), qkv.keys())?,
            )
            .map_err(|f| f.context("with is_causal"))?;
        }
        Ok(())
    });
    worker.property("mask-and-causal-combine", |rng| {
        for _ in 0..TRIALS {
            let qkv = Qkv::random(rng);
            let allowed = random_allowed(rng, &qkv.scores_shape(), 0.6, 0.1);
            let both = sdpa(cx, &qkv, Some(&AttnMask::Bool(allowed.clone())), true)?;
            let and = allowed.broadcast_mul(&tril(qkv.queries(), qkv.keys())?)?;
            let want = sdpa(cx, &qkv, Some(&AttnMask::Bool(and)), false)?;
            compare("output", &both, &want, PROPERTY_TOLERANCE).map_err(|f| {
                f.context("a mask together with is_causal must let a key take part only where both allow it")
            })?;
        }
        Ok(())
    });
}

/// How a fixture op's cases are judged.
type CaseCheck = fn(&Case) -> CheckResult;

/// A fixture case's outputs against its expected ones.
fn judge(case: &Case) -> CheckResult {
    case.check_outputs(&case.call()?)
}

/// The student's masks are u8, as `AttnMask::Bool` expects.
fn u8_mask(what: &str, mask: &Tensor) -> CheckResult {
    if mask.dtype() != DType::U8 {
        return Err(Failure::new(format!(
            "{what} should return a u8 tensor (1 = takes part, 0 = masked), found {:?}",
            mask.dtype()
        )));
    }
    Ok(())
}

/// The student's attention with the default scale.
fn sdpa(
    cx: &Client,
    qkv: &Qkv,
    mask: Option<&AttnMask>,
    is_causal: bool,
) -> Result<Tensor, Failure> {
    ex::scaled_dot_product_attention(cx, &qkv.q, &qkv.k, &qkv.v, mask, is_causal, None)
}

/// The top-left causal mask, u8 (L, S): 1 where j ≤ i.
fn tril(l: usize, s: usize) -> Result<Tensor, Failure> {
    let data: Vec<u8> = (0..l)
        .flat_map(|i| (0..s).map(move |j| (j <= i) as u8))
        .collect();
    Ok(Tensor::from_vec(data, (l, s), &Device::Cpu)?)
}

/// The additive form of a u8 mask: 0 where 1, -inf where 0.
fn bias_of(allowed: &Tensor) -> Result<Tensor, Failure> {
    let zeros = Tensor::zeros(allowed.shape(), DType::F32, &Device::Cpu)?;
    let neg_inf = Tensor::full(f32::NEG_INFINITY, allowed.shape(), &Device::Cpu)?;
    Ok(allowed.where_cond(&zeros, &neg_inf)?)
}

/// A random mask shape that broadcasts to the scores (…, L, S): the full
/// shape, (L, S), or a key-padding shape (…, 1, S).
fn mask_shape(rng: &mut StdRng, qkv: &Qkv) -> Vec<usize> {
    let (l, s) = (qkv.queries(), qkv.keys());
    match rng.random_range(0..3) {
        0 => qkv.scores_shape(),
        1 => vec![l, s],
        _ => [qkv.batch(), vec![1, s]].concat(),
    }
}

/// A random u8 mask of a random shape from [`mask_shape`].
fn random_mask(rng: &mut StdRng, qkv: &Qkv, p: f64, empty_row: f64) -> Tensor {
    let shape = mask_shape(rng, qkv);
    random_allowed(rng, &shape, p, empty_row)
}

/// The student's functions, called in the adapter: the ops it declares.
#[path = "../../../adapters/02-masked-attention/src/ops.rs"]
mod ops;
use ops::call as ex;
