//! Exercise 07's checks. The fixture cases cover the four attention methods
//! and the AttentionHabit layer. Properties on fresh random inputs then test
//! the cosine similarity and the layer's node rules: the node is the scope,
//! every input is sensitive to the node, and the node is a set. The
//! student's code runs in its adapter (`grader/adapters/07-attention-habit`);
//! `ex` below calls it.

use std::collections::HashMap;
use std::ops::RangeInclusive;

use candle_core::{DType, Device, Tensor, D};
use grader_kit::client::Client;
use grader_kit::compare::compare;
use grader_kit::properties::{self, PROPERTY_TOLERANCE};
use grader_kit::random::{permutation, randn, uniform};
use grader_kit::{CheckResult, Failure, Fixtures, Worker};
use rand::Rng;

const EXERCISE: &str = "07-attention-habit";

/// The judge's checks, run by the launcher as `grader judge 07-attention-habit`.
pub fn checks(worker: &mut Worker) {
    let cx = &worker.client();
    if let Some(fixtures) = Fixtures::load_for(worker, EXERCISE) {
        fixtures.judge_ops(
            worker,
            &[
                ("scaled dot product", "scaled_dot_product"),
                ("cosine similarity", "cosine_similarity"),
                ("multihead attention", "multihead_attention"),
                (
                    "multihead attention with projections",
                    "multihead_attention_with_projections",
                ),
                ("attention habit", "attention_habit"),
            ],
        );
    }

    // The attention methods.
    worker.property("sdp-weights-are-distributions", |rng| {
        let (q, k) = query_key(rng);
        properties::rows_are_distributions(&ex::scaled_dot_product(cx, &q, &k)?)
    });
    worker.property("cosine-in-minus-one-one", |rng| {
        let (q, k) = query_key(rng);
        let (q, k) = ((q * 10.0)?, (k * 0.1)?);
        cosine_in_range(&ex::cosine_similarity(cx, &q, &k)?)
    });
    worker.property("cosine-of-a-vector-with-itself-is-one", |rng| {
        let (q, _) = query_key(rng);
        let sim = ex::cosine_similarity(cx, &q, &q)?;
        let diagonal = diagonal(&sim)?;
        compare(
            "cos(x, x)",
            &diagonal,
            &diagonal.ones_like()?,
            PROPERTY_TOLERANCE,
        )
        .map_err(|f| f.context("a nonzero vector has cosine 1 with itself"))
    });
    worker.property("cosine-ignores-positive-scaling", |rng| {
        let (q, k) = query_key(rng);
        let q_scale = uniform(rng, &q.dims()[..q.rank() - 1], 0.01, 100.0).unsqueeze(D::Minus1)?;
        let k_scale = uniform(rng, &k.dims()[..k.rank() - 1], 0.01, 100.0).unsqueeze(D::Minus1)?;
        let before = ex::cosine_similarity(cx, &q, &k)?;
        let after = ex::cosine_similarity(cx, &q.broadcast_mul(&q_scale)?, &k.broadcast_mul(&k_scale)?)?;
        compare("similarity", &after, &before, PROPERTY_TOLERANCE).map_err(|f| {
            f.context("scaling each query and key by its own positive number changed the cosine similarity: it must depend on directions only")
        })
    });
    worker.property("one-head-is-plain-attention", |rng| {
        let (b, lq, lk) = (
            rng.random_range(1..=3),
            rng.random_range(1..=6),
            rng.random_range(1..=6),
        );
        let (e, ev) = (rng.random_range(1..=8), rng.random_range(1..=8));
        let (q, k, v) = (
            randn(rng, &[b, lq, e]),
            randn(rng, &[b, lk, e]),
            randn(rng, &[b, lk, ev]),
        );
        let expected = ex::scaled_dot_product(cx, &q, &k)?.matmul(&v)?;
        compare(
            "output",
            &ex::multihead_attention(cx, &q, &k, &v, 1)?,
            &expected,
            PROPERTY_TOLERANCE,
        )
        .map_err(|f| {
            f.context("multihead_attention with 1 head must equal scaled_dot_product(q, k) · v")
        })
    });

    // The AttentionHabit layer: the node rules of the exercise's doc.
    worker.property("one-init-point-gives-its-projected-value", |rng| {
        let habit = RandomHabit::new(rng)?;
        let (n, k) = (habit.n, habit.k);
        let m = rng.random_range(1..=5);
        let (point, input) = (randn(rng, &[1, n, k]), randn(rng, &[m, n]));
        let out = habit.forward(cx, &point, &input)?;
        let value = habit.projected_value(&point.reshape((1, n * k))?)?;
        compare("output", &out, &value.broadcast_as((m, n))?, PROPERTY_TOLERANCE).map_err(|f| {
            f.context("with one init point every input gives all its attention to it, so every output row must be out(out_proj(v_proj(point)))")
        })
    });
    worker.property("init-point-permutation-invariance", |rng| {
        let habit = RandomHabit::new(rng)?;
        let (init, input) = habit.batch(rng, 1..=3, 2..=6, 1..=5);
        let order = permutation(rng, init.dim(1)?);
        let permuted = init.index_select(&Tensor::new(order.as_slice(), &Device::Cpu)?, 1)?;
        let before = habit.forward(cx, &init, &input)?;
        let after = habit.forward(cx, &permuted, &input)?;
        compare("output", &after, &before, PROPERTY_TOLERANCE).map_err(|f| {
            f.context(format!(
                "permuting the init points by {order:?} changed the output: the node is a set of points"
            ))
        })
    });
    worker.property("every-input-is-sensitive-to-every-init-point", |rng| {
        let habit = RandomHabit::new(rng)?;
        let (init, input) = habit.batch(rng, 1..=3, 3..=6, 1..=5);
        let (b, p, n, k) = init.dims4()?;
        let before = habit.forward(cx, &init, &input)?;
        for j in 0..p {
            // A moderate nudge of the point: a wild one could push its
            // attention weight to ~0 and leave the outputs (almost) still.
            let nudged = (init.narrow(1, j, 1)? + randn(rng, &[b, 1, n, k]))?;
            let changed = replace(&init, 1, j, &nudged)?;
            let after = habit.forward(cx, &changed, &input)?;
            let moved = (after - &before)?.abs()?.max_keepdim(D::Minus1)?;
            let least = moved.flatten_all()?.min(0)?.to_scalar::<f32>()?;
            // A point the layer reads moves every row, if only by a rounding
            // step; a point it ignores leaves a row bit for bit the same.
            if least == 0.0 {
                return Err(Failure::new(format!(
                    "changing init point {j} of {p} left some output row exactly unchanged: every input attends to every point of its node"
                )));
            }
        }
        Ok(())
    });
    worker.property("an-input-sees-only-the-node", |rng| {
        let habit = RandomHabit::new(rng)?;
        let (init, input) = habit.batch(rng, 1..=3, 2..=5, 2..=5);
        let (b, m, n) = input.dims3()?;
        let i = rng.random_range(0..m);
        let changed = replace(&input, 1, i, &randn(rng, &[b, 1, n]))?;
        let before = habit.forward(cx, &init, &input)?;
        let after = habit.forward(cx, &init, &changed)?;
        let others: Vec<u32> = (0..m as u32).filter(|&r| r != i as u32).collect();
        let others = Tensor::new(others.as_slice(), &Device::Cpu)?;
        compare(
            "other rows",
            &after.index_select(&others, 1)?,
            &before.index_select(&others, 1)?,
            PROPERTY_TOLERANCE,
        )
        .map_err(|f| {
            f.context(format!(
                "changing input {i} changed the output of another input: inputs attend to the node's points only, never to each other"
            ))
        })
    });
    worker.property("each-batch-element-has-its-own-node", |rng| {
        let habit = RandomHabit::new(rng)?;
        let (init, input) = habit.batch(rng, 2..=3, 2..=5, 1..=5);
        let out = habit.forward(cx, &init, &input)?;
        for b in 0..init.dim(0)? {
            let alone = habit.forward(cx, &init.get(b)?, &input.get(b)?)?;
            compare("output", &out.get(b)?, &alone, PROPERTY_TOLERANCE).map_err(|f| {
                f.context(format!(
                    "batch element {b} gave another output when run unbatched, alone with its node"
                ))
            })?;
        }
        Ok(())
    });
    worker.property("a-model-can-hold-the-layer", |rng| {
        let habit = RandomHabit::new(rng)?;
        let (init, input) = habit.batch(rng, 1..=3, 1..=4, 1..=5);
        // The adapter runs a candle_nn::seq() that holds on_node(init).
        let expected = habit.forward(cx, &init, &input)?.tanh()?;
        compare(
            "output",
            &habit.on_node_in_a_model(cx, &init, &input)?.tanh()?,
            &expected,
            PROPERTY_TOLERANCE,
        )
        .map_err(|f| f.context("the Module from on_node(init) must compute forward(init, input)"))
    });
}

/// Random query (…, Lq, d) and key (…, Lk, d), 0 to 2 batch dimensions.
fn query_key(rng: &mut impl Rng) -> (Tensor, Tensor) {
    let qkv = properties::Qkv::random(rng);
    (qkv.q, qkv.k)
}

fn cosine_in_range(sim: &Tensor) -> CheckResult {
    let flat = sim.flatten_all()?;
    let low = flat.min(0)?.to_scalar::<f32>()?;
    let high = flat.max(0)?.to_scalar::<f32>()?;
    if low < -1.0 - 1e-5 || high > 1.0 + 1e-5 || low.is_nan() || high.is_nan() {
        return Err(Failure::new(format!(
            "cosine similarities must lie in [-1, 1]; found values from {low} to {high}"
        )));
    }
    Ok(())
}

/// The diagonal (…, L) of a (…, L, L) tensor.
fn diagonal(x: &Tensor) -> Result<Tensor, Failure> {
    let l = x.dim(D::Minus1)?;
    let eye = Tensor::eye(l, DType::F32, &Device::Cpu)?;
    Ok(x.broadcast_mul(&eye)?.sum(D::Minus1)?)
}

/// `x` with slice `index` of axis `axis` replaced by `with` (size 1 there).
fn replace(x: &Tensor, axis: usize, index: usize, with: &Tensor) -> Result<Tensor, Failure> {
    let len = x.dim(axis)?;
    let mut pieces = Vec::new();
    if index > 0 {
        pieces.push(x.narrow(axis, 0, index)?);
    }
    pieces.push(with.clone());
    if index + 1 < len {
        pieces.push(x.narrow(axis, index + 1, len - index - 1)?);
    }
    Ok(Tensor::cat(&pieces, axis)?)
}

/// An AttentionHabit with random sizes and weights, the weights kept so that
/// a check can compute what it must give. The student's layer is built
/// from them in the adapter at each call.
struct RandomHabit {
    params: HashMap<String, Tensor>,
    heads: usize,
    n: usize,
    k: usize,
    d: usize,
}

impl RandomHabit {
    fn new(rng: &mut impl Rng) -> Result<RandomHabit, Failure> {
        let heads = rng.random_range(1..=3);
        let (n, k, d) = (
            rng.random_range(1..=6),
            rng.random_range(1..=3),
            heads * rng.random_range(1..=4),
        );
        let flat = n * k;
        let mut specs: Vec<(&str, Vec<usize>)> = vec![
            ("embed.weight", vec![d, n]),
            ("embed.bias", vec![d]),
            ("attention.in_proj_bias", vec![3 * d]),
            ("attention.out_proj.weight", vec![d, d]),
            ("attention.out_proj.bias", vec![d]),
            ("out.weight", vec![n, d]),
            ("out.bias", vec![n]),
        ];
        if flat == d {
            specs.push(("attention.in_proj_weight", vec![3 * d, d]));
        } else {
            specs.push(("attention.q_proj_weight", vec![d, d]));
            specs.push(("attention.k_proj_weight", vec![d, flat]));
            specs.push(("attention.v_proj_weight", vec![d, flat]));
        }
        let mut params = HashMap::new();
        for (name, shape) in specs {
            let fan_in = *shape.last().expect("every shape has a dimension") as f64;
            let scale = if shape.len() == 2 {
                1.0 / fan_in.sqrt()
            } else {
                0.5
            };
            params.insert(name.to_string(), (randn(rng, &shape) * scale)?);
        }
        Ok(RandomHabit {
            params,
            heads,
            n,
            k,
            d,
        })
    }

    /// The student's `AttentionHabit::forward(init, input)`.
    fn forward(&self, cx: &Client, init: &Tensor, input: &Tensor) -> Result<Tensor, Failure> {
        let (n, k, heads, d) = (self.n, self.k, self.heads, self.d);
        ex::attention_habit(cx, &self.params, n, k, heads, d, init, input)
    }

    /// The student's `on_node(init)` in a `candle_nn::seq()`, run on `input`.
    fn on_node_in_a_model(
        &self,
        cx: &Client,
        init: &Tensor,
        input: &Tensor,
    ) -> Result<Tensor, Failure> {
        let (n, k, heads, d) = (self.n, self.k, self.heads, self.d);
        ex::attention_habit_on_node(cx, &self.params, n, k, heads, d, init, input)
    }

    /// A random batch: init (B, p, n, k), input (B, m, n), with B, p and
    /// m drawn from the given ranges.
    fn batch(
        &self,
        rng: &mut impl Rng,
        batch: RangeInclusive<usize>,
        points: RangeInclusive<usize>,
        inputs: RangeInclusive<usize>,
    ) -> (Tensor, Tensor) {
        let b = rng.random_range(batch);
        let p = rng.random_range(points);
        let m = rng.random_range(inputs);
        (
            randn(rng, &[b, p, self.n, self.k]),
            randn(rng, &[b, m, self.n]),
        )
    }

    /// `out(out_proj(v_proj(x)))` for flattened points x (rows, n·k),
    /// straight from the weights.
    fn projected_value(&self, x: &Tensor) -> Result<Tensor, Failure> {
        let d = self.d;
        let linear = |x: &Tensor, w: &Tensor, b: &Tensor| -> Result<Tensor, Failure> {
            Ok(x.matmul(&w.t()?)?.broadcast_add(b)?)
        };
        let w_v = match self.params.get("attention.v_proj_weight") {
            Some(w) => w.clone(),
            None => self.params["attention.in_proj_weight"].narrow(0, 2 * d, d)?,
        };
        let b_v = self.params["attention.in_proj_bias"].narrow(0, 2 * d, d)?;
        let v = linear(x, &w_v, &b_v)?;
        let o = linear(
            &v,
            &self.params["attention.out_proj.weight"],
            &self.params["attention.out_proj.bias"],
        )?;
        linear(&o, &self.params["out.weight"], &self.params["out.bias"])
    }
}

/// The student's functions, called in the adapter: the ops it declares.
#[path = "../../../adapters/07-attention-habit/src/ops.rs"]
mod ops;
use ops::call as ex;
