//! Exercise 01's checks: every fixture case of `softmax`, `attention_weights`
//! and `sdpa`, then properties on fresh random inputs.

#[cfg(not(feature = "solution"))]
use exercise as ex;
#[cfg(feature = "solution")]
use solution as ex;

use grader_kit::properties::{self, Qkv};
use grader_kit::random::randn;
use grader_kit::{Case, Failure, Fixtures, Worker};

const EXERCISE: &str = "01-attention";

fn main() {
    grader_kit::run(checks);
}

fn checks(worker: &mut Worker) {
    if let Some(fixtures) = Fixtures::load_for(worker, EXERCISE) {
        fixtures.unknown_ops(worker, &["softmax", "attention_weights", "sdpa"]);
        fixtures.run_op(worker, "softmax", "softmax", |case| {
            case.check("out", &ex::softmax(&case.input("x")?)?)
        });
        fixtures.run_op(worker, "attention weights", "attention_weights", |case| {
            let (q, k) = (case.input("q")?, case.input("k")?);
            case.check("weights", &ex::attention_weights(&q, &k, scale(case)?)?)
        });
        fixtures.run_op(worker, "attention", "sdpa", |case| {
            let (q, k, v) = (case.input("q")?, case.input("k")?, case.input("v")?);
            case.check(
                "out",
                &ex::scaled_dot_product_attention(&q, &k, &v, scale(case)?)?,
            )
        });
    }
    worker.property("softmax-rows-sum-to-one", |rng| {
        let x = (randn(rng, &[3, 4, 9]) * 30.0)?;
        properties::rows_are_distributions(&ex::softmax(&x)?)
    });
    worker.property("weights-are-distributions", |rng| {
        let qkv = Qkv::random(rng);
        properties::rows_are_distributions(&ex::attention_weights(&qkv.q, &qkv.k, None)?)
    });
    worker.property("key-permutation-invariance", |rng| {
        let qkv = Qkv::random(rng);
        properties::key_permutation_invariance(rng, &qkv, |q, k, v| {
            Ok(ex::scaled_dot_product_attention(q, k, v, None)?)
        })
    });
    worker.property("output-in-convex-hull-of-values", |rng| {
        let qkv = Qkv::random(rng);
        let out = ex::scaled_dot_product_attention(&qkv.q, &qkv.k, &qkv.v, None)?;
        properties::inside_convex_hull(&out, &qkv.v)
    });
}

/// The case's `scale` parameter (null means the default 1/sqrt(E)).
fn scale(case: &Case) -> Result<Option<f64>, Failure> {
    case.param_f64("scale")
}
