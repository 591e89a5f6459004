//! Exercise 06's adapter: each op (declared in `ops.rs`) → the student's
//! function. The judge (`grader/checks/06-toy-task`) sends the inputs (and
//! the seeds of the RNGs to draw from) and judges the outputs: it draws and
//! labels the held-out sequences, and computes accuracy and attention focus
//! itself.

#[cfg(not(feature = "solution"))]
use exercise as ex;
#[cfg(feature = "solution")]
use solution as ex;

use candle_core::DType;
use grader_kit::harness::{joined, spawn_caught};
use grader_kit::ops::Tensor;
use grader_kit::random::rng_for;
use grader_kit::Failure;
use ops::{Budget, Trained, TrainedModels};

mod ops;

fn main() {
    // Every tensor here is tiny (at most 256 × 200): candle's thread pool
    // costs more than it gives, about 30% more CPU time for the trainings.
    if std::env::var_os("RAYON_NUM_THREADS").is_none() {
        std::env::set_var("RAYON_NUM_THREADS", "1");
    }
    ops::serve(ops::Student {
        make_batch: |n, seed, stream| Ok(ex::make_batch(n, &mut rng_for(seed, &stream))?),
        forward: |params, x| {
            let model = ex::AttentionModel::new(params.var_builder())?;
            let x = x.to_dtype(DType::U32)?;
            let embedded = model.embed(&x)?;
            Ok((
                embedded.clone(),
                model.attention(&embedded)?,
                model.values(&embedded)?,
                model.logits(&x)?,
                model.forward(&x)?,
            ))
        },
        bce: |logits, targets| Ok(ex::bce_with_logits(&logits, &targets)?),
        train: train_all,
    })
}

/// Fresh models trained by the student's `train` with the judge's budget,
/// one per RNG stream, side by side (one thread each: the trainings are
/// independent and each is sequential), then each run on its own held-out
/// sequences `x.<i>`. If a training fails, the op fails with the first
/// failure (the judge then retrains one at a time).
fn train_all(budget: Budget, x: Vec<Tensor>) -> Result<TrainedModels, Failure> {
    let (budget, x) = (&budget, &x);
    let trained: Vec<Result<Trained, Failure>> = std::thread::scope(|scope| {
        let runs: Vec<_> = (budget.streams.iter().enumerate())
            .map(|(i, stream)| spawn_caught(scope, move || train(budget, stream, x, i)))
            .collect();
        runs.into_iter().map(joined).collect()
    });
    Ok(TrainedModels(
        trained.into_iter().collect::<Result<_, _>>()?,
    ))
}

/// Training `i` of a `train` call: `fresh_model` and `train` with the RNG
/// of `stream`, then predictions and attention on the input `x.<i>`.
fn train(budget: &Budget, stream: &str, x: &[Tensor], i: usize) -> Result<Trained, Failure> {
    let mut rng = rng_for(budget.seed, stream);
    let (model, varmap) = ex::fresh_model(&mut rng)?;
    let config = ex::TrainConfig {
        steps: budget.steps,
        batch_size: budget.batch_size,
        learning_rate: budget.learning_rate,
    };
    let trajectory = ex::train(&model, &varmap, &config, &mut rng, |_, _| {})?;
    let x = x
        .get(i)
        .ok_or_else(|| Failure::fixture(format!("op train needs an input \"x.{i}\"")))?
        .to_dtype(DType::U32)?;
    Ok(Trained {
        trajectory,
        probs: model.forward(&x)?,
        attention: model.attention(&model.embed(&x)?)?,
    })
}
