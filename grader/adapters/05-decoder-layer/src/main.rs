//! Exercise 05's adapter: each op (declared in `ops.rs`) → the student's
//! function. The judge (`grader/checks/05-decoder-layer`) sends the inputs
//! and judges the outputs.

#[cfg(not(feature = "solution"))]
use exercise as ex;
#[cfg(feature = "solution")]
use solution as ex;

use candle_core::{DType, Device, Module, Var, D};
use candle_nn::VarBuilder;
use ex::{Decoder, DecoderLayer, LayerNorm};
use grader_kit::ops::{Tensor, Weights};
use grader_kit::Failure;
use ops::{Activation, DecoderConfig};

mod ops;

fn main() {
    ops::serve(ops::Student {
        layer_norm: |params, eps, x| Ok(layer_norm(params, eps, x.dim(D::Minus1)?)?.forward(&x)?),
        layer_norm_grad: |params, eps, x, grad_out| {
            let x = Var::from_tensor(&x)?;
            let norm = layer_norm(params, eps, x.dim(D::Minus1)?)?;
            let out = norm.forward(x.as_tensor())?;
            let grads = out.mul(&grad_out)?.sum_all()?.backward()?;
            Ok(grads.get(x.as_tensor()).cloned())
        },
        activation: |activation, x| Ok(theirs(activation).apply(&x)?),
        // One computation: `config.norm_first` tells the two apart.
        decoder_layer_post_ln: decoder_layer,
        decoder_layer_pre_ln: decoder_layer,
        decoder: |params, config, num_layers, x| {
            // A stack of 0 layers has no parameters.
            let vb = match params {
                _ if num_layers == 0 => {
                    VarBuilder::from_tensors(Default::default(), DType::F32, &Device::Cpu)
                }
                Some(params) => params.var_builder(),
                None => {
                    return Err(Failure::fixture(
                        "op decoder has no inputs named params__…, the module's parameters",
                    ))
                }
            };
            let decoder = Decoder::new(vb, &config_of(config), num_layers)?;
            Ok(decoder.forward(&x)?)
        },
    })
}

fn decoder_layer(params: Weights, config: DecoderConfig, x: Tensor) -> Result<Tensor, Failure> {
    let layer = DecoderLayer::new(params.var_builder(), &config_of(config))?;
    Ok(layer.forward(&x)?)
}

fn layer_norm(params: Weights, eps: Option<f64>, dim: usize) -> Result<LayerNorm, Failure> {
    Ok(LayerNorm::new(
        params.var_builder(),
        dim,
        eps.unwrap_or(1e-5),
    )?)
}

fn theirs(activation: Activation) -> ex::Activation {
    match activation {
        Activation::Relu => ex::Activation::Relu,
        Activation::Gelu => ex::Activation::Gelu,
    }
}

/// The call's `nn.TransformerEncoderLayer` arguments, as the student's type.
fn config_of(config: DecoderConfig) -> ex::DecoderConfig {
    ex::DecoderConfig {
        d_model: config.d_model,
        nhead: config.nhead,
        dim_feedforward: config.dim_feedforward,
        activation: theirs(config.activation),
        layer_norm_eps: config.layer_norm_eps,
        norm_first: config.norm_first,
    }
}
