//! Exercise 07's adapter: each op (declared in `ops.rs`) → the student's
//! function. The judge (`grader/checks/07-attention-habit`) sends the
//! inputs, the layers' parameters and sizes, and judges the outputs.

#[cfg(not(feature = "solution"))]
use exercise as ex;
#[cfg(feature = "solution")]
use solution as ex;

use candle_nn::Module;
use grader_kit::ops::Weights;
use grader_kit::Failure;

mod ops;

fn main() {
    ops::serve(ops::Student {
        scaled_dot_product: |query, key| Ok(ex::scaled_dot_product(&query, &key)?),
        cosine_similarity: |query, key| Ok(ex::cosine_similarity(&query, &key)?),
        multihead_attention: |query, key, value, heads| {
            Ok(ex::multihead_attention(&query, &key, &value, heads)?)
        },
        multihead_attention_with_projections: |params, embed_dim, kdim, vdim, q, k, v, heads| {
            let projections = ex::Projections::new(params.var_builder(), embed_dim, kdim, vdim)?;
            Ok(ex::multihead_attention_with_projections(
                &q,
                &k,
                &v,
                heads,
                &projections,
            )?)
        },
        attention_habit: |params, parent, child, heads, dim, init, input| {
            let habit = habit(params, [parent, child, heads, dim])?;
            Ok(habit.forward(&init, &input)?)
        },
        // The layer bound to its node, held by a model as any layer.
        attention_habit_on_node: |params, parent, child, heads, dim, init, input| {
            let habit = habit(params, [parent, child, heads, dim])?;
            Ok(candle_nn::seq().add(habit.on_node(&init)).forward(&input)?)
        },
    })
}

/// The AttentionHabit layer of these parameters and sizes.
fn habit(
    params: Weights,
    [parent, child, heads, dim]: [usize; 4],
) -> Result<ex::AttentionHabit, Failure> {
    Ok(ex::AttentionHabit::new(
        params.var_builder(),
        parent,
        child,
        heads,
        dim,
    )?)
}
