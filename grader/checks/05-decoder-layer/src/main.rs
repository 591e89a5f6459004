//! Exercise 05's checks: LayerNorm, the activations, one decoder layer
//! (post-LN and pre-LN) and stacks of layers against PyTorch's
//! `nn.TransformerEncoderLayer` / `nn.TransformerEncoder` run causally, then
//! properties on fresh random layers.

#[cfg(not(feature = "solution"))]
use exercise as ex;
#[cfg(feature = "solution")]
use solution as ex;

use candle_core::{Module, Tensor, D};
use ex::{Activation, Decoder, DecoderConfig, DecoderLayer, LayerNorm};
use grader_kit::compare::compare;
use grader_kit::properties::{self, random_var_builder, PROPERTY_TOLERANCE};
use grader_kit::random::randn;
use grader_kit::{Case, CheckResult, Failure, Fixtures, Worker};
use rand::Rng;

const EXERCISE: &str = "05-decoder-layer";

fn main() {
    grader_kit::run(checks);
}

fn checks(worker: &mut Worker) {
    if let Some(fixtures) = Fixtures::load_for(worker, EXERCISE) {
        fixtures.unknown_ops(
            worker,
            &[
                "layer_norm",
                "activation",
                "decoder_layer_post_ln",
                "decoder_layer_pre_ln",
                "decoder",
            ],
        );
        fixtures.run_op(worker, "layer norm", "layer_norm", |case| {
            let x = case.input("x")?;
            let eps = case.param_f64("eps")?.unwrap_or(1e-5);
            let norm = LayerNorm::new(case.var_builder("params")?, x.dim(D::Minus1)?, eps)?;
            case.check("out", &norm.forward(&x)?)
        });
        fixtures.run_op(worker, "activation", "activation", |case| {
            let activation = activation(case)?;
            case.check("out", &activation.apply(&case.input("x")?)?)
        });
        fixtures.run_op(worker, "post-LN layer", "decoder_layer_post_ln", run_layer);
        fixtures.run_op(worker, "pre-LN layer", "decoder_layer_pre_ln", run_layer);
        fixtures.run_op(worker, "decoder stack", "decoder", |case| {
            let decoder = Decoder::new(
                case.var_builder("params")?,
                &config(case)?,
                case.param_usize("num_layers")?,
            )?;
            case.check("out", &decoder.forward(&case.input("x")?)?)
        });
    }
    worker.property("causality", |rng| {
        let (layer, x) = random_layer(rng)?;
        properties::causality(rng, &x, |x| Ok(layer.forward(x)?))
    });
    worker.property("batch-independence", |rng| {
        let (layer, x) = random_layer(rng)?;
        properties::batch_independence(&x, |x| Ok(layer.forward(x)?))
    });
    worker.property("shapes-unchanged-by-depth", |rng| {
        let config = random_config(rng);
        let shape = [rng.random_range(1..=3), rng.random_range(1..=6), config.d_model];
        let x = randn(rng, &shape);
        for depth in 0..=3 {
            let vb = random_var_builder(rng, &layer_specs(&config, depth), 0.3)?;
            let out = Decoder::new(vb, &config, depth)?.forward(&x)?;
            if out.dims() != x.dims() {
                return Err(Failure::new(format!(
                    "a stack of {depth} layers turned an input of shape {:?} into {:?}; every layer must keep (B, L, d_model) so that layers stack",
                    x.dims(),
                    out.dims()
                )));
            }
        }
        Ok(())
    });
    worker.property("layer-norm-normalizes", |rng| {
        let dim = rng.random_range(4..=16);
        let x = ((randn(rng, &[3, 5, dim]) * 4.0)? + 3.0)?;
        let ones = Tensor::ones(dim, candle_core::DType::F32, &candle_core::Device::Cpu)?;
        let tensors = [("weight", ones.clone()), ("bias", ones.zeros_like()?)]
            .map(|(n, t)| (n.to_string(), t))
            .into_iter()
            .collect();
        let vb = candle_nn::VarBuilder::from_tensors(
            tensors,
            candle_core::DType::F32,
            &candle_core::Device::Cpu,
        );
        // A negligible eps, so that the variance comes out as 1 to f32 precision.
        let y = LayerNorm::new(vb, dim, 1e-12)?.forward(&x)?;
        let mean = y.mean_keepdim(D::Minus1)?;
        compare("row means", &mean, &mean.zeros_like()?, PROPERTY_TOLERANCE)
            .map_err(|f| f.context("with weight 1 and bias 0, every row must have mean 0"))?;
        let var = y.sqr()?.mean_keepdim(D::Minus1)?;
        compare("row variances", &var, &var.ones_like()?, PROPERTY_TOLERANCE).map_err(|f| {
            f.context("with weight 1 and bias 0, every row must have (biased) variance 1")
        })
    });
    worker.property("layer-norm-passes-gradients", |rng| {
        let dim = rng.random_range(2..=8);
        let x = candle_core::Var::from_tensor(&randn(rng, &[2, 3, dim]))?;
        let specs = ["weight", "bias"].map(|n| (n.to_string(), vec![dim]));
        let norm = LayerNorm::new(random_var_builder(rng, &specs, 1.0)?, dim, 1e-5)?;
        let probe = randn(rng, &[2, 3, dim]);
        let loss = norm.forward(x.as_tensor())?.mul(&probe)?.sum_all()?;
        let grads = loss.backward()?;
        let grad = grads.get(x.as_tensor()).ok_or_else(|| {
            Failure::new(
                "no gradient reaches the LayerNorm's input: build it from basic tensor operations (candle_nn's fused layer norm passes none), so that exercise 06 can train through it",
            )
        })?;
        let size = grad.abs()?.sum_all()?.to_scalar::<f32>()?;
        if !size.is_finite() || size == 0.0 {
            return Err(Failure::new(format!(
                "the gradient reaching the LayerNorm's input sums to {size} in absolute value; it should be finite and non-zero"
            )));
        }
        Ok(())
    });
}

/// One decoder-layer case.
fn run_layer(case: &Case) -> CheckResult {
    let layer = DecoderLayer::new(case.var_builder("params")?, &config(case)?)?;
    case.check("out", &layer.forward(&case.input("x")?)?)
}

fn activation(case: &Case) -> Result<Activation, Failure> {
    match case.param_str("activation")? {
        Some("relu") => Ok(Activation::Relu),
        Some("gelu") => Ok(Activation::Gelu),
        other => Err(Failure::fixture(format!(
            "case {}: unknown activation {other:?}",
            case.id()
        ))),
    }
}

/// The case's `nn.TransformerEncoderLayer` arguments.
fn config(case: &Case) -> Result<DecoderConfig, Failure> {
    Ok(DecoderConfig {
        d_model: case.param_usize("d_model")?,
        nhead: case.param_usize("nhead")?,
        dim_feedforward: case.param_usize("dim_feedforward")?,
        activation: activation(case)?,
        layer_norm_eps: case.param_f64("layer_norm_eps")?.unwrap_or(1e-5),
        norm_first: case.param_bool("norm_first")?,
    })
}

fn random_config(rng: &mut impl Rng) -> DecoderConfig {
    let nhead = rng.random_range(1..=3);
    // At least 4 features: a LayerNorm of 1 or 2 features is (nearly) constant.
    let head_dim = rng.random_range(2..=4).max(4usize.div_ceil(nhead));
    DecoderConfig {
        d_model: nhead * head_dim,
        nhead,
        dim_feedforward: rng.random_range(1..=12),
        activation: if rng.random_bool(0.5) {
            Activation::Relu
        } else {
            Activation::Gelu
        },
        layer_norm_eps: 1e-5,
        norm_first: rng.random_bool(0.5),
    }
}

/// The parameter names and shapes of a stack of `layers` layers, as
/// `nn.TransformerEncoder` names them.
fn layer_specs(config: &DecoderConfig, layers: usize) -> Vec<(String, Vec<usize>)> {
    (0..layers)
        .flat_map(|i| {
            single_layer_specs(config)
                .into_iter()
                .map(move |(name, shape)| (format!("layers.{i}.{name}"), shape))
        })
        .collect()
}

/// The parameter names and shapes of one `nn.TransformerEncoderLayer`.
fn single_layer_specs(config: &DecoderConfig) -> Vec<(String, Vec<usize>)> {
    let (d, ff) = (config.d_model, config.dim_feedforward);
    [
        ("self_attn.in_proj_weight", vec![3 * d, d]),
        ("self_attn.in_proj_bias", vec![3 * d]),
        ("self_attn.out_proj.weight", vec![d, d]),
        ("self_attn.out_proj.bias", vec![d]),
        ("linear1.weight", vec![ff, d]),
        ("linear1.bias", vec![ff]),
        ("linear2.weight", vec![d, ff]),
        ("linear2.bias", vec![d]),
        ("norm1.weight", vec![d]),
        ("norm1.bias", vec![d]),
        ("norm2.weight", vec![d]),
        ("norm2.bias", vec![d]),
    ]
    .map(|(n, s)| (n.to_string(), s))
    .to_vec()
}

/// A layer with random weights and a random input (B, L ≥ 2, d_model).
fn random_layer(rng: &mut impl Rng) -> Result<(DecoderLayer, Tensor), Failure> {
    let config = random_config(rng);
    let vb = random_var_builder(rng, &single_layer_specs(&config), 0.5)?;
    let layer = DecoderLayer::new(vb, &config)?;
    let shape = [
        rng.random_range(1..=3),
        rng.random_range(2..=8),
        config.d_model,
    ];
    let x = randn(rng, &shape);
    Ok((layer, x))
}
