//! Exercise 06's adapter: op name → the student's function. The judge
//! (`grader/checks/06-toy-task`) sends the inputs (and the seeds of the
//! RNGs to draw from) and judges the outputs: it draws and labels the
//! held-out sequences, and computes accuracy and attention focus itself.

#[cfg(not(feature = "solution"))]
use exercise as ex;
#[cfg(feature = "solution")]
use solution as ex;

use candle_core::{Device, Tensor};
use grader_kit::adapter::{outputs, serve, unknown_op, Call, Outputs};
use grader_kit::harness::{joined, spawn_caught};
use grader_kit::random::rng_for;
use grader_kit::{Failure, Inputs};

fn main() {
    // Every tensor here is tiny (at most 256 × 200): candle's thread pool
    // costs more than it gives, about 30% more CPU time for the trainings.
    if std::env::var_os("RAYON_NUM_THREADS").is_none() {
        std::env::set_var("RAYON_NUM_THREADS", "1");
    }
    serve(|call| match call.op.as_str() {
        "make_batch" => {
            let (x, y) = ex::make_batch(call.params.usize("n")?, &mut rng(call)?)?;
            outputs([("x", x), ("y", y)])
        }
        "forward" => {
            let model = ex::AttentionModel::new(call.var_builder("params")?)?;
            let x = call.ids("x")?;
            let embedded = model.embed(&x)?;
            outputs([
                ("attention", model.attention(&embedded)?),
                ("values", model.values(&embedded)?),
                ("embedded", embedded),
                ("logits", model.logits(&x)?),
                ("probs", model.forward(&x)?),
            ])
        }
        "bce" => outputs([(
            "loss",
            ex::bce_with_logits(&call.input("logits")?, &call.input("targets")?)?,
        )]),
        // Fresh models trained by the student's `train` with the judge's
        // budget, one per RNG stream, side by side (one thread each: the
        // trainings are independent and each is sequential), then each run
        // on its own held-out sequences `x.<i>`. Outputs `<i>.losses`,
        // `<i>.probs`, `<i>.attention`; if a training fails, the op fails
        // with the first failure (the judge then retrains one at a time).
        "train" => {
            let streams: Vec<String> = call
                .params
                .value("streams")?
                .ok_or_else(|| Failure::fixture("train needs the param \"streams\""))?;
            let trained: Vec<Result<Outputs, Failure>> = std::thread::scope(|scope| {
                let runs: Vec<_> = (streams.iter().enumerate())
                    .map(|(i, stream)| spawn_caught(scope, move || train(call, stream, i)))
                    .collect();
                runs.into_iter().map(joined).collect()
            });
            let mut all = Outputs::new();
            for outputs in trained {
                all.extend(outputs?);
            }
            Ok(all)
        }
        _ => unknown_op(call),
    })
}

/// The RNG the judge names: params `seed` and `stream`.
fn rng(call: &Call) -> Result<rand::rngs::StdRng, Failure> {
    let stream = call.params.str("stream")?.unwrap_or_default();
    Ok(rng_for(call.params.usize("seed")? as u64, stream))
}

/// Training `i` of a `train` call: `fresh_model` and `train` with the RNG
/// of `stream`, then predictions and attention on the input `x.<i>`.
fn train(call: &Call, stream: &str, i: usize) -> Result<Outputs, Failure> {
    let mut rng = rng_for(call.params.usize("seed")? as u64, stream);
    let (model, varmap) = ex::fresh_model(&mut rng)?;
    let config = ex::TrainConfig {
        steps: call.params.usize("steps")?,
        batch_size: call.params.usize("batch_size")?,
        learning_rate: call.params.f64("learning_rate")?.unwrap_or_default(),
    };
    let losses = ex::train(&model, &varmap, &config, &mut rng, |_, _| {})?;
    let x = call.ids(&format!("x.{i}"))?;
    Ok(vec![
        (
            format!("{i}.losses"),
            Tensor::new(losses.as_slice(), &Device::Cpu)?,
        ),
        (format!("{i}.probs"), model.forward(&x)?),
        (
            format!("{i}.attention"),
            model.attention(&model.embed(&x)?)?,
        ),
    ])
}
