//! Exercise 07's adapter: op name → the student's function. The judge
//! (`grader/checks/07-attention-habit`) sends the inputs, the layers'
//! parameters and sizes, and judges the outputs.

#[cfg(not(feature = "solution"))]
use exercise as ex;
#[cfg(feature = "solution")]
use solution as ex;

use candle_nn::Module;
use grader_kit::adapter::{outputs, serve, unknown_op, Call};
use grader_kit::{Failure, Inputs};

fn main() {
    serve(|call| {
        let size = |name| call.params.usize(name);
        match call.op.as_str() {
            "scaled_dot_product" => outputs([(
                "weights",
                ex::scaled_dot_product(&call.input("query")?, &call.input("key")?)?,
            )]),
            "cosine_similarity" => outputs([(
                "sim",
                ex::cosine_similarity(&call.input("query")?, &call.input("key")?)?,
            )]),
            "multihead_attention" => outputs([(
                "out",
                ex::multihead_attention(
                    &call.input("query")?,
                    &call.input("key")?,
                    &call.input("value")?,
                    size("heads")?,
                )?,
            )]),
            "multihead_attention_with_projections" => {
                let projections = ex::Projections::new(
                    call.var_builder("params")?,
                    size("embed_dim")?,
                    size("kdim")?,
                    size("vdim")?,
                )?;
                outputs([(
                    "out",
                    ex::multihead_attention_with_projections(
                        &call.input("query")?,
                        &call.input("key")?,
                        &call.input("value")?,
                        size("heads")?,
                        &projections,
                    )?,
                )])
            }
            "attention_habit" => outputs([(
                "out",
                habit(call)?.forward(&call.input("init")?, &call.input("input")?)?,
            )]),
            // The layer bound to its node, held by a model as any layer.
            "attention_habit_on_node" => {
                let model = candle_nn::seq().add(habit(call)?.on_node(&call.input("init")?));
                outputs([("out", model.forward(&call.input("input")?)?)])
            }
            _ => unknown_op(call),
        }
    })
}

/// The AttentionHabit layer of the call's parameters and sizes.
fn habit(call: &Call) -> Result<ex::AttentionHabit, Failure> {
    Ok(ex::AttentionHabit::new(
        call.var_builder("params")?,
        call.params.usize("parent_size")?,
        call.params.usize("child_size")?,
        call.params.usize("attention_heads")?,
        call.params.usize("attention_dim")?,
    )?)
}
