//! Exercise 05's judge: LayerNorm, the activations, one decoder layer
//! (post-LN and pre-LN) and stacks of layers against PyTorch's
//! `nn.TransformerEncoderLayer` / `nn.TransformerEncoder` run causally, then
//! properties on fresh random layers. The student's code runs in its adapter
//! (`grader/adapters/05-decoder-layer`); `ex` below calls it.

use std::collections::HashMap;

use candle_core::{Tensor, D};
use grader_kit::client::Client;
use grader_kit::compare::compare;
use grader_kit::ops::random_weights;
use grader_kit::properties::{self, PROPERTY_TOLERANCE};
use grader_kit::random::randn;
use grader_kit::{Failure, Fixtures, Worker};
use rand::Rng;

const EXERCISE: &str = "05-decoder-layer";

/// The judge's checks, run by the launcher as `grader judge 05-decoder-layer`.
pub fn checks(worker: &mut Worker) {
    let cx = &worker.client();
    if let Some(fixtures) = Fixtures::load_for(worker, EXERCISE) {
        fixtures.judge_ops(
            worker,
            &[
                ("layer norm", "layer_norm"),
                ("activation", "activation"),
                ("post-LN layer", "decoder_layer_post_ln"),
                ("pre-LN layer", "decoder_layer_pre_ln"),
                ("decoder stack", "decoder"),
            ],
        );
    }
    // No fixture pins the LayerNorm's gradient, but in trusted mode it is
    // compared with the reference's too, at the tolerance of a single f32 op.
    cx.pin("layer_norm_grad", Default::default());
    worker.property("causality", |rng| {
        let (layer, x) = random_layer(rng)?;
        properties::causality(rng, &x, |x| layer.forward(cx, x))
    });
    worker.property("batch-independence", |rng| {
        let (layer, x) = random_layer(rng)?;
        properties::batch_independence(&x, |x| layer.forward(cx, x))
    });
    worker.property("shapes-unchanged-by-depth", |rng| {
        let config = random_config(rng);
        let shape = [rng.random_range(1..=3), rng.random_range(1..=6), config.d_model];
        let x = randn(rng, &shape);
        for depth in 0..=3 {
            let params = random_weights(rng, &layer_specs(&config, depth), 0.3)?;
            let out = ex::decoder(cx, Some(&params), &config, depth, &x)?;
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
        let params = HashMap::from([
            ("weight".to_string(), ones.clone()),
            ("bias".to_string(), ones.zeros_like()?),
        ]);
        // A negligible eps, so that the variance comes out as 1 to f32 precision.
        let y = ex::layer_norm(cx, &params, Some(1e-12), &x)?;
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
        let x = randn(rng, &[2, 3, dim]);
        let specs = ["weight", "bias"].map(|n| (n.to_string(), vec![dim]));
        let params = random_weights(rng, &specs, 1.0)?;
        let probe = randn(rng, &[2, 3, dim]);
        // The gradient of sum(LayerNorm(x) · probe) with respect to x.
        let grad = ex::layer_norm_grad(cx, &params, Some(1e-5), &x, &probe)?.ok_or_else(|| {
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
    let params = random_weights(rng, &single_layer_specs(&config), 0.5)?;
    let shape = [
        rng.random_range(1..=3),
        rng.random_range(2..=8),
        config.d_model,
    ];
    let x = randn(rng, &shape);
    Ok((DecoderLayer { params, config }, x))
}

/// The student's `DecoderLayer`: its parameters stay here and go with
/// each call.
struct DecoderLayer {
    params: HashMap<String, Tensor>,
    config: DecoderConfig,
}

impl DecoderLayer {
    /// (B, L, d_model) → (B, L, d_model), by the fixture op of the same
    /// computation (so that trusted mode compares it with the reference).
    fn forward(&self, cx: &Client, x: &Tensor) -> Result<Tensor, Failure> {
        if self.config.norm_first {
            ex::decoder_layer_pre_ln(cx, &self.params, &self.config, x)
        } else {
            ex::decoder_layer_post_ln(cx, &self.params, &self.config, x)
        }
    }
}

/// The student's code, called in the adapter: the ops it declares.
#[path = "../../../adapters/05-decoder-layer/src/ops.rs"]
mod ops;
use ops::{call as ex, Activation, DecoderConfig};
