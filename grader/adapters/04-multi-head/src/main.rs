//! Exercise 04's adapter: op name → the student's function. The judge
//! (`grader/checks/04-multi-head`) sends the inputs and judges the outputs.
//! A mask input of dtype u8 is a bool mask, any other an additive one.

#[cfg(not(feature = "solution"))]
use exercise as ex;
#[cfg(not(feature = "solution"))]
use exercise_head as head;
#[cfg(feature = "solution")]
use solution as ex;
#[cfg(feature = "solution")]
use solution_head as head;

use candle_core::DType;
use ex::{MhaMask, MultiheadAttention};
use grader_kit::adapter::{outputs, serve, unknown_op, Call, Outputs};
use grader_kit::{Failure, Inputs};

fn main() {
    serve(|call| match call.op.as_str() {
        "split_heads" => outputs([(
            "out",
            ex::split_heads(&call.input("x")?, call.params.usize("num_heads")?)?,
        )]),
        "combine_heads" => outputs([("out", ex::combine_heads(&call.input("x")?)?)]),
        "mha_self" | "mha_cross" | "mha_masked" | "mha_weights" => mha(call),
        // Exercise 03's op: the student's own head, for "one head equals exercise 03".
        "head_masked" => {
            let one_head = head::SelfAttentionHead::new(
                call.var_builder("params")?,
                call.params.usize("model_dim")?,
                Some(call.params.usize("qk_dim")?),
            )?;
            let mask = call.optional_input("mask")?.map(|m| match m.dtype() {
                DType::U8 => head::AttnMask::Bool(m),
                _ => head::AttnMask::Float(m),
            });
            outputs([("out", one_head.forward(&call.input("x")?, mask.as_ref())?)])
        }
        _ => unknown_op(call),
    })
}

/// `nn.MultiheadAttention(batch_first=True)`: outputs `out`, and `weights`
/// when forward returns some.
fn mha(call: &Call) -> Result<Outputs, Failure> {
    let dim =
        |name| -> Result<Option<usize>, Failure> { Ok(call.params.f64(name)?.map(|d| d as usize)) };
    let module = MultiheadAttention::new(
        call.var_builder("params")?,
        call.params.usize("embed_dim")?,
        call.params.usize("num_heads")?,
        dim("kdim")?,
        dim("vdim")?,
    )?;
    let mask = |name| -> Result<Option<MhaMask>, Failure> {
        Ok(call.optional_input(name)?.map(|m| match m.dtype() {
            DType::U8 => MhaMask::Bool(m),
            _ => MhaMask::Float(m),
        }))
    };
    let (out, weights) = module.forward(
        &call.input("query")?,
        &call.input("key")?,
        &call.input("value")?,
        mask("key_padding_mask")?.as_ref(),
        mask("attn_mask")?.as_ref(),
        call.params.bool("need_weights")?,
        call.params.bool("average_attn_weights")?,
    )?;
    let mut named = vec![("out".to_string(), out)];
    named.extend(weights.map(|w| ("weights".to_string(), w)));
    Ok(named)
}
