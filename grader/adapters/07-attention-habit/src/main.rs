//! Exercise 07's adapter: each op (declared in `ops.rs`) → the student's
//! function. The judge (`grader/checks/07-attention-habit`) sends the
//! inputs, the layers' parameters and sizes, and judges the outputs.

#[cfg(not(feature = "solution"))]
use exercise as ex;
#[cfg(feature = "solution")]
use solution as ex;

use candle_nn::Module;
use grader_kit::ops::{Tensor, Weights};
use grader_kit::Failure;

mod ops;

struct Student;

impl ops::Student for Student {
    fn scaled_dot_product(&self, query: Tensor, key: Tensor) -> Result<Tensor, Failure> {
        Ok(ex::scaled_dot_product(&query, &key)?)
    }

    fn cosine_similarity(&self, query: Tensor, key: Tensor) -> Result<Tensor, Failure> {
        Ok(ex::cosine_similarity(&query, &key)?)
    }

    fn multihead_attention(
        &self,
        query: Tensor,
        key: Tensor,
        value: Tensor,
        heads: usize,
    ) -> Result<Tensor, Failure> {
        Ok(ex::multihead_attention(&query, &key, &value, heads)?)
    }

    fn multihead_attention_with_projections(
        &self,
        params: Weights,
        embed_dim: usize,
        kdim: usize,
        vdim: usize,
        query: Tensor,
        key: Tensor,
        value: Tensor,
        heads: usize,
    ) -> Result<Tensor, Failure> {
        let projections = ex::Projections::new(params.var_builder(), embed_dim, kdim, vdim)?;
        let out =
            ex::multihead_attention_with_projections(&query, &key, &value, heads, &projections)?;
        Ok(out)
    }

    fn attention_habit(
        &self,
        params: Weights,
        parent_size: usize,
        child_size: usize,
        attention_heads: usize,
        attention_dim: usize,
        init: Tensor,
        input: Tensor,
    ) -> Result<Tensor, Failure> {
        let sizes = [parent_size, child_size, attention_heads, attention_dim];
        Ok(habit(params, sizes)?.forward(&init, &input)?)
    }

    // The layer bound to its node, held by a model as any layer.
    fn attention_habit_on_node(
        &self,
        params: Weights,
        parent_size: usize,
        child_size: usize,
        attention_heads: usize,
        attention_dim: usize,
        init: Tensor,
        input: Tensor,
    ) -> Result<Tensor, Failure> {
        let sizes = [parent_size, child_size, attention_heads, attention_dim];
        let model = candle_nn::seq().add(habit(params, sizes)?.on_node(&init));
        Ok(model.forward(&input)?)
    }
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

fn main() {
    ops::serve(Student)
}
