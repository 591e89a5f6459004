//! Exercise 05's ops, declared once: the judge's typed calls and this
//! adapter's dispatch both come from here (see `grader_kit::ops`).

use grader_kit::adapter::Call;
use grader_kit::ops::{Arg, Request, Tensor, Weights};
use grader_kit::Failure;

grader_kit::ops! {
    /// The student's `LayerNorm` (parameters `weight`, `bias`; `eps`
    /// 1e-5 when absent) on `x`.
    fn layer_norm(params: Weights, eps: Option<f64>, x: Tensor) -> (out: Tensor);
    /// The gradient that reaches `x` through the same `LayerNorm` when the
    /// output's gradient is `grad_out`; `None` when none does.
    fn layer_norm_grad(params: Weights, eps: Option<f64>, x: Tensor, grad_out: Tensor)
        -> (grad_x: Option<Tensor>);
    fn activation(activation: Activation, x: Tensor) -> (out: Tensor);
    fn decoder_layer_post_ln(params: Weights, config: DecoderConfig, x: Tensor) -> (out: Tensor);
    fn decoder_layer_pre_ln(params: Weights, config: DecoderConfig, x: Tensor) -> (out: Tensor);
    /// The student's `Decoder` of `num_layers` layers (parameters
    /// `layers.<i>.*`; none for 0 layers) on `x`.
    fn decoder(params: Option<Weights>, config: DecoderConfig, num_layers: usize, x: Tensor)
        -> (out: Tensor);
}

/// The feed-forward activation: the param `"relu"` or `"gelu"`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Activation {
    Relu,
    Gelu,
}

impl Arg for Activation {
    type Ref<'a> = Activation;
    fn put(value: Activation, name: &str, request: &mut Request) {
        let name_of = match value {
            Activation::Relu => "relu",
            Activation::Gelu => "gelu",
        };
        String::put(name_of, name, request);
    }
    fn take(call: &Call, name: &str) -> Result<Self, Failure> {
        match call.params.str(name)? {
            Some("relu") => Ok(Activation::Relu),
            Some("gelu") => Ok(Activation::Gelu),
            other => Err(Failure::fixture(format!("unknown activation {other:?}"))),
        }
    }
}

grader_kit::params! {
    /// `nn.TransformerEncoderLayer`'s arguments: the params `d_model`,
    /// `nhead`, `dim_feedforward`, `activation`, `layer_norm_eps` (1e-5 when
    /// absent) and `norm_first`, as the fixture cases name them.
    pub struct DecoderConfig {
        pub d_model: usize,
        pub nhead: usize,
        pub dim_feedforward: usize,
        pub activation: Activation,
        pub layer_norm_eps: f64 = 1e-5,
        pub norm_first: bool,
    }
}
