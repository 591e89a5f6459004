//! Exercise 01's judge: every fixture case of `softmax`, `attention_weights`
//! and `sdpa`, then properties on fresh random inputs. The student's code
//! runs in its adapter (`grader/adapters/01-attention`); `ex` below calls it.

use grader_kit::properties::{self, Qkv};
use grader_kit::random::randn;
use grader_kit::{Fixtures, Worker};

const EXERCISE: &str = "01-attention";

/// The judge's checks, run by the launcher as `grader judge 01-attention`.
pub fn checks(worker: &mut Worker) {
    let cx = &worker.client();
    if let Some(fixtures) = Fixtures::load_for(worker, EXERCISE) {
        fixtures.judge_ops(
            worker,
            &[
                ("softmax", "softmax"),
                ("attention weights", "attention_weights"),
                ("attention", "sdpa"),
            ],
        );
    }
    worker.property("softmax-rows-sum-to-one", |rng| {
        let x = (randn(rng, &[3, 4, 9]) * 30.0)?;
        properties::rows_are_distributions(&ex::softmax(cx, &x)?)
    });
    worker.property("weights-are-distributions", |rng| {
        let qkv = Qkv::random(rng);
        properties::rows_are_distributions(&ex::attention_weights(cx, &qkv.q, &qkv.k, None)?)
    });
    worker.property("key-permutation-invariance", |rng| {
        let qkv = Qkv::random(rng);
        properties::key_permutation_invariance(rng, &qkv, |q, k, v| {
            ex::scaled_dot_product_attention(cx, q, k, v, None)
        })
    });
    worker.property("output-in-convex-hull-of-values", |rng| {
        let qkv = Qkv::random(rng);
        let out = ex::scaled_dot_product_attention(cx, &qkv.q, &qkv.k, &qkv.v, None)?;
        properties::inside_convex_hull(&out, &qkv.v)
    });
}

/// The student's functions, called in the adapter: the ops it declares.
#[path = "../../../adapters/01-attention/src/ops.rs"]
mod ops;
use ops::call as ex;
