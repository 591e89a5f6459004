//! Exercise 05's adapter: op name → the student's function. The judge
//! (`grader/checks/05-decoder-layer`) sends the inputs and judges the outputs.

#[cfg(not(feature = "solution"))]
use exercise as ex;
#[cfg(feature = "solution")]
use solution as ex;

use candle_core::{DType, Device, Module, Var, D};
use candle_nn::VarBuilder;
use ex::{Activation, Decoder, DecoderConfig, DecoderLayer, LayerNorm};
use grader_kit::adapter::{outputs, serve, unknown_op, Call};
use grader_kit::{Failure, Inputs};

fn main() {
    serve(|call| match call.op.as_str() {
        "layer_norm" => {
            let x = call.input("x")?;
            outputs([("out", layer_norm(call, x.dim(D::Minus1)?)?.forward(&x)?)])
        }
        // The gradient of x when the gradient of the output is `grad_out`
        // (absent when none reaches x).
        "layer_norm_grad" => {
            let x = Var::from_tensor(&call.input("x")?)?;
            let norm = layer_norm(call, x.dim(D::Minus1)?)?;
            let out = norm.forward(x.as_tensor())?;
            let grads = out.mul(&call.input("grad_out")?)?.sum_all()?.backward()?;
            Ok(grads
                .get(x.as_tensor())
                .map(|g| ("grad_x".to_string(), g.clone()))
                .into_iter()
                .collect())
        }
        "activation" => outputs([("out", activation(call)?.apply(&call.input("x")?)?)]),
        "decoder_layer_post_ln" | "decoder_layer_pre_ln" => {
            let layer = DecoderLayer::new(call.var_builder("params")?, &config(call)?)?;
            outputs([("out", layer.forward(&call.input("x")?)?)])
        }
        "decoder" => {
            let layers = call.params.usize("num_layers")?;
            // A stack of 0 layers has no parameters.
            let vb = if layers == 0 {
                VarBuilder::from_tensors(Default::default(), DType::F32, &Device::Cpu)
            } else {
                call.var_builder("params")?
            };
            let decoder = Decoder::new(vb, &config(call)?, layers)?;
            outputs([("out", decoder.forward(&call.input("x")?)?)])
        }
        _ => unknown_op(call),
    })
}

fn layer_norm(call: &Call, dim: usize) -> Result<LayerNorm, Failure> {
    let eps = call.params.f64("eps")?.unwrap_or(1e-5);
    Ok(LayerNorm::new(call.var_builder("params")?, dim, eps)?)
}

fn activation(call: &Call) -> Result<Activation, Failure> {
    match call.params.str("activation")? {
        Some("relu") => Ok(Activation::Relu),
        Some("gelu") => Ok(Activation::Gelu),
        other => Err(Failure::fixture(format!("unknown activation {other:?}"))),
    }
}

/// The call's `nn.TransformerEncoderLayer` arguments.
fn config(call: &Call) -> Result<DecoderConfig, Failure> {
    Ok(DecoderConfig {
        d_model: call.params.usize("d_model")?,
        nhead: call.params.usize("nhead")?,
        dim_feedforward: call.params.usize("dim_feedforward")?,
        activation: activation(call)?,
        layer_norm_eps: call.params.f64("layer_norm_eps")?.unwrap_or(1e-5),
        norm_first: call.params.bool("norm_first")?,
    })
}
